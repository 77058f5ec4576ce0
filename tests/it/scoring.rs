//! Exact scores for hand-checked accounts, per-account errors, determinism.

use headway_core::{Date, ErrorKind, Fit};
use headway_tests::{LOGISTICS_OTIF, SAAS_HEALTH, load};

use crate::{accounts, close, close4};

/// 40 seats, 30 active, 18 weekly users (15 four months ago), 40% adoption,
/// 4 open tickets, NPS 8. By hand (weights .25/.20/.15/.20/.10/.10):
///   seat-utilisation 30/40 = .75 -> ramp(.3,.9) = .75     -> 18.75
///   engagement       18/30 = .60 -> ramp(.2,.8) = 2/3     -> 13.3333
///   usage-trend      18/15 = 1.2 -> ramp(.7,1.2) = 1      -> 15
///   feature-adoption .40         -> ramp(.1,.7) = .5      -> 10
///   support-load     1 per 10 seats -> ramp(3,.5) = .8    -> 8
///   nps              8           -> .8                    -> 8
///   score 73.0833 -> green (from 70)
const SAAS_GOOD: &str = r#"{"id":"good","stage":"active","segment":"mid-market","arr":16800,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"seats-purchased":40,"seats-active":30,"weekly-active-users":18,"feature-adoption":0.4,"open-tickets":4,"nps":8},"history":{"weekly-active-users":[["2026-07-04",15],["2026-09-02",17]]}}"#;
/// The same without NPS and history: those factors are skipped and their weight
/// (.25) spread over the rest (each weight / .75):
///   25 + 17.7778 + 13.3333 + 10.6667 = 66.7778 -> yellow
const SAAS_SKIPS: &str = r#"{"id":"skips","stage":"active","segment":"smb","arr":9600,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"seats-purchased":40,"seats-active":30,"weekly-active-users":18,"feature-adoption":0.4,"open-tickets":4}}"#;
/// NPS 2 instead of 8: 73.0833 - 8 + 2 = 67.0833, and the detractor rule forces red.
const SAAS_DETRACTOR: &str = r#"{"id":"detractor","stage":"active","arr":16800,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"seats-purchased":40,"seats-active":30,"weekly-active-users":18,"feature-adoption":0.4,"open-tickets":4,"nps":2},"history":{"weekly-active-users":[["2026-07-04",15]]}}"#;
/// No seats-purchased: the rule refuses this account, and only this account.
const SAAS_NO_SEATS: &str = r#"{"id":"no-seats","stage":"active","arr":1000,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"seats-active":3}}"#;

#[test]
fn saas_scores_match_hand_computation() {
    let plugin = load(SAAS_HEALTH, &[]);
    let batch = accounts(&[SAAS_GOOD, SAAS_SKIPS, SAAS_DETRACTOR, SAAS_NO_SEATS].join("\n"));
    let report = plugin.assess(&batch, 1);
    assert_eq!(report.results.len(), 4);

    let good = report.results[0].as_ref().expect("good account scores");
    close4(good.score, 73.0833);
    assert_eq!(good.band, "green");
    let contributions: Vec<f64> = good.factors.iter().map(|f| f.contribution).collect();
    for (got, want) in contributions
        .iter()
        .zip([18.75, 13.3333, 15.0, 10.0, 8.0, 8.0])
    {
        close4(*got, want);
    }
    assert_eq!(good.factors[0].name, "seat-utilisation");
    close(good.factors[0].value, 0.75);
    close(good.factors[0].weight, 0.25);
    assert_eq!(good.factors[0].reason, "30 of 40 seats in use");
    assert_eq!(good.factors[2].reason, "weekly users +20% over 90 days");
    assert_eq!(good.factors[4].reason, "4 open tickets (1.0 per 10 seats)");
    // Largest shortfall: feature-adoption (20 - 10 = 10) over engagement (20 - 13.33).
    assert_eq!(
        good.top_factor().map(|f| f.name.as_str()),
        Some("feature-adoption")
    );
    let progress: Vec<(&str, f64)> = good
        .milestones
        .iter()
        .map(|m| (m.id.as_str(), m.progress))
        .collect();
    assert_eq!(progress[0], ("first-value", 1.0));
    close(progress[1].1, 0.75 / 0.8);
    close(progress[2].1, 0.4 / 0.7);
    // Reached now (18 weekly users >= 5) but not recorded before: reached as of today.
    assert_eq!(
        good.milestones[0].reached_on,
        Some("2026-11-01".parse::<Date>().unwrap())
    );
    assert_eq!(
        good.next_milestone().map(|m| m.id.as_str()),
        Some("team-rollout")
    );
    assert_eq!(good.fit, Some(Fit::Ideal));

    let skips = report.results[1].as_ref().expect("skips account scores");
    close4(skips.score, 66.7778);
    assert_eq!(skips.band, "yellow");
    assert_eq!(skips.factors[2].weight, 0.0);
    assert_eq!(skips.factors[2].reason, "under 90 days of usage history");
    close(skips.factors[0].weight, 0.25 / 0.75);
    assert_eq!(skips.fit, Some(Fit::Stretch));

    let detractor = report.results[2].as_ref().expect("detractor scores");
    close4(detractor.score, 67.0833);
    assert_eq!(detractor.band, "red");

    let refused = report.results[3].as_ref().expect_err("no seats is refused");
    assert_eq!(refused.kind, ErrorKind::Rule);
    assert_eq!(refused.code.as_deref(), Some("missing-measure"));
    assert!(
        refused.message.contains("seats-purchased"),
        "{}",
        refused.message
    );
}

