//! What the host refuses at load time, with an error that names the problem.

use headway_host::{LoadError, LoadOptions};
use headway_tests::{SAAS_HEALTH, runtime};

fn load_bytes(bytes: &[u8]) -> Result<headway_host::Plugin, LoadError> {
    runtime().load(bytes, "test.wasm", &LoadOptions::default())
}

#[test]
fn empty_file() {
    assert!(matches!(load_bytes(b""), Err(LoadError::Empty { .. })));
}

#[test]
fn random_bytes() {
    let err = load_bytes(b"PK\x03\x04 definitely a zip").err().unwrap();
    assert!(matches!(err, LoadError::NotWasm { .. }), "{err}");
    assert!(
        err.to_string().starts_with("test.wasm: not WebAssembly"),
        "{err}"
    );
}

#[test]
fn core_module_instead_of_component() {
    // The smallest valid core module: magic + version 1.
    let err = load_bytes(b"\0asm\x01\0\0\0").err().unwrap();
    assert!(matches!(err, LoadError::CoreModule { .. }), "{err}");
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
}

#[test]
fn truncated_component() {
    let bytes = std::fs::read(SAAS_HEALTH).unwrap();
    for len in [6, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = load_bytes(&bytes[..len]).err().unwrap();
        assert!(matches!(err, LoadError::Invalid { .. }), "{len}: {err}");
    }
}

#[test]
fn missing_file_is_named() {
    let err = runtime()
        .load_file(
            std::path::Path::new("/nonexistent/plugin.wasm"),
            &LoadOptions::default(),
        )
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::Unreadable { .. }));
    assert!(
        err.to_string().contains("/nonexistent/plugin.wasm"),
        "{err}"
    );
}
