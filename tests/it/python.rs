//! Plugins written in Python (componentize-py, the Python kit) in the same
//! sandbox: the port of saas-health equals the Rust plugin, and a hostile Python
//! plugin is contained as a Rust one is.

use headway_core::ErrorKind;
use headway_host::LoadOptions;
use headway_tests::python_plugin;

use crate::Probed;
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
    let probed = Probed::run(
        &plugin,
        &[
            "fine", "loop", "alloc", "raise", "file", "socket", "env", "clock", "random", "last",
        ],
    );
    let reason = |id: &str| probed.reason(id);
    assert_eq!(probed.error("loop").kind, ErrorKind::OutOfFuel);
    assert_eq!(probed.error("alloc").kind, ErrorKind::MemoryLimit);
    let raised = probed.error("raise");
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
}
