//! Contract evolution: a plugin built for an older contract keeps loading and
//! scoring through the host's adapter; a newer plugin's declared inputs limit what
//! it is sent.

use headway_core::{Date, ErrorKind, Fit};
use headway_host::{ContractVersion, LogLevel};
use headway_tests::{CONTRACT_V0_1_0, SAAS_HEALTH, load};

use crate::accounts;

fn day(s: &str) -> Date {
    s.parse().unwrap()
}

const THREE: &str = r#"{"id":"a","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01","measures":{"usage":80},"attributes":{"region":"emea"}}
{"id":"b","stage":"trial","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01","measures":{"usage":20},"attributes":{"region":"apac"},"milestones_reached":{"launch":"2026-10-01"}}
{"id":"c","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01"}"#;

#[test]
fn a_plugin_built_for_0_1_0_scores_through_the_adapter() {
    let plugin = load(CONTRACT_V0_1_0, &[("greeting", "hej")]);
    assert_eq!(plugin.contract(), ContractVersion::V0_1_0);
    let info = plugin.info();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("legacy-rules", "1.4.2")
    );
    assert_eq!(
        info.reads, None,
        "0.1.0 has no `reads`: every column is sent"
    );
    let upsell = info.milestones[0].upsell.as_ref().unwrap();
    assert_eq!(
        (upsell.offer.as_str(), upsell.arr, upsell.take_rate),
        ("Launch pack", 2_000.0, 0.5)
    );

    let report = plugin.assess(&accounts(THREE), 1);
    let a = report.results[0].as_ref().unwrap();
    assert_eq!((a.score, a.band.as_str()), (80.0, "green"));
    let f = &a.factors[0];
    assert_eq!((f.value, f.weight, f.contribution), (80.0, 1.0, 80.0));
    assert_eq!(f.reason, "usage 80 in emea");
    let m = &a.milestones[0];
    assert_eq!((m.progress, m.reached_on), (0.8, None));
    assert_eq!(m.predicted_on, Some(day("2026-12-01")));
    assert_eq!(m.likelihood, Some(0.25));
    assert_eq!(a.fit, Some(Fit::Ideal));

    let b = report.results[1].as_ref().unwrap();
    assert_eq!((b.score, b.band.as_str()), (20.0, "red"));
    assert_eq!(b.factors[0].reason, "usage 20 in apac");
    let m = &b.milestones[0];
    assert_eq!(
        (m.progress, m.reached_on, m.predicted_on),
        (1.0, Some(day("2026-10-01")), None)
    );
    assert_eq!(b.fit, Some(Fit::Stretch));

    let c = report.results[2].as_ref().unwrap_err();
    assert_eq!(c.kind, ErrorKind::Rule);
    assert_eq!(c.code.as_deref(), Some("missing-measure"));
    assert_eq!(c.message, "`c` has no usage");

    assert_eq!(report.logs.len(), 1);
    assert_eq!(report.logs[0].level, LogLevel::Warn);
    assert_eq!(report.logs[0].message, "hej: 3 accounts");
}

#[test]
fn declared_reads_limit_the_columns_sent() {
    let data = accounts(
        r#"{"id":"x","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01","measures":{"seats-purchased":10,"secret-margin":0.4},"history":{"weekly-active-users":[["2026-10-01",3]],"logins":[["2026-10-01",9]]},"outcomes":[{"name":"otif","value":0.9}],"attributes":{"csm":"ana"},"milestones_reached":{"first-value":"2026-06-01"}}"#,
    );
    let saas = load(SAAS_HEALTH, &[]);
    assert_eq!(saas.contract(), ContractVersion::LATEST);
    let batch = saas.columnar_batch(&saas.batch_of(&data));
    let names = |v: Vec<&str>| v.join(",");
    assert_eq!(
        names(batch.measures.iter().map(|c| c.name.as_str()).collect()),
        "seats-purchased"
    );
    assert_eq!(
        names(batch.history.iter().map(|c| c.name.as_str()).collect()),
        "weekly-active-users"
    );
    assert!(batch.outcomes.is_empty() && batch.attributes.is_empty());
    assert_eq!(
        batch.milestones_reached.len(),
        1,
        "milestones are always sent"
    );

    let legacy = load(CONTRACT_V0_1_0, &[]);
    let batch = legacy.columnar_batch(&legacy.batch_of(&data));
    assert_eq!(
        names(batch.measures.iter().map(|c| c.name.as_str()).collect()),
        "seats-purchased,secret-margin"
    );
    assert_eq!(
        (
            batch.history.len(),
            batch.outcomes.len(),
            batch.attributes.len()
        ),
        (2, 1, 1)
    );
}
