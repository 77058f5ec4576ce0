//! A broken or hostile plugin is stopped, reported precisely, and hurts no one else.

use std::path::Path;

use headway_core::{Account, ErrorKind};
use headway_host::{Limits, LoadError, LoadOptions, Plugin, Report};
use headway_tests::{
    BAD_OUTPUT, HOSTILE, IMPORTS_FS, NEWER_CONTRACT, SAAS_HEALTH, WRONG_WORLD, load, runtime,
};

use crate::accounts;

fn three() -> Vec<Account> {
    let line = |id: &str| {
        format!(
            r#"{{"id":"{id}","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01"}}"#
        )
    };
    accounts(&[line("a1"), line("a2"), line("a3")].join("\n"))
}

fn hostile(behaviour: &str, target: Option<&str>, limits: Limits) -> Plugin {
    let mut config = vec![("behaviour".to_owned(), behaviour.to_owned())];
    config.extend(target.map(|t| ("target".to_owned(), t.to_owned())));
    runtime()
        .load_file(
            Path::new(HOSTILE),
            &LoadOptions {
                tenant: Some("hostile-tenant".into()),
                limits,
                config: config.into_iter().collect(),
                ..LoadOptions::default()
            },
        )
        .expect("hostile plugin loads")
}

fn small() -> Limits {
    Limits {
        fuel_per_account: Some(1_000_000),
        memory_mib: 16,
        ..Limits::default()
    }
}

/// Runs the plugin on a2-poisoned accounts: a1 and a3 must still score 100.
#[track_caller]
fn only_a2_fails(report: &Report, kind: ErrorKind) -> String {
    for i in [0, 2] {
        let ok = report.results[i]
            .as_ref()
            .expect("innocent accounts still score");
        assert_eq!(ok.score, 100.0);
    }
    let err = report.results[1].as_ref().expect_err("a2 fails");
    assert_eq!(err.kind, kind, "{}", err.message);
    err.message.clone()
}

#[test]
fn runaway_loop_is_stopped_by_fuel_and_isolated() {
    let plugin = hostile("loop", Some("a2"), small());
    let report = plugin.assess(&three(), 1);
    let message = only_a2_fails(&report, ErrorKind::OutOfFuel);
    assert!(message.contains("instructions"), "{message}");
    // Fuel is deterministic: the same run costs exactly the same.
    assert_eq!(report.fuel_used, plugin.assess(&three(), 1).fuel_used);
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    // Enough fuel that memory, not instructions, is what runs out.
    let limits = Limits {
        fuel_per_account: Some(1_000_000_000),
        ..small()
    };
    let report = hostile("alloc", Some("a2"), limits).assess(&three(), 1);
    let message = only_a2_fails(&report, ErrorKind::MemoryLimit);
    assert_eq!(message, "memory limit of 16 MiB exceeded");
}

#[test]
fn stack_overflow_is_a_trap() {
    let report = hostile("recurse", Some("a2"), small()).assess(&three(), 1);
    let message = only_a2_fails(&report, ErrorKind::Trap);
    assert!(message.contains("stack"), "{message}");
}

#[test]
fn panic_message_reaches_the_error() {
    let report = hostile("panic", Some("a2"), small()).assess(&three(), 1);
    let message = only_a2_fails(&report, ErrorKind::Trap);
    assert!(message.contains("cannot score account a2"), "{message}");
    assert!(message.contains("panicked at"), "{message}");
}

#[test]
fn huge_output_is_refused() {
    let report = hostile("huge-output", Some("a2"), small()).assess(&three(), 1);
    let message = only_a2_fails(&report, ErrorKind::OutputTooLarge);
    assert!(message.contains("1048576 bytes"), "{message}");
}

#[test]
fn log_flood_is_capped_and_scoring_goes_on() {
    let limits = Limits {
        fuel_per_account: Some(1_000_000_000),
        ..Limits::default()
    };
    let report = hostile("log-flood", Some("a2"), limits).assess(&three(), 1);
    assert!(report.results.iter().all(|r| r.is_ok()));
    assert_eq!(report.logs.len(), 1_001, "1,000 kept lines and one note");
    assert!(
        report.logs[1_000]
            .message
            .starts_with("99000 log lines dropped"),
        "{}",
        report.logs[1_000].message
    );
}

#[test]
fn a_plugin_failing_every_account_costs_bounded_retries() {
    let accounts = headway_samples::generate(headway_samples::Book::Saas, 200, 1);
    let report = hostile("panic", None, small()).assess(&accounts, 1);
    assert!(
        report
            .results
            .iter()
            .all(|r| r.as_ref().is_err_and(|e| e.kind == ErrorKind::Trap))
    );
    // One call, then at most 32 more to isolate culprits: the kit's panic hook logs
    // one line per call.
    let panics = report
        .logs
        .iter()
        .filter(|l| l.message.starts_with("panicked at"))
        .count();
    assert!((2..=33).contains(&panics), "{panics} calls");
}

#[test]
fn deadline_stops_what_fuel_would_not() {
    let limits = Limits {
        fuel_per_account: Some(u64::MAX / 8),
        deadline_ms: 100,
        ..Limits::default()
    };
    let report = hostile("loop", Some("a2"), limits).assess(&three(), 1);
    // A deadline is not bisected: the whole batch fails with it.
    for r in &report.results {
        let err = r.as_ref().expect_err("deadline");
        assert_eq!(err.kind, ErrorKind::Deadline);
        assert_eq!(err.message, "deadline of 100 ms exceeded");
    }
}

