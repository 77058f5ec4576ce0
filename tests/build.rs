//! Builds the plugins in `plugins/` for wasm32-wasip2 before the tests compile, so
//! tests always run the current source, never a stale binary. The plugins are their
//! own cargo workspace with their own target dir, so this nested build never waits
//! on the outer one's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

const PLUGINS: [(&str, &str); 2] = [
    ("SAAS_HEALTH", "saas_health"),
    ("LOGISTICS_OTIF", "logistics_otif"),
];

fn main() {
    let tests = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = tests
        .parent()
        .expect("tests/ sits in the repo root")
        .to_owned();
    let plugins = root.join("plugins");
    for watched in [
        "plugins/Cargo.toml",
        "plugins/Cargo.lock",
        "plugins/saas-health",
        "plugins/logistics-otif",
        "crates/headway-pdk",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    build_workspace(&plugins.join("Cargo.toml"));
    let out = plugins.join("target/wasm32-wasip2/release");
    for (constant, file) in PLUGINS {
        let path = out.join(format!("{file}.wasm"));
        assert!(
            path.exists(),
            "plugin build did not produce {}",
            path.display()
        );
        println!(
            "cargo:rustc-env=HEADWAY_PLUGIN_{constant}={}",
            path.display()
        );
    }
}

fn build_workspace(manifest: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
    ])
    .arg(manifest);
    // The outer build's settings are for the host, not for wasm guests.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("cannot run cargo to build the plugins");
    assert!(
        status.success(),
        "building the plugins failed ({status}); is the wasm32-wasip2 target installed? (`rustup target add wasm32-wasip2`)"
    );
}
