//! Plugins written in Python (componentize-py, the Python kit) in the same
//! sandbox: the port of saas-health equals the Rust plugin, and a hostile Python
//! plugin is contained as a Rust one is.

use headway_core::ErrorKind;
use headway_host::LoadOptions;
use headway_tests::python_plugin;

use crate::ports::{assert_equals_saas_health, load};

#[test]
fn saas_health_in_python_equals_the_rust_plugin() {
    let Some(py) = python_plugin("plugins/saas-health-py") else {
        return;
    };
    assert_equals_saas_health(&py);
}

#[test]
fn a_hostile_python_plugin_is_contained_and_deterministic() {
    let Some(py) = python_plugin("tests/plugins-py/hostile") else {
        return;
    };
    let plugin = load(&py, &LoadOptions::default());
    let ids = [
        "fine", "loop", "alloc", "raise", "file", "socket", "env", "clock", "random", "last",
    ];
    let batch = crate::probes(&ids);
    let report = plugin.assess(&batch, 1);
    let outcome = |id: &str| &report.results[ids.iter().position(|i| *i == id).unwrap()];
    let reason = |id: &str| {
        outcome(id)
            .as_ref()
            .unwrap_or_else(|e| panic!("{id}: {e:?}"))
            .factors[0]
            .reason
            .clone()
    };
    let kind = |id: &str| outcome(id).as_ref().expect_err(id).kind;
    assert_eq!(kind("loop"), ErrorKind::OutOfFuel);
    assert_eq!(kind("alloc"), ErrorKind::MemoryLimit);
    let raised = outcome("raise").as_ref().expect_err("raise");
    assert_eq!(raised.code.as_deref(), Some("rule-error"));
    assert!(
        raised.message.contains("this account is cursed"),
        "{}",
        raised.message
    );
    for id in ["fine", "last"] {
        assert_eq!(reason(id), "ok");
    }
    assert!(reason("file").starts_with("no file:"), "{}", reason("file"));
    assert!(
        reason("socket").starts_with("no socket:"),
        "{}",
        reason("socket")
    );
    assert_eq!(reason("env"), "env []");
    // The clock stands at 2026-01-01T00:00:00Z.
    assert_eq!(reason("clock"), "time 1767225600.0");
    // Same input, same output, same instructions.
    let again = plugin.assess(&batch, 1);
    assert_eq!(again.results, report.results);
    assert_eq!(again.fuel_used, report.fuel_used);
}
