//! The behaviour every backend must have, run against each (see the bottom):
//! a backend passes these or it is not a history store.

use headway_core::retention::{
    AdvocacyEvent, AdvocacyKind, LedgerRow, RevenueStage, SurveyKind, SurveyResponse,
};

use crate::testing::{TestDatabase, info, plugin, record, snap};
use crate::{
    AlertQuery, AlertStatus, Attempt, Decision, DecisionEntry, DecisionInput, KeptBuild,
    OverrideEdit, PgStore, Recorded, RunLog, SnapshotStore, SqliteStore,
};
use headway_core::overrides::{Override, Setting, Target};

fn query(since: Option<headway_core::Date>, status: Option<AlertStatus>) -> AlertQuery {
    AlertQuery {
        since,
        status,
        limit: 10,
    }
}

pub fn round_trip_and_idempotent_reruns(store: &mut dyn SnapshotStore) {
    let run = [
        snap("a", "2026-10-01", 50.0, "sha256:1"),
        snap("a", "2026-11-01", 60.0, "sha256:1"),
        snap("b", "2026-11-01", 70.0, "sha256:1"),
    ];
    let first = record(store, "sha256:1", &run);
    assert_eq!(
        first,
        Recorded {
            new: 3,
            changed: 0,
            unchanged: 0
        }
    );
    let again = record(store, "sha256:1", &run);
    assert_eq!(
        again,
        Recorded {
            new: 0,
            changed: 0,
            unchanged: 3
        }
    );
    // Corrected input for one day: replaced, not duplicated.
    let fixed = [snap("b", "2026-11-01", 72.0, "sha256:1")];
    let third = record(store, "sha256:1", &fixed);
    assert_eq!(
        third,
        Recorded {
            new: 0,
            changed: 1,
            unchanged: 0
        }
    );
    // A new build is kept beside the old one.
    let v2 = [snap("a", "2026-11-01", 65.0, "sha256:2")];
    record(store, "sha256:2", &v2);

    let history = store.account_history("acme", "a").unwrap();
    let seen: Vec<(String, f64, &str)> = history
        .iter()
        .map(|s| (s.as_of.to_string(), s.score, s.plugin.digest.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-10-01".to_owned(), 50.0, "sha256:1"),
            ("2026-11-01".to_owned(), 60.0, "sha256:1"),
            ("2026-11-01".to_owned(), 65.0, "sha256:2"),
        ]
    );
    assert_eq!(history[0], run[0], "every field round-trips");
    assert_eq!(store.snapshots("acme", "sha256:1").unwrap()[2].score, 72.0);
    assert!(store.snapshots("other", "sha256:1").unwrap().is_empty());
    let builds = store.builds("acme").unwrap();
    assert_eq!(builds.len(), 2);
    assert_eq!(
        (builds[0].snapshots, builds[0].first.to_string()),
        (3, "2026-10-01".to_owned())
    );
    assert_eq!(builds[1].info, info());
}

pub fn runs_are_logged_with_their_snapshots_and_listed_newest_first(store: &mut dyn SnapshotStore) {
    for day in ["2026-09-01", "2026-10-01", "2026-11-01"] {
        record(store, "sha256:1", &[snap("a", day, 50.0, "sha256:1")]);
    }
    let runs = store.runs("acme", None, 2).unwrap();
    let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    assert_eq!(ids, [3, 2]);
    assert_eq!(runs[0].recorded.new, 1);
    assert_eq!(runs[0].plugin.digest, "sha256:1");
    // The next page starts below the last id seen.
    let older: Vec<i64> = store
        .runs("acme", Some(2), 2)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(older, [1]);
    assert_eq!(store.run("acme", 2).unwrap().unwrap().id, 2);
    // Another tenant sees neither the list nor a run by its id.
    assert!(store.runs("other", None, 10).unwrap().is_empty());
    assert!(store.run("other", 2).unwrap().is_none());
}

