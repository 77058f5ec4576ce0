//! The `headway` binary end to end, on the example tenants (plugins built from
//! source by headway-tests' build script).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{headway, stderr, stdout, write_temp};
use serde_json::Value;

/// `headway score --tenant tenants/saas-acme <file> <extra...>`
fn score_saas(file: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "score",
        "--tenant",
        "tenants/saas-acme",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    headway(&args)
}

const ACCOUNT: &str = r#"{"id":"x1","stage":"active","segment":"smb","arr":1000,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"seats-purchased":10,"seats-active":9,"weekly-active-users":8,"feature-adoption":0.5,"open-tickets":0,"nps":9}}"#;

#[test]
fn json_output_has_the_documented_keys() {
    let (_dir, file) = write_temp("a.jsonl", ACCOUNT);
    let out = score_saas(&file, &["--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    for key in [
        "account_id",
        "score",
        "band",
        "factors",
        "milestones",
        "fit",
        "plugin",
        "error",
        "as_of",
        "next_milestone",
    ] {
        assert!(r.get(key).is_some(), "missing key {key}: {r}");
    }
    assert_eq!(r["account_id"], "x1");
    assert_eq!(r["error"], Value::Null);
    assert_eq!(r["plugin"]["name"], "saas-health");
    assert!(
        r["plugin"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let factor = &r["factors"][0];
    for key in ["name", "value", "weight", "contribution", "reason"] {
        assert!(factor.get(key).is_some(), "factor lacks {key}");
    }
    let milestone = &r["milestones"][0];
    for key in ["id", "progress", "reached_on", "predicted_on", "likelihood"] {
        assert!(milestone.get(key).is_some(), "milestone lacks {key}");
    }
    // The skipped usage-trend factor (no history) has a null value, not NaN.
    assert_eq!(r["factors"][2]["value"], Value::Null);
}

#[test]
fn malformed_lines_are_reported_and_the_rest_still_scores() {
    let text =
        format!("{ACCOUNT}\n{{\"id\":\"x2\",\"stage\":\"active\",\"arr\":\"a lot\"}}\nnot json\n");
    let (_dir, file) = write_temp("mixed.jsonl", &text);
    let out = score_saas(&file, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "partial failure exit code");
    let err = stderr(&out);
    assert!(
        err.contains("mixed.jsonl:2: field `arr`: invalid type"),
        "{err}"
    );
    assert!(err.contains("mixed.jsonl:3:"), "{err}");
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "one record per input line, in order");
    assert_eq!(lines[0]["error"], Value::Null);
    assert_eq!(lines[1]["account_id"], "x2");
    assert_eq!(lines[1]["error"]["kind"], "input");
    assert_eq!(lines[1]["error"]["line"], 2);
    assert_eq!(lines[1]["error"]["field"], "arr");
    assert_eq!(lines[2]["account_id"], Value::Null);
}

#[test]
fn rule_errors_are_per_account() {
    let text = format!(
        "{ACCOUNT}\n{}\n",
        ACCOUNT
            .replace("\"x1\"", "\"x3\"")
            .replace("\"seats-purchased\":10,", "")
    );
    let (_dir, file) = write_temp("b.jsonl", &text);
    let out = score_saas(&file, &["--format", "csv"]);
    assert_eq!(out.status.code(), Some(2));
    let csv = stdout(&out);
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].starts_with("account_id,as_of,score,band,top_factor"),
        "{}",
        rows[0]
    );
    assert!(rows[0].ends_with("factor.nps"), "{}", rows[0]);
    assert!(rows[1].starts_with("x1,2026-11-01,"), "{}", rows[1]);
    assert!(rows[2].starts_with("x3,2026-11-01,,,"), "{}", rows[2]);
    assert!(
        rows[2].contains("rule,account has no measure `seats-purchased`"),
        "{}",
        rows[2]
    );
}

