//! The clock and randomness are refused unless the tenant grants them.

use std::time::{SystemTime, UNIX_EPOCH};

use headway_host::{LoadError, Plugin, read_plugin};
use headway_tests::{USES_CLOCK, runtime};

use crate::accounts;

/// Loads the clock-reading plugin for a tenant whose tenant.toml ends with `extra`.
fn load_with(extra: &str) -> Result<Plugin, LoadError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tenant.toml"),
        format!("name = \"t\"\nplugin = \"{USES_CLOCK}\"\n{extra}"),
    )
    .unwrap();
    let tenant = headway_host::load_tenant_config(dir.path()).unwrap();
    runtime().load_tenant(&tenant, &read_plugin(&tenant.plugin).unwrap())
}

#[test]
fn clock_and_randomness_need_a_grant() {
    let Err(LoadError::ForbiddenImport { imports, .. }) = load_with("") else {
        panic!("loads without a grant")
    };
    assert_eq!(
        imports,
        [
            "wasi:clocks/monotonic-clock@0.2.6 (grant with `[capabilities] clock = true`)",
            "wasi:clocks/wall-clock@0.2.6 (grant with `[capabilities] clock = true`)",
            "wasi:random/insecure-seed@0.2.6 (grant with `[capabilities] random = true`)",
        ]
    );
    let Err(LoadError::ForbiddenImport { imports, .. }) =
        load_with("[capabilities]\nclock = true\n")
    else {
        panic!("loads with the clock only")
    };
    assert_eq!(
        imports,
        ["wasi:random/insecure-seed@0.2.6 (grant with `[capabilities] random = true`)"]
    );

    let plugin = load_with("[capabilities]\nclock = true\nrandom = true\n").expect("granted");
    let report = plugin.assess(
        &accounts(
            r#"{"id":"a","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01"}"#,
        ),
        1,
    );
    let factor = &report.results[0].as_ref().unwrap().factors[0];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - factor.value).abs() < 60.0,
        "the plugin read the real clock: {}",
        factor.value
    );
    assert_eq!(factor.reason, "1 keys", "the HashMap was seeded and works");
}