pub fn ledger_and_survey_uploads_are_idempotent_and_scoped(store: &mut dyn SnapshotStore) {
    let row = |account: &str, day: &str, arr: f64| LedgerRow {
        account_id: account.into(),
        date: day.parse().unwrap(),
        arr,
        stage: RevenueStage::Paid,
        segment: Some("smb".into()),
        term_end: Some("2027-01-01".parse().unwrap()),
    };
    let rows = vec![row("a", "2026-01-01", 1200.0), row("b", "2026-02-01", 0.0)];
    let counts = |r: Recorded| (r.new, r.changed, r.unchanged);
    assert_eq!(counts(store.put_ledger("acme", &rows).unwrap()), (2, 0, 0));
    assert_eq!(counts(store.put_ledger("acme", &rows).unwrap()), (0, 0, 2));
    let fixed = [row("a", "2026-01-01", 1500.0)];
    assert_eq!(counts(store.put_ledger("acme", &fixed).unwrap()), (0, 1, 0));
    let stored = store.ledger("acme").unwrap();
    assert_eq!(stored, vec![fixed[0].clone(), rows[1].clone()]);
    assert!(store.ledger("other").unwrap().is_empty());

    let answer = SurveyResponse {
        account_id: "a".into(),
        date: "2026-03-01".parse().unwrap(),
        kind: SurveyKind::Nps,
        score: 9.0,
    };
    let csat = SurveyResponse {
        kind: SurveyKind::Csat,
        score: 4.0,
        ..answer.clone()
    };
    let both = [answer.clone(), csat.clone()];
    assert_eq!(counts(store.put_surveys("acme", &both).unwrap()), (2, 0, 0));
    assert_eq!(counts(store.put_surveys("acme", &both).unwrap()), (0, 0, 2));
    assert_eq!(store.surveys("acme").unwrap(), vec![csat, answer]);
    assert!(store.surveys("other").unwrap().is_empty());

    let referral = AdvocacyEvent {
        account_id: "a".into(),
        date: "2026-03-01".parse().unwrap(),
        kind: AdvocacyKind::Referral,
        referred: Some("n".into()),
    };
    // A second referral the same day, of another account, is another event.
    let another = AdvocacyEvent {
        referred: Some("m".into()),
        ..referral.clone()
    };
    let review = AdvocacyEvent {
        kind: AdvocacyKind::Review,
        referred: None,
        ..referral.clone()
    };
    let events = [referral.clone(), another.clone(), review.clone()];
    assert_eq!(
        counts(store.put_advocacy("acme", &events).unwrap()),
        (3, 0, 0)
    );
    assert_eq!(
        counts(store.put_advocacy("acme", &events).unwrap()),
        (0, 0, 3)
    );
    assert_eq!(
        store.advocacy("acme").unwrap(),
        vec![another, referral, review]
    );
    assert!(store.advocacy("other").unwrap().is_empty());
}

pub fn a_run_dropped_before_commit_leaves_nothing(store: &mut dyn SnapshotStore) {
    record(
        store,
        "sha256:1",
        &[snap("a", "2026-10-01", 50.0, "sha256:1")],
    );
    {
        let mut run = store
            .begin_run("acme", &info(), &plugin("sha256:1"))
            .unwrap();
        run.add(&[snap("b", "2026-10-01", 40.0, "sha256:1")])
            .unwrap();
        run.add(&[snap("a", "2026-10-01", 99.0, "sha256:1")])
            .unwrap();
    }
    let kept = store.snapshots("acme", "sha256:1").unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].account_id.as_str(), kept[0].score), ("a", 50.0));
    assert_eq!(store.runs("acme", None, 10).unwrap().len(), 1);
    assert_eq!(store.builds("acme").unwrap()[0].snapshots, 1);
}