#[test]
fn table_shows_score_band_reason_and_next_milestone() {
    let (_dir, file) = write_temp("a.jsonl", ACCOUNT);
    let out = score_saas(&file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ACCOUNT  SCORE  BAND"));
    let row = lines.next().unwrap();
    assert!(row.starts_with("x1 "), "{row}");
    assert!(row.contains("green"), "{row}");
    assert!(
        stderr(&out).contains(
            "1 accounts, 1 scored (1 green, 0 yellow, 0 red), 0 failed; plugin saas-health 0.1.0"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_tenant_config_is_named() {
    let (dir, _) = write_temp("tenant.toml", "name = \"x\"\nplugn = \"p.wasm\"\n");
    let out = headway(&[
        "score",
        "--tenant",
        dir.path().to_str().unwrap(),
        "whatever.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("tenant.toml") && err.contains("unknown field `plugn`"),
        "{err}"
    );
}

#[test]
fn a_missing_plugin_is_named() {
    let (dir, _) = write_temp("tenant.toml", "name = \"x\"\nplugin = \"missing.wasm\"\n");
    let out = headway(&["describe", "--tenant", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read plugin") && stderr(&out).contains("missing.wasm"),
        "{}",
        stderr(&out)
    );
    // The cause once, not repeated by every layer that wraps it.
    assert_eq!(
        stderr(&out).matches("os error 2").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn describe_lists_milestones_and_upsells() {
    let out = headway(&["describe", "--tenant", "tenants/logistics-nordic"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("otif-on-target-3m"), "{text}");
    assert!(
        text.contains("upsell: Control tower module (+12,000 EUR ARR, take rate 40%)"),
        "{text}"
    );
}

#[test]
fn sample_is_deterministic() {
    let a = headway(&["sample", "logistics", "--count", "5"]);
    let b = headway(&["sample", "logistics", "--count", "5"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(stdout(&a).lines().count(), 5);
}

#[test]
fn retention_table_json_and_csv() {
    let ledger = "account_id,date,arr,stage,segment\n\
                  a,2026-01-01,1000,paid,smb\n\
                  a,2026-02-10,1500,paid,smb\n\
                  b,2026-01-01,2000,paid,enterprise\n\
                  b,2026-02-20,0,paid,enterprise\n\
                  t,2026-02-01,0,trial,\n";
    let (_dir, file) = write_temp("ledger.csv", ledger);
    let path = file.to_str().unwrap();

    let out = headway(&[
        "retention",
        path,
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-28",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let row = table.lines().nth(1).unwrap();
    // Start 3,000; +500 expansion, -2,000 churn: NRR 50.0%, GRR 33.3%.
    for cell in ["2026-02", "3,000", "1,500", "50.0%", "33.3%"] {
        assert!(row.contains(cell), "{cell} missing in {row}");
    }

    let out = headway(&[
        "retention",
        path,
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-28",
        "--format",
        "json",
        "--segment",
    ]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let segments: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["segment"].as_str().unwrap())
        .collect();
    assert_eq!(segments, ["unknown", "enterprise", "smb"]);
    assert_eq!(json[1]["grr"], 0.0);
    assert_eq!(json[2]["nrr"], 1.5);
    assert_eq!(
        json[0]["nrr"],
        Value::Null,
        "nothing at the start: not defined"
    );

    let out = headway(&["retention", path, "--format", "csv", "--period", "year"]);
    let csv = stdout(&out);
    assert!(
        csv.starts_with("period_start,period_end,segment,start_arr,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2);
}

#[test]
fn retention_counts_advocacy_and_referred_revenue() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    // a expands, b (referred by a last year) churns, n is new by a's referral.
    let ledger = write(
        "ledger.csv",
        "account_id,date,arr\na,2026-01-01,1000\na,2026-03-10,1200\nb,2026-01-01,500\n\
         b,2026-03-15,0\nn,2026-03-12,800\n",
    );
    let advocacy = write(
        "advocacy.csv",
        "account_id,date,kind,referred\na,2025-12-01,referral,b\na,2026-03-05,referral,n\n\
         b,2026-03-02,reference-call,\n",
    );
    let march = ["--from", "2026-03-01", "--to", "2026-03-31"];
    let mut args = vec![
        "retention",
        ledger.as_str(),
        "--advocacy",
        advocacy.as_str(),
    ];
    args.extend(march);
    let table = stdout(&headway(&args));
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .ends_with("REFERRED NRR  OTHER NRR"),
        "{table}"
    );
    args.extend(["--format", "json"]);
    let json: Value = serde_json::from_str(&stdout(&headway(&args))).unwrap();
    // Paying in March: a, b, n; a and b advocated. One referral in March.
    let m = &json[0];
    assert_eq!(m["advocating_accounts"], 2);
    assert!((m["advocacy_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((m["referrals_per_100"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-12);
    assert_eq!(
        (
            m["referred_new_logos"].as_u64(),
            m["referred_new_arr"].as_f64()
        ),
        (Some(1), Some(800.0))
    );
    // Referred b churned: 0%; a alone: 1,200 / 1,000.
    assert_eq!(
        (m["referred_nrr"].as_f64(), m["other_nrr"].as_f64()),
        (Some(0.0), Some(1.2))
    );

    let bad = write(
        "bad.csv",
        "account_id,date,kind,referred\na,2026-03-01,review,n\n",
    );
    let out = headway(&["retention", ledger.as_str(), "--advocacy", bad.as_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("bad.csv:2: field `referred`: only a referral names a referred account"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_ledger_names_every_bad_row_and_computes_nothing() {
    let (_dir, file) = write_temp(
        "bad.csv",
        "account_id,date,arr\na,2026-01-01,ten\nb,2026-02-30,5\n",
    );
    let out = headway(&["retention", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("bad.csv:2: field `arr`"), "{err}");
    assert!(
        err.contains("bad.csv:3: field `date`: invalid date `2026-02-30`"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn example_tenants_pass_their_fixtures() {
    for tenant in ["tenants/saas-acme", "tenants/logistics-nordic"] {
        let out = headway(&["test", "--tenant", tenant]);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        let text = stdout(&out);
        assert!(
            text.lines().last().unwrap().ends_with(" passed, 0 failed"),
            "{text}"
        );
        assert!(text.contains("instructions"), "{text}");
    }
}

#[test]
fn a_failing_fixture_shows_the_difference() {
    let fixture = format!(
        "{{\"name\":\"wrong band\",\"account\":{ACCOUNT},\"expect\":{{\"band\":\"red\",\"score\":10}}}}\n\
         {{\"name\":\"right\",\"account\":{ACCOUNT},\"expect\":{{\"band\":\"green\"}}}}\n"
    );
    let (_dir, file) = write_temp("fixtures.jsonl", &fixture);
    let out = headway(&[
        "test",
        headway_tests::SAAS_HEALTH,
        "--fixtures",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("FAIL  wrong band"), "{text}");
    assert!(
        text.contains("line 1: score: expected 10 ± 0.01, got"),
        "{text}"
    );
    assert!(
        text.contains("line 1: band: expected red, got green"),
        "{text}"
    );
    assert!(text.contains("PASS  right"), "{text}");
    assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");
}

#[test]
fn check_reports_contract_imports_and_refusals() {
    let good = headway(&["check", headway_tests::SAAS_HEALTH]);
    assert!(good.status.success());
    let text = stdout(&good);
    assert!(
        text.contains("contract   headway:rules@0.3.0 (supported, latest)"),
        "{text}"
    );
    assert!(
        text.contains("wasi:cli/exit@0.2.6") && text.contains("inert WASI"),
        "{text}"
    );
    assert!(
        text.contains("describe   saas-health 0.1.0: 3 bands, 6 factors, 3 milestones"),
        "{text}"
    );
    assert!(
        text.contains("reads      seats-purchased, seats-active, weekly-active-users,"),
        "{text}"
    );
    assert!(text.ends_with("result     ok\n"), "{text}");

    let old = headway(&["check", headway_tests::CONTRACT_V0_1_0]);
    assert!(old.status.success());
    let text = stdout(&old);
    assert!(
        text.contains(
            "contract   headway:rules@0.1.0 (supported through an adapter; rebuild against 0.3.0"
        ),
        "{text}"
    );
    assert!(
        text.contains("headway:rules/host@0.1.0                 contract"),
        "{text}"
    );
    assert!(
        text.contains("reads      every column (nothing declared)"),
        "{text}"
    );

    let sealed = headway(&["check", headway_tests::IMPORTS_FS]);
    assert_eq!(sealed.status.code(), Some(0));
    let text = stdout(&sealed);
    assert!(
        text.contains("wasi:filesystem/preopens@0.2.6")
            && text.contains("sealed: nothing behind it"),
        "{text}"
    );

    let (_dir, empty) = write_temp("empty.wasm", "");
    let out = headway(&["check", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("empty file"), "{}", stdout(&out));
}

#[test]
fn explain_breaks_a_score_down() {
    let (_dir, file) = write_temp("a.jsonl", ACCOUNT);
    let out = headway(&[
        "explain",
        "--tenant",
        "tenants/saas-acme",
        "--account",
        "x1",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("9 of 10 seats in use"), "{text}");
    assert!(
        text.contains("usage-trend") && text.contains("under 90 days of usage history"),
        "{text}"
    );
    assert!(text.contains("team-rollout"), "{text}");
    let missing = headway(&[
        "explain",
        "--tenant",
        "tenants/saas-acme",
        "--account",
        "nope",
        file.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no account `nope`"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_scaffolded_python_plugin_builds_and_passes_its_fixtures() {
    scaffold_builds_and_passes(
        "python",
        "componentize-py",
        "HEADWAY_REQUIRE_PYTHON",
        "app.py",
    );
}

#[test]
fn a_scaffolded_javascript_plugin_builds_and_passes_its_fixtures() {
    scaffold_builds_and_passes(
        "javascript",
        "componentize-js",
        "HEADWAY_REQUIRE_JS",
        "app.js",
    );
}

/// `headway new --lang <lang>` for both templates, then `build` and `test`:
/// every fixture of the scaffold passes.
fn scaffold_builds_and_passes(lang: &str, tool: &str, required: &str, app: &str) {
    let installed = Command::new(tool).arg("--version").output();
    if installed.is_err() && std::env::var_os(required).is_none() {
        eprintln!("skipped: {tool} is not installed");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    for template in ["saas", "outcomes"] {
        let name = format!("my-{template}");
        let dir = root.path().join(&name);
        let new = headway(&[
            "new",
            &name,
            "--lang",
            lang,
            "--template",
            template,
            "--dir",
            dir.to_str().unwrap(),
        ]);
        assert!(new.status.success(), "{}", stderr(&new));
        for file in [app, "fixtures.jsonl", "README.md"] {
            assert!(dir.join(file).exists(), "{file} scaffolded");
        }
        let built = built(headway(&["build", dir.to_str().unwrap()]));
        assert!(built.contains("runtime    sealed"), "{built}");
        assert!(
            built.contains("contract   headway:rules@0.3.0 (supported, latest)"),
            "{built}"
        );
        passes_its_fixtures(&dir, &dir.join(format!("target/{name}.wasm")));
    }
}

/// The stdout of a `headway build` that succeeded.
fn built(build: Output) -> String {
    assert!(
        build.status.success(),
        "{}{}",
        stdout(&build),
        stderr(&build)
    );
    stdout(&build)
}

/// `headway test` of the build `wasm` passes every case of `dir`'s fixtures.
fn passes_its_fixtures(dir: &Path, wasm: &Path) {
    let fixtures = dir.join("fixtures.jsonl");
    let test = headway(&[
        "test",
        wasm.to_str().unwrap(),
        "--fixtures",
        fixtures.to_str().unwrap(),
    ]);
    let cases = std::fs::read_to_string(&fixtures).unwrap().lines().count();
    assert!(cases >= 2, "{}: {cases} fixtures", dir.display());
    assert!(
        test.status.success() && stdout(&test).ends_with(&format!("{cases} passed, 0 failed\n")),
        "{}: {}",
        dir.display(),
        stdout(&test)
    );
}

#[test]
fn scaffolded_plugins_build_and_pass_their_fixtures() {
    let root = tempfile::tempdir().unwrap();
    // One target dir for both scaffolds, so the plugin kit compiles once.
    let target = root.path().join("target");
    for template in ["saas", "outcomes"] {
        let dir = root.path().join(format!("my-{template}"));
        let new = headway(&[
            "new",
            &format!("my-{template}"),
            "--template",
            template,
            "--dir",
            dir.to_str().unwrap(),
        ]);
        assert!(new.status.success(), "{}", stderr(&new));
        for file in ["Cargo.toml", "src/lib.rs", "fixtures.jsonl", "README.md"] {
            assert!(dir.join(file).exists(), "{file} scaffolded");
        }
        let built = built(
            Command::new(env!("CARGO_BIN_EXE_headway"))
                .args(["build", dir.to_str().unwrap()])
                .env("CARGO_TARGET_DIR", &target)
                .output()
                .unwrap(),
        );
        assert!(built.ends_with("result     ok\n"), "{built}");
        passes_its_fixtures(
            &dir,
            &target.join(format!("wasm32-wasip2/release/my_{template}.wasm")),
        );
    }
    let again = headway(&[
        "new",
        "my-saas",
        "--dir",
        root.path().join("my-saas").to_str().unwrap(),
    ]);
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let bad = headway(&["new", "My Plugin"]);
    assert!(
        stderr(&bad).contains("use lowercase letters"),
        "{}",
        stderr(&bad)
    );
}
