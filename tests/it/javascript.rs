//! Plugins written in JavaScript (componentize-js) in the same sandbox: the
//! SpiderMonkey runtime loads sealed with no grant (its files, sockets, http,
//! clocks and randomness have nothing behind them), and a hostile plugin is
//! contained as a Rust one is, with the same answer on every run; the port of
//! saas-health, written with the JavaScript kit, equals the Rust plugin.

use headway_core::ErrorKind;
use headway_host::LoadOptions;
use headway_tests::javascript_plugin;

use crate::Probed;
use crate::ports::{assert_equals_saas_health, load};

#[test]
fn saas_health_in_javascript_equals_the_rust_plugin() {
    let Some(js) = javascript_plugin("plugins/saas-health-js") else {
        return;
    };
    assert_equals_saas_health(&js);
}

#[test]
fn a_hostile_javascript_plugin_is_contained_and_deterministic() {
    let Some(js) = javascript_plugin("tests/plugins-js/hostile") else {
        return;
    };
    let plugin = load(&js, &LoadOptions::default());
    assert_eq!(plugin.info().name, "hostile-js");
    // A second run gives the same answers (the random number included).
    let probed = Probed::run(
        &plugin,
        &[
            "fine", "loop", "alloc", "throw", "clock", "random", "env", "last",
        ],
    );
    let reason = |id: &str| probed.reason(id);
    assert_eq!(probed.error("loop").kind, ErrorKind::OutOfFuel);
    // Measured: SpiderMonkey spends the instruction budget (7M for one account)
    // on allocating before the 64 MiB cap is reached; either way only that
    // account fails.
    let hoarded = probed.error("alloc").kind;
    assert!(
        matches!(hoarded, ErrorKind::OutOfFuel | ErrorKind::MemoryLimit),
        "{hoarded:?}"
    );
    let thrown = probed.error("throw");
    assert_eq!(thrown.code.as_deref(), Some("rule-error"));
    assert!(
        thrown.message.contains("this account is cursed"),
        "{}",
        thrown.message
    );
    for id in ["fine", "last"] {
        assert_eq!(reason(id), "ok");
    }
    // The clock stands at 2026-01-01T00:00:00Z; there is no process environment.
    assert_eq!(reason("clock"), "time 1767225600000");
    assert_eq!(reason("env"), "env none");
    assert!(
        reason("random").starts_with("random 0."),
        "{}",
        reason("random")
    );
}

/// The kit's own tests (`kits/javascript/headway_kit.test.mjs`: number
/// formatting, the score's arithmetic, every per-account error, UTF-8 offsets)
/// run in Node, which CI has for npm; the kit imports nothing from the contract.
#[test]
fn the_javascript_kit_passes_its_own_tests() {
    let kit = headway_tests::repo_root().join("kits/javascript");
    let run = std::process::Command::new("node")
        .arg("--test")
        .arg(kit.join("headway_kit.test.mjs"))
        .output();
    let output = match run {
        Ok(output) => output,
        Err(e) if std::env::var_os("HEADWAY_REQUIRE_JS").is_none() => {
            eprintln!("skipped: node is not installed ({e})");
            return;
        }
        Err(e) => panic!("cannot run node: {e}"),
    };
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("# fail 0"), "{report}");
    assert!(!report.contains("# pass 0"), "{report}");
}