pub fn a_key_twice_in_one_batch_counts_as_row_by_row(store: &mut dyn SnapshotStore) {
    let batch = [
        snap("a", "2026-10-01", 50.0, "sha256:1"),
        snap("a", "2026-10-01", 55.0, "sha256:1"),
        snap("a", "2026-10-01", 55.0, "sha256:1"),
    ];
    let recorded = record(store, "sha256:1", &batch);
    assert_eq!(
        (recorded.new, recorded.changed, recorded.unchanged),
        (1, 1, 1)
    );
    assert_eq!(store.snapshots("acme", "sha256:1").unwrap()[0].score, 55.0);
}

pub fn ids_sort_by_their_bytes(store: &mut dyn SnapshotStore) {
    let ids = ["b", "B", "é", "a-2", "a10", "a2"];
    let batch: Vec<_> = ids
        .iter()
        .map(|id| snap(id, "2026-10-01", 50.0, "sha256:1"))
        .collect();
    record(store, "sha256:1", &batch);
    let stored: Vec<String> = store
        .snapshots("acme", "sha256:1")
        .unwrap()
        .into_iter()
        .map(|s| s.account_id)
        .collect();
    let mut by_bytes: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    by_bytes.sort();
    assert_eq!(stored, by_bytes);
}

pub fn recent_reads_omit_factors_and_older_days(store: &mut dyn SnapshotStore) {
    let mut renewing = snap("a", "2026-11-01", 60.0, "sha256:1");
    renewing.renewal_date = Some("2027-02-01".parse().unwrap());
    renewing.segment = "enterprise".into();
    record(
        store,
        "sha256:1",
        &[snap("a", "2026-09-01", 50.0, "sha256:1"), renewing.clone()],
    );
    let recent = store
        .recent("acme", "sha256:1", "2026-10-01".parse().unwrap())
        .unwrap();
    assert_eq!(recent.len(), 1);
    assert!(recent[0].factors.is_empty());
    assert_eq!(
        (recent[0].segment.as_str(), recent[0].renewal_date),
        ("enterprise", renewing.renewal_date)
    );
    assert_eq!(recent[0].milestones, renewing.milestones);
}

pub fn alerts_are_filed_once_and_runs_read_their_prior_days(store: &mut dyn SnapshotStore) {
    use headway_core::alerts::{AlertDetail, Fired};
    let day = |d: &str| d.parse::<headway_core::Date>().unwrap();
    let fire = |account: &str, d: &str| Fired {
        rule: "turned-red".into(),
        kind: "band-entered",
        account_id: account.into(),
        as_of: day(d),
        summary: "entered red".into(),
        detail: AlertDetail {
            score: 40.0,
            band: "red".into(),
            score_before: Some(70.0),
            band_before: Some("green".into()),
            since: Some(day("2026-09-01")),
            moved: Vec::new(),
        },
    };
    record(
        store,
        "sha256:1",
        &[snap("a", "2026-09-01", 50.0, "sha256:1")],
    );
    for (attempt, expect_new) in [(1, 2), (2, 0)] {
        let mut run = store
            .begin_run("acme", &info(), &plugin("sha256:1"))
            .unwrap();
        run.add(&[
            snap("a", "2026-10-01", 40.0, "sha256:1"),
            snap("b", "2026-10-01", 30.0, "sha256:1"),
        ])
        .unwrap();
        // Earlier days of the run's build, this run's own included.
        let prior = run
            .prior(&["a", "b", "c"], day("2026-01-01"), day("2026-10-02"))
            .unwrap();
        let seen: Vec<(&str, String)> = prior
            .iter()
            .map(|s| (s.account_id.as_str(), s.as_of.to_string()))
            .collect();
        assert_eq!(
            seen,
            [
                ("a", "2026-09-01".to_owned()),
                ("a", "2026-10-01".to_owned()),
                ("b", "2026-10-01".to_owned())
            ],
            "attempt {attempt}"
        );
        let before = run
            .prior(&["a"], day("2026-01-01"), day("2026-10-01"))
            .unwrap();
        assert_eq!(before.len(), 1, "until is exclusive");
        let new = run
            .add_alerts(&[fire("a", "2026-10-01"), fire("b", "2026-10-01")])
            .unwrap();
        assert_eq!(
            new, expect_new,
            "attempt {attempt}: once per rule, account and day"
        );
        let log = RunLog::new("acme", &plugin("sha256:1"), "test", String::new());
        run.commit(log).unwrap();
    }
    let alerts = store.alerts("acme", &query(None, None)).unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(
        (
            alerts[0].account_id.as_str(),
            alerts[0].status,
            alerts[0].digest.as_str()
        ),
        ("a", AlertStatus::Pending, "sha256:1")
    );
    assert_eq!(
        alerts[0].detail.as_ref().map(|d| d.score_before),
        Some(Some(70.0))
    );
    assert!(
        store
            .alerts("acme", &query(Some(day("2026-10-02")), None))
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .alerts("other", &query(None, None))
            .unwrap()
            .is_empty()
    );
    // A run dropped before its commit files nothing.
    {
        let mut run = store
            .begin_run("acme", &info(), &plugin("sha256:1"))
            .unwrap();
        run.add_alerts(&[fire("c", "2026-10-01")]).unwrap();
    }
    assert_eq!(store.alerts("acme", &query(None, None)).unwrap().len(), 2);
}

