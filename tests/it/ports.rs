//! Ports of the example rules to other languages: each must score as the Rust
//! plugin does.

use std::path::Path;

use headway_core::Account;
use headway_host::{LoadOptions, Plugin};
use headway_tests::{LOGISTICS_OTIF, SAAS_HEALTH, caching_runtime, repo_root};

use crate::accounts;

/// Loads a built plugin with the caching runtime, or fails the test naming why.
pub fn load(path: &Path, options: &LoadOptions) -> Plugin {
    caching_runtime()
        .load_file(path, options)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), headway_host::error_chain(&e)))
}

fn book(tenant: &str) -> Vec<Account> {
    if tenant == "accented" {
        return accented();
    }
    let path = repo_root().join(format!("tenants/{tenant}/accounts.jsonl"));
    accounts(&std::fs::read_to_string(path).unwrap())
}

/// The SaaS book with text beyond ASCII: ids, names (a character of four
/// UTF-8 bytes included) and, on every third account, a segment the rule must
/// not mistake for "enterprise". The kits cut text columns at UTF-8 offsets.
fn accented() -> Vec<Account> {
    let mut accounts = book("saas-acme");
    for (i, a) in accounts.iter_mut().enumerate() {
        a.id = format!("{}-ü{i}", a.id);
        a.name = "Café Ünï 東京 🚀".to_owned();
        if i % 3 == 0 {
            a.segment = "entérprise".to_owned();
        }
    }
    accounts
}

/// Asserts the port of saas-health built at `path` equals the Rust plugin on
/// both sample books and an accented one: every score, band, fit, milestone, value, weight,
/// contribution and reason.
pub fn assert_equals_saas_health(path: &Path) {
    let port = load(path, &LoadOptions::default());
    let rust = load(Path::new(SAAS_HEALTH), &LoadOptions::default());
    assert_eq!(port.info(), rust.info(), "the same declaration");
    // With no budget set, a language runtime gets more instructions per account.
    assert_eq!(
        (port.fuel_per_account(), rust.fuel_per_account()),
        (5_000_000, 2_000_000)
    );
    assert!(!port.info().factors.is_empty());
    // The SaaS book, the logistics book (where every account lacks seats), and
    // the SaaS book in accented text.
    for tenant in ["saas-acme", "logistics-nordic", "accented"] {
        let accounts = book(tenant);
        let (p, r) = (port.assess(&accounts, 2), rust.assess(&accounts, 2));
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
                _ => panic!("{id}: port {p:?}, rust {r:?}"),
            }
        }
        let expected = if tenant != "logistics-nordic" {
            accounts.len()
        } else {
            0
        };
        assert_eq!(scored, expected, "{tenant}");
    }
    // Not a different rule by accident: logistics scores differ.
    let logistics = load(Path::new(LOGISTICS_OTIF), &LoadOptions::default());
    assert_ne!(logistics.info(), port.info());
}