#[test]
fn healthy_tenant_gets_identical_results_beside_a_hostile_one() {
    let book = headway_samples::generate(headway_samples::Book::Saas, 300, 3);
    let healthy = load(SAAS_HEALTH, &[]);
    let alone = format!("{:?}", healthy.assess(&book, 1).results);
    let hostiles: Vec<Plugin> = ["loop", "alloc", "recurse", "panic"]
        .iter()
        .map(|b| hostile(b, None, small()))
        .collect();
    let beside = std::thread::scope(|s| {
        for h in &hostiles {
            let book = &book;
            s.spawn(move || h.assess(&book[..50], 2));
        }
        format!("{:?}", healthy.assess(&book, 1).results)
    });
    assert!(
        alone == beside,
        "a hostile tenant changed a healthy tenant's results"
    );
}

fn load_err(path: &str) -> LoadError {
    let options = LoadOptions {
        tenant: Some("t".into()),
        ..LoadOptions::default()
    };
    runtime()
        .load_file(Path::new(path), &options)
        .err()
        .expect("refused at load")
}

#[test]
fn a_filesystem_import_runs_sealed_and_reads_nothing() {
    // It imports wasi:filesystem, so it runs in the sealed environment: it loads
    // with no grant, and its read of /etc/passwd finds no directory to read from.
    let interface = runtime()
        .inspect(&std::fs::read(IMPORTS_FS).unwrap(), "imports-fs")
        .unwrap();
    assert!(interface.sealed());
    let plugin = load(IMPORTS_FS, &[]);
    let report = plugin.assess(&three(), 1);
    for result in &report.results {
        let factor = &result.as_ref().expect("scored").factors[0];
        assert_eq!((factor.value, factor.reason.as_str()), (0.0, ""));
    }
}

#[test]
fn another_world_is_a_contract_mismatch() {
    let err = load_err(WRONG_WORLD);
    let LoadError::ContractMismatch { found, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(found, "exports add");
}

#[test]
fn newer_contract_names_both_versions() {
    let err = load_err(NEWER_CONTRACT);
    assert!(matches!(err, LoadError::ContractMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(
            "supports `headway:rules/rules@0.3.0` or `headway:rules/rules@0.2.0` or `headway:rules/rules@0.1.0`"
        ) && text.contains("targets `headway:rules/rules@0.9.0`"),
        "{text}"
    );
}

#[test]
fn malformed_answers_are_invalid_output() {
    let plugin = runtime()
        .load_file(Path::new(BAD_OUTPUT), &LoadOptions::default())
        .expect("loads");
    let line = |id: &str| {
        format!(
            r#"{{"id":"{id}","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01"}}"#
        )
    };
    // Wrong column lengths: a shape error fails the whole batch.
    let report = plugin.assess(&accounts(&[line("a"), line("short")].join("\n")), 1);
    for r in &report.results {
        let err = r.as_ref().expect_err("shape error");
        assert_eq!(err.kind, ErrorKind::InvalidOutput);
        assert!(
            err.message.contains("scores: 1 values for 2 accounts"),
            "{}",
            err.message
        );
    }
    // One score out of range: only that account fails.
    let report = plugin.assess(&accounts(&[line("a"), line("over")].join("\n")), 1);
    assert_eq!(report.results[0].as_ref().map(|a| a.score), Ok(50.0));
    let err = report.results[1].as_ref().expect_err("score 150");
    assert_eq!(err.kind, ErrorKind::InvalidOutput);
    assert_eq!(err.message, "score 150 is outside 0-100");
    // Answers that break the contract's meaning fail their account alone.
    let cases = [
        (
            "far-day",
            "milestone `m` reached_on is day 2147483647, outside the years 0000-9999",
        ),
        (
            "far-prediction",
            "milestone `m` predicted_on is day -2147483648, outside the years 0000-9999",
        ),
        ("weights", "applied factor weights sum to 0.5, not 1"),
        ("sum", "factor contributions sum to 10, the score is 50"),
        ("negative-zero", "score is -0.0"),
    ];
    let ids: Vec<String> = cases.iter().map(|(id, _)| line(id)).collect();
    let report = plugin.assess(&accounts(&[vec![line("a")], ids].concat().join("\n")), 1);
    assert_eq!(report.results[0].as_ref().map(|a| a.score), Ok(50.0));
    for ((id, message), result) in cases.iter().zip(&report.results[1..]) {
        let err = result.as_ref().expect_err(id);
        assert_eq!(err.kind, ErrorKind::InvalidOutput, "{id}");
        assert_eq!(&err.message, message, "{id}");
    }
}

#[test]
fn limits_in_tenant_toml_are_strict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tenant.toml"),
        "name = \"x\"\nplugin = \"p.wasm\"\n[limits]\nfuel = 5\n",
    )
    .unwrap();
    let err = headway_host::load_tenant_config(dir.path())
        .expect_err("unknown limit")
        .to_string();
    assert!(err.contains("unknown field `fuel`"), "{err}");
    std::fs::write(
        dir.path().join("tenant.toml"),
        "name = \"x\"\nplugin = \"p.wasm\"\n[limits]\nmemory_mib = 4096\n",
    )
    .unwrap();
    let err = headway_host::load_tenant_config(dir.path())
        .expect_err("too much memory")
        .to_string();
    assert!(err.contains("at most 1024"), "{err}");
    std::fs::write(
        dir.path().join("tenant.toml"),
        "name = \"x\"\nplugin = \"p.wasm\"\n",
    )
    .unwrap();
    let ok = headway_host::load_tenant_config(dir.path()).unwrap();
    assert_eq!(ok.limits, Limits::default());
}