/// OTIF .931 vs .95, DIFOT on target, claims 1.5% vs 1%, OTIF +1 point over 90
/// days, 450 of 500 committed shipments. By hand (.35/.25/.15/.15/.10):
///   otif   .98 of target -> ramp(.85,1) = .86667 -> 30.3333
///   difot  1.0           -> 1                  -> 25
///   claims 1.5x target   -> ramp(3,1) = .75    -> 11.25
///   trend  +.01          -> ramp(-.05,.05) = .6 -> 9
///   volume .9            -> ramp(.5,1) = .8    -> 8
///   score 83.5833 -> healthy (from 80)
const LOG_GOOD: &str = r#"{"id":"good","stage":"active","segment":"enterprise","arr":90000,"start_date":"2024-01-01","as_of":"2026-11-01","measures":{"shipments-30d":450,"committed-shipments-30d":500,"shipments-total":250,"sites-live":2},"outcomes":[{"name":"otif","value":0.931,"target":0.95},{"name":"difot","value":0.92,"target":0.92},{"name":"claims-rate","value":0.015,"target":0.01,"higher_is_better":false}],"history":{"otif":[["2026-07-24",0.921],["2026-10-02",0.925]]}}"#;
/// No OTIF target of its own: the tenant's configured default (.95) applies. On
/// target now and last month (.96), not before (.94): 2 of 3 months, predicted one
/// month out.
const LOG_DEFAULT_TARGET: &str = r#"{"id":"default-target","stage":"active","arr":9000,"start_date":"2024-01-01","as_of":"2026-11-01","measures":{"shipments-30d":100,"committed-shipments-30d":100},"outcomes":[{"name":"otif","value":0.97}],"history":{"otif":[["2026-09-02",0.94],["2026-10-02",0.96]]}}"#;

#[test]
fn logistics_scores_match_hand_computation() {
    let plugin = load(LOGISTICS_OTIF, &[("default-otif-target", "0.95")]);
    let report = plugin.assess(&accounts(&[LOG_GOOD, LOG_DEFAULT_TARGET].join("\n")), 1);

    let good = report.results[0].as_ref().expect("good account scores");
    close4(good.score, 83.5833);
    assert_eq!(good.band, "healthy");
    for (got, want) in good
        .factors
        .iter()
        .map(|f| f.contribution)
        .zip([30.3333, 25.0, 11.25, 9.0, 8.0])
    {
        close4(got, want);
    }
    assert_eq!(good.factors[0].reason, "OTIF 93.1% vs target 95.0%");
    assert_eq!(
        good.factors[2].reason,
        "claims 1.5% of shipments (target 1.0%)"
    );
    close(good.milestones[0].progress, 0.5);
    assert_eq!(good.milestones[1].progress, 0.0);
    assert_eq!(good.milestones[1].predicted_on, None);
    close(good.milestones[2].progress, 0.4);
    assert_eq!(good.fit, Some(Fit::Ideal));

    let default = report.results[1]
        .as_ref()
        .expect("default-target account scores");
    assert_eq!(default.factors[0].reason, "OTIF 97.0% vs target 95.0%");
    // DIFOT, claims and trend are skipped (no data): OTIF's weight becomes .35/.45.
    close4(default.factors[0].contribution, 77.7778);
    close(default.score, 100.0);
    let reliable = &default.milestones[1];
    close(reliable.progress, 2.0 / 3.0);
    assert_eq!(
        reliable.predicted_on,
        Some("2026-12-01".parse::<Date>().unwrap())
    );
    assert_eq!(default.fit, Some(Fit::Stretch));
}

#[test]
fn config_values_reach_the_plugin() {
    // Without the tenant's default target, the account without its own target is refused.
    let plugin = load(LOGISTICS_OTIF, &[]);
    let report = plugin.assess(&accounts(LOG_DEFAULT_TARGET), 1);
    let err = report.results[0].as_ref().expect_err("no target anywhere");
    assert_eq!(err.code.as_deref(), Some("missing-target"));
}

