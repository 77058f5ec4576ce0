//! End-to-end tests: the example plugins, built from source by `build.rs`, run
//! through the real host. One test binary, one shared engine.

mod cache;
mod capabilities;
mod contract;
mod evolution;
mod javascript;
mod ports;
mod python;
mod samples;
mod sandbox;
mod scoring;

use headway_core::{Account, AccountError, Assessment, InputDefaults, parse_jsonl};

/// A hostile plugin's answers to one bare account per probe id, asserted to be
/// the same (results and instructions) on a second run.
pub struct Probed {
    ids: Vec<&'static str>,
    results: Vec<Result<Assessment, AccountError>>,
}

impl Probed {
    /// Runs `plugin` on the probes `ids`, twice.
    pub fn run(plugin: &headway_host::Plugin, ids: &[&'static str]) -> Self {
        let batch = probes(ids);
        let report = plugin.assess(&batch, 1);
        // Same input, same output, same instructions.
        let again = plugin.assess(&batch, 1);
        assert_eq!(again.results, report.results);
        assert_eq!(again.fuel_used, report.fuel_used);
        Self {
            ids: ids.to_vec(),
            results: report.results,
        }
    }

    fn outcome(&self, id: &str) -> &Result<Assessment, AccountError> {
        &self.results[self.ids.iter().position(|i| *i == id).unwrap()]
    }

    /// The reason of the probe's one factor; the probe must have scored.
    pub fn reason(&self, id: &str) -> String {
        self.outcome(id)
            .as_ref()
            .unwrap_or_else(|e| panic!("{id}: {e:?}"))
            .factors[0]
            .reason
            .clone()
    }

    /// Why the probe failed; it must have.
    pub fn error(&self, id: &str) -> &AccountError {
        self.outcome(id).as_ref().expect_err(id)
    }
}

/// One bare active account per id: the probes a hostile plugin reacts to.
fn probes(ids: &[&str]) -> Vec<Account> {
    let lines: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"id":"{id}","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01"}}"#
            )
        })
        .collect();
    accounts(&lines.join("\n"))
}

/// Parses JSON Lines that the test knows to be valid.
pub fn accounts(jsonl: &str) -> Vec<Account> {
    let parsed = parse_jsonl("test", jsonl, &InputDefaults::default());
    assert!(
        parsed.errors.is_empty(),
        "test input is valid: {:?}",
        parsed.errors
    );
    parsed.accounts
}

/// Asserts two floats agree to 1e-9 (hand-checked values are written to 4 decimals
/// where they are not exact, so those use `close4`).
#[track_caller]
pub fn close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

/// Asserts agreement to 4 decimals.
#[track_caller]
pub fn close4(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 5e-5,
        "{actual} != {expected} (to 4 decimals)"
    );
}
