//! The decision log end to end: `score --store` logs each run, `decisions`
//! lists them, `replay` reproduces a run byte for byte on its own build,
//! shows what the current build changes, and splits what moved.

mod common;

use std::collections::BTreeMap;

use common::{headway, stderr, stdout};
use headway_store::SnapshotStore;
use serde_json::Value;

const SAAS_TOML: &str = "tenants/saas-acme/tenant.toml";

/// Scores per account id from `score --format json` output.
fn scores(json_lines: &str) -> BTreeMap<String, f64> {
    json_lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| {
            (
                r["account_id"].as_str().unwrap().to_owned(),
                r["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn runs_are_logged_replayed_byte_for_byte_and_moves_split_into_rules_and_customer() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let tenant = path("acme");
    std::fs::create_dir(&tenant).unwrap();
    let plugin =
        headway_tests::repo_root().join("plugins/target/wasm32-wasip2/release/saas_health.wasm");
    let config = std::fs::read_to_string(headway_tests::repo_root().join(SAAS_TOML))
        .unwrap()
        .replace(
            "../../plugins/target/wasm32-wasip2/release/saas_health.wasm",
            plugin.to_str().unwrap(),
        )
        + "\n[history]\nkeep_inputs = true\nmask = [\"name\"]\n";
    std::fs::write(dir.path().join("acme/tenant.toml"), &config).unwrap();
    let (before, after, store) = (path("before.jsonl"), path("after.jsonl"), path("h.db"));
    let out = headway(&["sample", "saas", "--count", "40", "-o", &before]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A month on: every customer uses 30% more seats (capped at what they bought).
    let text = std::fs::read_to_string(&before).unwrap();
    let names: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let moved: String = text
        .lines()
        .map(|l| {
            let mut a: Value = serde_json::from_str(l).unwrap();
            let m = &mut a["measures"];
            let bought = m["seats-purchased"].as_f64().unwrap();
            let active = m["seats-active"].as_f64().unwrap();
            m["seats-active"] = (active * 1.3).min(bought).round().into();
            a.to_string() + "\n"
        })
        .collect();
    std::fs::write(&after, moved).unwrap();
    let score = |file: &str| {
        let out = headway(&[
            "score",
            "--tenant",
            &tenant,
            "--store",
            &store,
            "--format",
            "json",
            "--as-of",
            "2026-11-01",
            file,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        scores(&stdout(&out))
    };
    let log = |args: &[&str]| {
        let mut all = vec![
            args[0], "--store", &store, "--tenant", &tenant, "--format", "json",
        ];
        all.extend_from_slice(&args[1..]);
        headway(&all)
    };

    let then = score(&before);
    let decisions = json(&log(&["decisions"]));
    assert_eq!(decisions.as_array().unwrap().len(), 1);
    let first = &decisions[0];
    assert!(
        first["caller"].as_str().unwrap().starts_with("cli:"),
        "{first}"
    );
    assert_eq!(
        (
            first["run"].as_i64(),
            first["records"].as_u64(),
            first["input"].as_str()
        ),
        (Some(1), Some(40), Some("json-lines"))
    );
    assert_eq!(first["masked"], serde_json::json!(["name"]));
    // The kept input has no names in it.
    let kept = StoreOpen::at(&store).kept(first["input_digest"].as_str().unwrap());
    let kept = String::from_utf8(kept).unwrap();
    assert_eq!(kept.lines().count(), 40);
    assert!(names.iter().all(|n| !kept.contains(&format!("\"{n}\""))));

    // Replayed on the build that served it: the same bytes.
    let replay = log(&["replay", "1"]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    let replay = json(&replay);
    assert_eq!(replay["reproduced"], true, "{replay}");
    assert_eq!(replay["replayed_digest"], first["output_digest"]);
    assert_eq!(
        replay["current_build"],
        Value::Null,
        "the current build served"
    );

    // New rules: seat utilisation weighs twice as much. Then the month on.
    let reweighted = config
        + "\n[weights]\nseat-utilisation = 0.5\nengagement = 0.15\nusage-trend = 0.1\n\
           feature-adoption = 0.1\nsupport-load = 0.1\nnps = 0.05\n";
    std::fs::write(dir.path().join("acme/tenant.toml"), reweighted).unwrap();
    let now = score(&after);
    let old_input_new_rules = {
        let out = headway(&[
            "score",
            "--tenant",
            &tenant,
            "--format",
            "json",
            "--as-of",
            "2026-11-01",
            &before,
        ]);
        scores(&stdout(&out))
    };
    // Two runs recorded; the run without --store logged nothing.
    assert_eq!(json(&log(&["decisions"])).as_array().unwrap().len(), 2);

    // Decision 1 on the current build: exactly the accounts the new rules move.
    let replay = json(&log(&["replay", "1"]));
    assert_eq!(replay["reproduced"], true);
    let changes = replay["changes"].as_array().unwrap();
    let expected: Vec<&String> = then
        .iter()
        .filter(|(id, s)| old_input_new_rules[*id] != **s)
        .map(|(id, _)| id)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        changes
            .iter()
            .map(|c| c["account_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        expected
    );
    for c in changes {
        let id = c["account_id"].as_str().unwrap();
        assert_eq!(c["score_before"].as_f64(), Some(then[id]));
        assert_eq!(c["score_after"].as_f64(), Some(old_input_new_rules[id]));
    }

    // What moved from 1 to 2: rules = new rules on the old input - then;
    // customer = now - new rules on the old input; together, the whole move.
    let moved = json(&log(&["replay", "2", "--from", "1"]));
    assert_eq!(moved["reproduced"], true);
    let moved = moved["moved"].as_array().unwrap();
    assert_eq!(moved.len(), 40);
    let mut customer_moves = 0;
    for m in moved {
        let id = m["account_id"].as_str().unwrap();
        let (rules, customer) = (
            m["rules"].as_f64().unwrap(),
            m["customer"].as_f64().unwrap(),
        );
        // Printed scores carry 10 decimals; the parts are their differences.
        let near = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(m["then"].as_f64(), Some(then[id]));
        assert_eq!(m["now"].as_f64(), Some(now[id]));
        assert!(
            near(rules, old_input_new_rules[id] - then[id]),
            "{id}: {rules}"
        );
        assert!(
            near(customer, now[id] - old_input_new_rules[id]),
            "{id}: {customer}"
        );
        assert!((rules + customer - (now[id] - then[id])).abs() < 1e-9);
        customer_moves += usize::from(customer > 0.0);
    }
    assert!(
        customer_moves > 10,
        "more seats in use raise scores: {customer_moves}"
    );
    let mut args = vec![
        "replay", "--store", &store, "--tenant", &tenant, "2", "--from", "1",
    ];
    let table = stdout(&headway(&args));
    assert!(table.contains("the same output, byte for byte"), "{table}");
    assert!(
        table.contains("from the rules") && table.contains("from the customers"),
        "{table}"
    );

    // A decision that is not there, or of another tenant, is named.
    args = vec!["replay", "--store", &store, "--tenant", "globex", "1"];
    let out = headway(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("tenant `globex` has no decision 1"),
        "{}",
        stderr(&out)
    );
}

/// The store, read directly.
struct StoreOpen(Box<dyn SnapshotStore>);

impl StoreOpen {
    fn at(path: &str) -> Self {
        Self(
            headway_store::StoreLocation::parse(path)
                .unwrap()
                .open()
                .unwrap(),
        )
    }

    /// A kept input, uncompressed.
    fn kept(&self, digest: &str) -> Vec<u8> {
        let packed = self.0.kept_input("acme", digest).unwrap().expect("kept");
        headway_pipeline::unpack(&packed).unwrap()
    }
}