#[test]
fn results_do_not_depend_on_batch_size_or_threads() {
    let book = headway_samples::generate(headway_samples::Book::Saas, 300, 9);
    let plugin = load(SAAS_HEALTH, &[]);
    let whole = plugin.assess(&book, 1);
    let runtime = headway_tests::runtime();
    let small_batches = runtime
        .load_file(
            std::path::Path::new(SAAS_HEALTH),
            &headway_host::LoadOptions {
                limits: headway_host::Limits {
                    batch_size: 7,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap()
        .assess(&book, 2);
    // Debug text, not ==: skipped factors carry NaN values, and NaN != NaN.
    let text = |r: &headway_host::Report| format!("{:?}", r.results);
    assert!(
        text(&whole) == text(&small_batches),
        "batch size or threads changed results"
    );
    assert!(
        text(&whole) == text(&plugin.assess(&book, 1)),
        "a second run changed results"
    );
    // Fuel is deterministic too: same input, same instruction count.
    assert_eq!(whole.fuel_used, plugin.assess(&book, 1).fuel_used);
    assert!(whole.results.iter().all(|r| r.is_ok()));
}

#[test]
fn every_result_names_the_plugin_build() {
    let plugin = load(SAAS_HEALTH, &[]);
    let r = plugin.plugin_ref();
    assert_eq!(r.name, "saas-health");
    assert_eq!(r.version, "0.1.0");
    let bytes = std::fs::read(SAAS_HEALTH).unwrap();
    assert!(
        r.digest.starts_with("sha256:") && r.digest.len() == 7 + 64,
        "{}",
        r.digest
    );
    assert_ne!(r.digest, load(LOGISTICS_OTIF, &[]).plugin_ref().digest);
    assert!(!bytes.is_empty());
}

/// A tenant's `[weights]`: the plugin's factor scores, reweighted by the host.
#[test]
fn tenant_weights_rescore_the_plugins_factors() {
    use std::collections::BTreeMap;
    let book = headway_samples::generate(headway_samples::Book::Saas, 200, 4);
    let own = load(SAAS_HEALTH, &[]);
    let weights: BTreeMap<String, f64> = [
        ("seat-utilisation", 0.4),
        ("engagement", 0.1),
        ("usage-trend", 0.0),
        ("feature-adoption", 0.3),
        ("support-load", 0.1),
        ("nps", 0.1),
    ]
    .into_iter()
    .map(|(id, w)| (id.to_owned(), w))
    .collect();
    let load_weighted = |weights: &BTreeMap<String, f64>| {
        headway_tests::runtime().load_file(
            std::path::Path::new(SAAS_HEALTH),
            &headway_host::LoadOptions {
                weights: weights.clone(),
                ..Default::default()
            },
        )
    };
    let tuned = load_weighted(&weights).unwrap();
    // Another build to the store, named as the same plugin with its weights.
    let (a, b) = (own.plugin_ref(), tuned.plugin_ref());
    assert_eq!(a.name, b.name);
    assert!(b.version.starts_with("0.1.0+weights."), "{}", b.version);
    assert_ne!(a.digest, b.digest);
    let declared: Vec<f64> = tuned.info().factors.iter().map(|f| f.weight).collect();
    assert_eq!(declared, vec![0.4, 0.1, 0.0, 0.3, 0.1, 0.1]);
    let (before, after) = (own.assess(&book, 2), tuned.assess(&book, 2));
    let mut moved = 0;
    for (i, (was, now)) in before.results.iter().zip(&after.results).enumerate() {
        let (was, now) = (was.as_ref().unwrap(), now.as_ref().unwrap());
        // By hand: each applied factor's 0-1 score under the tenant's weights,
        // shared over the factors the plugin applied.
        let (mut points, mut applicable) = (0.0, 0.0);
        for (f, w) in was.factors.iter().zip(&declared) {
            if f.weight > 0.0 {
                points += w * f.contribution / f.weight;
                applicable += w;
            }
        }
        let expected = points / applicable;
        assert!(
            (now.score - expected).abs() < 1e-9,
            "account {i}: {} != {expected}",
            now.score
        );
        let sum: f64 = now.factors.iter().map(|f| f.contribution).sum();
        assert!(
            (sum - now.score).abs() < 1e-9,
            "contributions add up to the score"
        );
        moved += usize::from((now.score - was.score).abs() > 1e-6);
    }
    assert!(moved > 150, "{moved} of 200 scores moved");

    let mut wrong = weights.clone();
    wrong.remove("nps");
    wrong.insert("np".into(), 0.1);
    let err = load_weighted(&wrong).err().unwrap().to_string();
    assert!(
        err.ends_with(
            "the tenant's [weights] name factors the plugin does not declare: `np`; \
             and leave out declared factors: `nps`"
        ),
        "{err}"
    );
}
