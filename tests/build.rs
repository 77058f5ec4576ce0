//! Builds the plugins in `plugins/` and `tests/plugins/` for wasm32-wasip2 before the tests compile, so
//! tests always run the current source, never a stale binary. Each folder is its
//! own cargo workspace with their own target dir, so this nested build never waits
//! on the outer one's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (workspace, [(constant, file stem)]): the example plugins and the test corpus.
const WORKSPACES: [(&str, &[(&str, &str)]); 2] = [
    (
        "plugins",
        &[
            ("SAAS_HEALTH", "saas_health"),
            ("LOGISTICS_OTIF", "logistics_otif"),
            ("SAAS_SEATS", "saas_seats"),
            ("FIVE_FACTORS", "five_factors"),
        ],
    ),
    (
        "tests/plugins",
        &[
            ("HOSTILE", "hostile"),
            ("IMPORTS_FS", "imports_fs"),
            ("WRONG_WORLD", "wrong_world"),
            ("NEWER_CONTRACT", "newer_contract"),
            ("BAD_OUTPUT", "bad_output"),
            ("CONTRACT_V0_1_0", "contract_v0_1_0"),
            ("USES_CLOCK", "uses_clock"),
        ],
    ),
];

fn main() {
    let tests = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = tests
        .parent()
        .expect("tests/ sits in the repo root")
        .to_owned();
    for watched in ["plugins", "tests/plugins", "crates/headway-pdk", "wit"] {
        watch(&root.join(watched));
    }
    ensure_wasm_target();
    for (workspace, plugins) in WORKSPACES {
        let dir = root.join(workspace);
        build_workspace(&dir.join("Cargo.toml"));
        let out = dir.join("target/wasm32-wasip2/release");
        for (constant, file) in plugins {
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
}

/// Re-run when any source under `dir` changes; build output (`target/`) is skipped
/// so that building the plugins does not itself trigger a rebuild.
fn watch(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!("cargo:rerun-if-changed={}", dir.display());
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            watch(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// `cargo test` on a fresh machine: add the wasm target if rustup manages the
/// toolchain (a no-op when it is there; failures surface in the build below).
fn ensure_wasm_target() {
    let _ = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .output();
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