pub fn the_outbox_hands_each_alert_to_one_deliverer_until_settled(store: &mut dyn SnapshotStore) {
    alerts_are_filed_once_and_runs_read_their_prior_days(store);
    // Two pending alerts (a and b, 2026-10-01). At t=1000 with a 500 ms lease.
    let first = store.claim_alerts("acme", 1_000, 500, 1).unwrap();
    assert_eq!(first.len(), 1, "limit");
    assert_eq!(first[0].account_id, "a");
    let second = store.claim_alerts("acme", 1_000, 500, 10).unwrap();
    assert_eq!(
        second
            .iter()
            .map(|a| a.account_id.as_str())
            .collect::<Vec<_>>(),
        ["b"],
        "a held alert is not handed out again"
    );
    assert!(
        store
            .claim_alerts("other", 1_000, 500, 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_alerts("acme", 1_499, 500, 10)
            .unwrap()
            .is_empty()
    );
    // The lease of a deliverer that died ends: b is handed out again.
    let retaken = store.claim_alerts("acme", 1_500, 500, 10).unwrap();
    assert_eq!(retaken.len(), 2);
    // a fails: due again from 5000, its error kept.
    let failed = Attempt::Failed {
        error: "connection refused".into(),
        retry_at_ms: 5_000,
    };
    assert!(
        store
            .settle_alert("acme", &first[0].key(), &failed)
            .unwrap()
    );
    let delivered = Attempt::Delivered {
        at: "2026-12-02T10:00:00Z".into(),
    };
    assert!(
        store
            .settle_alert("acme", &second[0].key(), &delivered)
            .unwrap()
    );
    // Settling again (a late deliverer) changes nothing.
    assert!(
        !store
            .settle_alert("acme", &second[0].key(), &failed)
            .unwrap()
    );
    assert!(
        !store
            .settle_alert("other", &first[0].key(), &delivered)
            .unwrap()
    );
    assert!(
        store
            .claim_alerts("acme", 4_999, 500, 10)
            .unwrap()
            .is_empty()
    );
    let due = store.claim_alerts("acme", 5_000, 500, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].attempts, due[0].last_error.as_deref()),
        (1, Some("connection refused"))
    );
    let gave_up = Attempt::GaveUp {
        error: "HTTP 500".into(),
    };
    assert!(store.settle_alert("acme", &due[0].key(), &gave_up).unwrap());
    assert!(
        store
            .claim_alerts("acme", 1_000_000, 500, 10)
            .unwrap()
            .is_empty()
    );
    let dead = store
        .alerts("acme", &query(None, Some(AlertStatus::Dead)))
        .unwrap();
    assert_eq!(
        (dead.len(), dead[0].attempts, dead[0].last_error.as_deref()),
        (1, 2, Some("HTTP 500"))
    );
    let done = store
        .alerts("acme", &query(None, Some(AlertStatus::Delivered)))
        .unwrap();
    assert_eq!(
        (done[0].account_id.as_str(), done[0].delivered_at.as_deref()),
        ("b", Some("2026-12-02T10:00:00Z"))
    );
    assert!(
        store
            .alerts("acme", &query(None, Some(AlertStatus::Pending)))
            .unwrap()
            .is_empty()
    );
}

