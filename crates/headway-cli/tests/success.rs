//! `score --store`, `history`, `forecast` and `backtest` end to end, on a small
//! year of the sample SaaS book.

mod common;

use common::{headway, http, serve, stderr, stdout};
use serde_json::Value;

/// A temp folder with 80 accounts' year of monthly books, their ledger, and a
/// store holding that year scored by saas-health.
struct Year {
    dir: tempfile::TempDir,
    /// The `--store` every command is given.
    store: String,
}

impl Year {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("h.db").to_str().unwrap().to_owned();
        let year = Year { dir, store };
        for (what, file) in [("history", "year.jsonl"), ("ledger", "ledger.csv")] {
            let out = headway(&[
                "sample",
                "saas",
                "--what",
                what,
                "--count",
                "80",
                "-o",
                &year.path(file),
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
        }
        year
    }

    fn score(&self, extra: &[&str]) -> String {
        let file = self.path("year.jsonl");
        let mut args = vec![
            "score",
            "--tenant",
            "tenants/saas-acme",
            "--store",
            &self.store,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        args.push(&file);
        let out = headway(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    }

    fn run(&self, command: &str, extra: &[&str]) -> String {
        let mut args = vec![
            command,
            "--store",
            &self.store,
            "--tenant",
            "tenants/saas-acme",
        ];
        args.extend_from_slice(extra);
        let out = headway(&args);
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        stdout(&out)
    }
}

#[test]
fn a_year_of_snapshots_feeds_history_forecast_and_backtest() {
    let year = Year::new();
    let lines = std::fs::read_to_string(year.path("year.jsonl"))
        .unwrap()
        .lines()
        .count();
    let first = year.score(&[]);
    assert!(
        first.contains(&format!(
            "recorded run 1 in `{}`: {lines} snapshots",
            year.path("h.db")
        )),
        "{first}"
    );
    assert!(
        first.contains(&format!("{lines} new, 0 changed, 0 unchanged")),
        "{first}"
    );
    // Idempotent: the same days with the same build add nothing.
    let again = year.score(&[]);
    assert!(
        again.contains(&format!(
            "recorded run 2 in `{}`: {lines} snapshots, 0 new, 0 changed, {lines} unchanged",
            year.path("h.db")
        )),
        "{again}"
    );

    // One account over the year: one row per month it was a customer, its vector.
    let months = std::fs::read_to_string(year.path("year.jsonl"))
        .unwrap()
        .matches(r#""id":"saas-0005""#)
        .count();
    assert!(months >= 2, "saas-0005 has history");
    let history = year.run("history", &["--account", "saas-0005"]);
    assert!(
        history.starts_with(&format!(
            "saas-0005 (saas-acme): {months} snapshots by saas-health"
        )),
        "{history}"
    );
    assert!(
        history.contains("Success Vector on 2026-11-01 (90-day window"),
        "{history}"
    );
    let json: Value =
        serde_json::from_str(&year.run("history", &["--account", "saas-0005", "--format", "json"]))
            .unwrap();
    let rows = json["snapshots"].as_array().unwrap();
    assert_eq!(rows.len(), months);
    assert_eq!(json["vector"]["as_of"], "2026-11-01");
    assert_eq!(json["vector"]["magnitude"], rows[months - 1]["score"]);

    // Forecast: documented keys; every account in a cohort takes the upsell at the
    // take rate (saas-health gives no per-account likelihood).
    let forecast: Value =
        serde_json::from_str(&year.run("forecast", &["--horizon", "90d", "--format", "json"]))
            .unwrap();
    let f = &forecast["forecast"];
    assert_eq!(f["horizon_days"], 90);
    let mut total = 0.0;
    for m in f["milestones"].as_array().unwrap() {
        for key in [
            "milestone_id",
            "milestone",
            "arrivals",
            "upsell",
            "upsell_arr",
            "take_rate",
            "expected_arr",
            "accounts",
        ] {
            assert!(m.get(key).is_some(), "{key} in {m}");
        }
        let cohort = m["arrivals"].as_f64().unwrap();
        assert_eq!(m["accounts"].as_array().unwrap().len() as f64, cohort);
        let expected =
            cohort * m["upsell_arr"].as_f64().unwrap() * m["take_rate"].as_f64().unwrap();
        assert!(
            (m["expected_arr"].as_f64().unwrap() - expected).abs() < 1e-6,
            "{m}"
        );
        total += expected;
    }
    assert!((f["total_expected_arr"].as_f64().unwrap() - total).abs() < 1e-6);
    assert!(
        total > 0.0,
        "some account reaches an upsell milestone: {forecast}"
    );

    // Shadow scoring: a second build on the same year, judged on the same snapshots.
    let shadow = year.score(&["--plugin", headway_tests::SAAS_SEATS]);
    assert!(shadow.contains(&format!("{lines} new")), "{shadow}");
    let ledger = year.path("ledger.csv");
    let bt: Value = serde_json::from_str(&year.run(
        "backtest",
        &[
            "--outcomes",
            &ledger,
            "--horizon",
            "90d",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    let builds = bt.as_array().unwrap();
    assert_eq!(builds.len(), 2);
    let names: Vec<&str> = builds
        .iter()
        .map(|b| b["plugin"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["saas-health", "saas-seats"]);
    assert_eq!(builds[0]["snapshots"], builds[1]["snapshots"]);
    assert_eq!(builds[0]["churned"], builds[1]["churned"], "same outcomes");
    let judged = builds[0]["snapshots"].as_u64().unwrap();
    assert!(judged > 0 && builds[0]["not_yet_observable"].as_u64().unwrap() > 0);
    let calibrated: u64 = builds[0]["calibration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["snapshots"].as_u64().unwrap())
        .sum();
    assert_eq!(calibrated, judged, "every judged snapshot is in one band");
    // The default build is the tenant's own plugin, even after the shadow run.
    let table = year.run("forecast", &[]);
    assert!(table.contains("saas-health"), "{table}");
}

#[test]
fn postgres_and_sqlite_tell_the_same_story() {
    let Some(db) = headway_store::testing::TestDatabase::create() else {
        return;
    };
    let mut year = Year::new();
    let ledger = year.path("ledger.csv");
    let reads = |year: &Year| {
        [
            year.run("history", &["--account", "saas-0005", "--format", "json"]),
            year.run("history", &["--account", "saas-0042"]),
            year.run("forecast", &["--horizon", "180d", "--format", "json"]),
            year.run("backtest", &["--outcomes", &ledger, "--format", "json"]),
        ]
    };
    year.score(&[]);
    year.score(&["--plugin", headway_tests::SAAS_SEATS]);
    let from_sqlite = reads(&year);

    year.store = db.url();
    let first = year.score(&[]);
    assert!(
        first.contains(&format!("recorded run 1 in `{}`", db.url())),
        "{first}"
    );
    let again = year.score(&[]);
    assert!(again.contains(" 0 new, 0 changed, "), "{again}");
    year.score(&["--plugin", headway_tests::SAAS_SEATS]);
    let from_postgres = reads(&year);
    for (sqlite, postgres) in from_sqlite.iter().zip(&from_postgres) {
        assert_eq!(sqlite, postgres);
    }
}

#[test]
fn store_errors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let out = headway(&[
        "forecast",
        "--store",
        missing.to_str().unwrap(),
        "--tenant",
        "tenants/saas-acme",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no history store at"),
        "{}",
        stderr(&out)
    );
    let out = headway(&["forecast", "--tenant", "x", "--horizon", "soon"]);
    assert!(
        stderr(&out).contains("`soon` is not a duration"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_server_shows_what_the_cli_shows() {
    let year = Year::new();
    year.score(&[]);
    let served = year.path("served.db");
    let server = serve(&["--store", &served]);
    let addr = server.addr.clone();
    let book = std::fs::read(year.path("year.jsonl")).unwrap();
    let (code, run) = http(&addr, "POST", "/v1/tenants/saas-acme/runs", &book);
    assert_eq!(code, 201, "{run}");

    let cli: Value =
        serde_json::from_str(&year.run("history", &["--account", "saas-0005", "--format", "json"]))
            .unwrap();
    let (code, api) = http(
        &addr,
        "GET",
        "/v1/tenants/saas-acme/accounts/saas-0005",
        b"",
    );
    assert_eq!(code, 200, "{api}");
    assert_eq!(api, cli, "the same history, vector and steps");
    assert!(!api["steps"].as_array().unwrap().is_empty());

    let forecast: Value =
        serde_json::from_str(&year.run("forecast", &["--format", "json"])).unwrap();
    let (_, page) = http(
        &addr,
        "GET",
        "/v1/tenants/saas-acme/accounts?limit=1000",
        b"",
    );
    assert_eq!(
        page["matching"], forecast["accounts"],
        "the same current book"
    );
    drop(server);
}

#[test]
fn recorded_runs_file_each_alert_once() {
    let year = Year::new();
    // saas-acme with one rule, in a folder of its own.
    let tenant = year.dir.path().join("alerting");
    std::fs::create_dir(&tenant).unwrap();
    std::fs::write(
        tenant.join("tenant.toml"),
        format!(
            "id = \"saas-acme\"\nname = \"Acme\"\nplugin = \"{}\"\n\
             [[alerts]]\nname = \"turned-red\"\nwhen = \"band-entered\"\nbands = [\"red\"]\n",
            headway_tests::SAAS_HEALTH
        ),
    )
    .unwrap();
    let tenant = tenant.to_str().unwrap();
    let (store, file) = (year.store.clone(), year.path("year.jsonl"));
    let score = |extra: &[&str]| {
        let mut args = vec![
            "score", "--tenant", tenant, "--store", &store, "--format", "json",
        ];
        args.extend_from_slice(extra);
        args.push(&file);
        let out = headway(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    let first = score(&[]);

    // The rule by hand: a month in red whose previous month (within 45 days)
    // was not red, or that is the account's first.
    let json: Value = serde_json::from_str(&{
        let out = headway(&[
            "alerts", "--store", &store, "--tenant", tenant, "--format", "json", "--limit",
            "100000",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    })
    .unwrap();
    let filed = json.as_array().unwrap();
    let mut expected = 0;
    let mut last: std::collections::HashMap<String, (headway_core::Date, String)> =
        std::collections::HashMap::new();
    let mut days: Vec<(headway_core::Date, String, String)> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["as_of"].as_str().unwrap().parse().unwrap(),
                v["id"].as_str().unwrap().to_owned(),
                String::new(),
            )
        })
        .collect();
    // Bands from the scored output, joined by (id, day).
    let scored = headway(&["score", "--tenant", tenant, "--format", "json", &file]);
    let bands: std::collections::HashMap<(String, String), String> = stdout(&scored)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                (
                    v["account_id"].as_str().unwrap().to_owned(),
                    v["as_of"].as_str().unwrap().to_owned(),
                ),
                v["band"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for d in &mut days {
        d.2 = bands[&(d.1.clone(), d.0.to_string())].clone();
    }
    days.sort();
    for (day, id, band) in &days {
        let before = last.get(id).filter(|(d, _)| d.days() >= day.days() - 45);
        if band == "red" && before.is_none_or(|(_, b)| b != "red") {
            expected += 1;
        }
        last.insert(id.clone(), (*day, band.clone()));
    }
    assert!(expected > 0, "the sample year has accounts turning red");
    assert_eq!(filed.len(), expected);
    assert!(
        first.contains(&format!("; {expected} alerts fired")),
        "{first}"
    );
    assert!(
        filed
            .iter()
            .all(|a| a["rule"] == "turned-red" && a["status"] == "pending")
    );

    // The same run again, and a shadow build: nothing new.
    let again = score(&[]);
    assert!(!again.contains("alerts fired"), "{again}");
    let shadow = score(&["--plugin", headway_tests::SAAS_SEATS]);
    assert!(!shadow.contains("alerts fired"), "{shadow}");
    let out = headway(&["alerts", "--store", &store, "--tenant", tenant]);
    assert!(
        stdout(&out).contains(&format!("{expected} alerts for saas-acme")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_override_from_the_cli_moves_history_and_keeps_its_trail() {
    let year = Year::new();
    let text = std::fs::read_to_string(year.path("year.jsonl")).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    year.score(&[]);
    let history = |format: &str| year.run("history", &["--account", &id, "--format", format]);
    let before: Value = serde_json::from_str(&history("json")).unwrap();
    let latest = before["snapshots"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let factor = latest["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["weight"].as_f64().unwrap() > 0.0)
        .unwrap();
    let (name, weight) = (
        factor["name"].as_str().unwrap(),
        factor["weight"].as_f64().unwrap(),
    );
    let was = factor["contribution"].as_f64().unwrap() / weight;
    let set_to = if was < 50.0 { 100.0 } else { 0.0 };
    let expected = (latest["score"].as_f64().unwrap() + weight * (set_to - was)).clamp(0.0, 100.0);

    let set = year.run(
        "override",
        &[
            "--account",
            &id,
            "--factor",
            name,
            "--score",
            &set_to.to_string(),
            "--until",
            "2030-01-01",
            "--author",
            "dana",
            "--reason",
            "champion left",
        ],
    );
    assert!(
        set.contains(&format!("factor:{name} of {id} set to {set_to}")),
        "{set}"
    );
    let after: Value = serde_json::from_str(&history("json")).unwrap();
    let now = after["snapshots"].as_array().unwrap().last().unwrap();
    assert!(
        (now["score"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{now}"
    );
    let table = history("table");
    assert!(
        table.contains("(override by dana until 2030-01-01: champion left)"),
        "{table}"
    );

    // The trail: set, then cleared; the plugin's score is back.
    year.run(
        "override",
        &[
            "--account",
            &id,
            "--clear",
            &format!("factor:{name}"),
            "--author",
            "dana",
            "--reason",
            "back",
        ],
    );
    let trail: Value =
        serde_json::from_str(&year.run("override", &["--account", &id, "--format", "json"]))
            .unwrap();
    assert_eq!(trail["overrides"], Value::Array(vec![]));
    assert_eq!(trail["log"].as_array().unwrap().len(), 2);
    assert_eq!(trail["log"][1]["old"], trail["log"][0]["new"]);
    let restored: Value = serde_json::from_str(&history("json")).unwrap();
    assert_eq!(restored, before);

    // Refused changes name why and exit non-zero.
    let store = year.store.clone();
    for (extra, says) in [
        (
            vec!["--band", "red", "--until", "2030-01-01"],
            "--author and --reason",
        ),
        (
            vec![
                "--band",
                "mauve",
                "--until",
                "2030-01-01",
                "--author",
                "a",
                "--reason",
                "r",
            ],
            "band `mauve` is not declared",
        ),
        (
            vec!["--band", "red", "--author", "a", "--reason", "r"],
            "an override needs an expiry day",
        ),
    ] {
        let mut args = vec![
            "override",
            "--store",
            &store,
            "--tenant",
            "tenants/saas-acme",
            "--account",
            &id,
        ];
        args.extend(extra);
        let out = headway(&args);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
}

#[test]
fn tune_fits_on_earlier_days_and_judges_on_later_ones() {
    let year = Year::new();
    year.score(&[]);
    let ledger = year.path("ledger.csv");
    let tune: Value =
        serde_json::from_str(&year.run("tune", &["--outcomes", &ledger, "--format", "json"]))
            .unwrap();
    let backtest: Value =
        serde_json::from_str(&year.run("backtest", &["--outcomes", &ledger, "--format", "json"]))
            .unwrap();
    // Every snapshot the backtest judges is either fitted on or judged on.
    assert_eq!(
        tune["fitted_snapshots"].as_u64().unwrap() + tune["judged_snapshots"].as_u64().unwrap(),
        backtest[0]["snapshots"].as_u64().unwrap()
    );
    assert!(
        tune["fitted_on"][1].as_str().unwrap() < tune["judged_on"][0].as_str().unwrap(),
        "{tune}"
    );
    let factors: Vec<&str> = tune["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["factor"].as_str().unwrap())
        .collect();
    assert_eq!(
        factors,
        [
            "seat-utilisation",
            "engagement",
            "usage-trend",
            "feature-adoption",
            "support-load",
            "nps"
        ]
    );
    let proposed: f64 = tune["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["proposed"].as_f64().unwrap())
        .sum();
    assert!((proposed - 1.0).abs() < 1e-9, "{proposed}");
    // The gain is the proposal's held-out AUC less the current weights'.
    let gain = tune["auc_gain"].as_f64().unwrap();
    let (current, new) = (
        tune["current"]["churn_auc"].as_f64().unwrap(),
        tune["proposed"]["churn_auc"].as_f64().unwrap(),
    );
    assert!((new - current - gain).abs() < 1e-12);
    let table = year.run("tune", &["--outcomes", &ledger]);
    let verdict = if tune["better"].as_bool().unwrap() {
        "verdict: the proposed weights rank churn better"
    } else {
        "verdict: the proposed weights are not better beyond chance"
    };
    assert!(table.contains(verdict), "{table}");

    // The proposal, pasted into a copy of the tenant, scores the same year as
    // another build; the backtest judges both on the same snapshots.
    let snippet = &table[table.find("[weights]\n").expect("a [weights] snippet")..];
    let config = std::fs::read_to_string("../../tenants/saas-acme/tenant.toml")
        .unwrap()
        .lines()
        .map(|line| match line.starts_with("plugin = ") {
            true => format!("plugin = {:?}", headway_tests::SAAS_HEALTH),
            false => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let tenant = year.dir.path().join("saas-acme");
    std::fs::create_dir(&tenant).unwrap();
    std::fs::write(tenant.join("tenant.toml"), format!("{config}\n{snippet}")).unwrap();
    let tenant = tenant.to_str().unwrap();
    let scored = headway(&[
        "score",
        "--tenant",
        tenant,
        "--store",
        &year.store,
        "--format",
        "json",
        &year.path("year.jsonl"),
    ]);
    assert!(scored.status.success(), "{}", stderr(&scored));
    let out = headway(&[
        "backtest",
        "--store",
        &year.store,
        "--tenant",
        tenant,
        "--outcomes",
        &ledger,
        "--format",
        "json",
    ]);
    let both: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let versions: Vec<&str> = both
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["plugin"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(
        versions.contains(&"0.1.0") && versions.iter().any(|v| v.starts_with("0.1.0+weights.")),
        "{versions:?}"
    );
    assert_eq!(both[0]["snapshots"], both[1]["snapshots"]);
    let refused = headway(&[
        "tune",
        "--store",
        &year.store,
        "--tenant",
        "tenants/saas-acme",
        "--outcomes",
        &ledger,
        "--holdout",
        "1",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("the held-out share of days must lie between 0 and 1, not 1"),
        "{}",
        stderr(&refused)
    );
}
