//! Plugins written in Python (componentize-py, the Python kit) in the same
//! sandbox: the port of saas-health equals the Rust plugin, and a hostile Python
//! plugin is contained as a Rust one is.

use std::path::Path;

use headway_core::{Account, ErrorKind};
use headway_host::{LoadOptions, Plugin};
use headway_tests::{LOGISTICS_OTIF, SAAS_HEALTH, caching_runtime, python_plugin, repo_root};

use crate::accounts;

fn load(path: &Path, options: &LoadOptions) -> Plugin {
    caching_runtime()
        .load_file(path, options)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), headway_host::error_chain(&e)))
}

fn book(tenant: &str) -> Vec<Account> {
    let path = repo_root().join(format!("tenants/{tenant}/accounts.jsonl"));
    accounts(&std::fs::read_to_string(path).unwrap())
}

#[test]
fn saas_health_in_python_equals_the_rust_plugin() {
    let Some(py) = python_plugin("plugins/saas-health-py") else {
        return;
    };
    let python = load(&py, &LoadOptions::default());
    let rust = load(Path::new(SAAS_HEALTH), &LoadOptions::default());
    assert_eq!(python.info(), rust.info(), "the same declaration");
    assert!(!python.info().factors.is_empty());
    // The SaaS book, and the logistics book, where every account lacks seats.
    for tenant in ["saas-acme", "logistics-nordic"] {
        let accounts = book(tenant);
        let (p, r) = (python.assess(&accounts, 2), rust.assess(&accounts, 2));
        assert_eq!(p.results.len(), accounts.len());
        let mut scored = 0;
        for (i, (p, r)) in p.results.iter().zip(&r.results).enumerate() {
            let id = &accounts[i].id;
            match (p, r) {
                (Ok(p), Ok(r)) => {
                    scored += 1;
                    assert!(
                        (p.score - r.score).abs() < 1e-9,
                        "{id}: {} {}",
                        p.score,
                        r.score
                    );
                    assert_eq!((&p.band, p.fit), (&r.band, r.fit), "{id}");
                    assert_eq!(p.milestones, r.milestones, "{id}");
                    for (pf, rf) in p.factors.iter().zip(&r.factors) {
                        let same =
                            |a: f64, b: f64| (a - b).abs() < 1e-9 || (a.is_nan() && b.is_nan());
                        assert!(same(pf.value, rf.value), "{id} {}", pf.name);
                        assert!(same(pf.weight, rf.weight), "{id} {}", pf.name);
                        assert!(same(pf.contribution, rf.contribution), "{id} {}", pf.name);
                        assert_eq!(pf.reason, rf.reason, "{id} {}", pf.name);
                    }
                }
                (Err(p), Err(r)) => assert_eq!((p.kind, &p.code), (r.kind, &r.code), "{id}"),
                _ => panic!("{id}: python {p:?}, rust {r:?}"),
            }
        }
        let expected = if tenant == "saas-acme" {
            accounts.len()
        } else {
            0
        };
        assert_eq!(scored, expected, "{tenant}");
    }
    // Not a different rule by accident: logistics scores differ.
    let logistics = load(Path::new(LOGISTICS_OTIF), &LoadOptions::default());
    assert_ne!(logistics.info(), python.info());
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