pub fn overrides_are_set_replaced_cleared_and_audited(store: &mut dyn SnapshotStore) {
    let factor = |account: &str, score: f64| Override {
        account_id: account.into(),
        target: "factor:nps".parse().unwrap(),
        value: Setting::Score(score),
        from: "2026-10-01".parse().unwrap(),
        until: "2026-10-31".parse().unwrap(),
        author: "dana".into(),
        reason: "exec sponsor confirmed".into(),
    };
    let band = Override {
        target: Target::Band,
        value: Setting::Band("green".into()),
        ..factor("a", 0.0)
    };
    let edit = |at: &str, new: &Override| OverrideEdit {
        at: at.into(),
        account_id: new.account_id.clone(),
        target: new.target.clone(),
        author: new.author.clone(),
        reason: new.reason.clone(),
        new: Some(new.clone()),
    };
    let first = store
        .change_override("acme", edit("t1", &factor("a", 80.0)))
        .unwrap()
        .unwrap();
    assert_eq!((first.old, first.new), (None, Some(factor("a", 80.0))));
    let second = store
        .change_override("acme", edit("t2", &factor("a", 90.5)))
        .unwrap()
        .unwrap();
    assert_eq!(
        second.old,
        Some(factor("a", 80.0)),
        "a replacement keeps the old"
    );
    store.change_override("acme", edit("t3", &band)).unwrap();
    store
        .change_override("acme", edit("t4", &factor("b", 10.0)))
        .unwrap();
    let all = store.overrides("acme", None).unwrap();
    assert_eq!(all, [band.clone(), factor("a", 90.5), factor("b", 10.0)]);
    assert_eq!(
        store.overrides("acme", Some("a")).unwrap(),
        [band.clone(), factor("a", 90.5)]
    );

    let clear = OverrideEdit {
        at: "t5".into(),
        author: "lee".into(),
        reason: "renewal signed".into(),
        new: None,
        ..edit("t5", &factor("a", 0.0))
    };
    let cleared = store
        .change_override("acme", clear.clone())
        .unwrap()
        .unwrap();
    assert_eq!((cleared.old, cleared.new), (Some(factor("a", 90.5)), None));
    assert_eq!(store.overrides("acme", Some("a")).unwrap(), [band]);
    // Clearing what is not set changes nothing and logs nothing.
    assert_eq!(store.change_override("acme", clear).unwrap(), None);

    let log = store.override_log("acme", "a").unwrap();
    let seen: Vec<(&str, &str, String, bool, bool)> = log
        .iter()
        .map(|c| {
            let target = c.target.to_string();
            (
                c.at.as_str(),
                c.author.as_str(),
                target,
                c.old.is_some(),
                c.new.is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("t1", "dana", "factor:nps".into(), false, true),
            ("t2", "dana", "factor:nps".into(), true, true),
            ("t3", "dana", "band".into(), false, true),
            ("t5", "lee", "factor:nps".into(), true, false),
        ]
    );
    assert_eq!(log[4 - 1].reason, "renewal signed");
    assert_eq!(store.override_log("acme", "b").unwrap().len(), 1);
    // Another tenant sees none of it.
    assert!(store.overrides("globex", None).unwrap().is_empty());
    assert!(store.override_log("globex", "a").unwrap().is_empty());
}

fn decision(tenant: &str, input_digest: &str) -> Decision {
    Decision {
        id: 0,
        tenant: tenant.to_owned(),
        at: "2026-12-03T10:00:00.000Z".to_owned(),
        run: None,
        caller: "tenant-token sha256:1a2b3c4d".to_owned(),
        plugin: plugin("sha256:1"),
        build: "sha256:b1".to_owned(),
        source: "request body".to_owned(),
        input: DecisionInput::Request,
        as_of_default: Some("2026-12-01".parse().unwrap()),
        input_digest: input_digest.to_owned(),
        output_digest: "sha256:out".to_owned(),
        records: 3,
        failed: 1,
        input_kept: true,
        masked: vec!["attributes.email".to_owned()],
    }
}

pub fn decisions_keep_inputs_and_builds_once_and_stay_with_their_tenant(
    store: &mut dyn SnapshotStore,
) {
    let build = KeptBuild {
        component: vec![0, 97, 115, 109, 255],
        options: "{\"tenant\":\"acme\"}".to_owned(),
    };
    let first = store
        .log_decision(&DecisionEntry {
            decision: decision("acme", "sha256:in1"),
            input: Some(b"\x28\xb5 first"),
            build: Some(&build),
        })
        .unwrap();
    assert!(first.id > 0);
    assert_eq!(
        Decision {
            id: 0,
            ..first.clone()
        },
        decision("acme", "sha256:in1")
    );
    // The same input and build again: logged again, stored once (the first bytes stay).
    let second = store
        .log_decision(&DecisionEntry {
            decision: decision("acme", "sha256:in1"),
            input: Some(b"other bytes"),
            build: None,
        })
        .unwrap();
    assert!(second.id > first.id);
    let third = store
        .log_decision(&DecisionEntry {
            decision: Decision {
                input_kept: false,
                ..decision("acme", "sha256:in2")
            },
            input: None,
            build: None,
        })
        .unwrap();
    assert_eq!(
        store.kept_input("acme", "sha256:in1").unwrap().as_deref(),
        Some(&b"\x28\xb5 first"[..])
    );
    assert_eq!(store.kept_input("acme", "sha256:in2").unwrap(), None);
    assert_eq!(store.kept_build("acme", "sha256:b1").unwrap(), Some(build));
    assert!(store.has_kept_build("acme", "sha256:b1").unwrap());
    assert!(!store.has_kept_build("acme", "sha256:b2").unwrap());
    let ids = |list: Vec<Decision>| list.iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.decisions("acme", None, 10).unwrap()),
        [third.id, second.id, first.id]
    );
    assert_eq!(
        ids(store.decisions("acme", Some(third.id), 1).unwrap()),
        [second.id]
    );
    assert_eq!(
        store.decision("acme", first.id).unwrap(),
        Some(first.clone())
    );
    // Another tenant sees none of it.
    assert_eq!(store.decision("globex", first.id).unwrap(), None);
    assert!(store.decisions("globex", None, 10).unwrap().is_empty());
    assert_eq!(store.kept_input("globex", "sha256:in1").unwrap(), None);
    assert_eq!(store.kept_build("globex", "sha256:b1").unwrap(), None);
}

/// Each function above as a test, once per backend.
macro_rules! for_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let mut store = super::SqliteStore::open(&dir.path().join("h.db")).unwrap();
                    super::$name(&mut store);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let Some(db) = super::TestDatabase::create() else { return };
                    let mut store = super::PgStore::connect(&db.url()).unwrap();
                    super::$name(&mut store);
                }
            )*
        }
    };
}

for_each_backend!(
    round_trip_and_idempotent_reruns,
    runs_are_logged_with_their_snapshots_and_listed_newest_first,
    ledger_and_survey_uploads_are_idempotent_and_scoped,
    a_run_dropped_before_commit_leaves_nothing,
    a_key_twice_in_one_batch_counts_as_row_by_row,
    ids_sort_by_their_bytes,
    recent_reads_omit_factors_and_older_days,
    alerts_are_filed_once_and_runs_read_their_prior_days,
    the_outbox_hands_each_alert_to_one_deliverer_until_settled,
    overrides_are_set_replaced_cleared_and_audited,
    decisions_keep_inputs_and_builds_once_and_stay_with_their_tenant,
);
