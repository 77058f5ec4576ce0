//! Does the score predict anything? Each stored snapshot is a prediction made on
//! its day; the revenue ledger says what happened next. A snapshot counts when the
//! account was paying that day and the ledger covers the whole horizon after it
//! (later ones cannot be judged yet and are left out, not counted as "no churn").

use std::collections::BTreeMap;

use serde::Serialize;

use crate::retention::{Ledger, Movement};
use crate::success::Snapshot;
use crate::vector::{roc_auc, velocity};
use crate::{Date, PluginInfo, PluginRef};

/// Churn rate observed in one band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandCalibration {
    /// The band.
    pub band: String,
    /// Snapshots in it.
    pub snapshots: usize,
    /// Of those, accounts that churned within the horizon.
    pub churned: usize,
    /// `churned / snapshots`; `None` for an empty band.
    pub churn_rate: Option<f64>,
}

/// The figures of one snapshot day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayResult {
    /// The snapshot day.
    pub as_of: Date,
    /// Snapshots judged.
    pub snapshots: usize,
    /// Of those, churned within the horizon.
    pub churned: usize,
    /// ROC AUC of the score for that day's churn.
    pub churn_auc: Option<f64>,
}

/// How well one plugin build's snapshots predicted churn and expansion. Field names
/// are the JSON keys of `headway backtest --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    /// The plugin build judged.
    pub plugin: PluginRef,
    /// Days after each snapshot in which churn or expansion counts.
    pub horizon_days: i32,
    /// Snapshots judged.
    pub snapshots: usize,
    /// Snapshots left out because the ledger does not cover their horizon yet.
    pub not_yet_observable: usize,
    /// Judged snapshots whose account churned within the horizon.
    pub churned: usize,
    /// Judged snapshots whose account expanded within the horizon.
    pub expanded: usize,
    /// ROC AUC of a low score for churn (0.5 = no better than chance).
    pub churn_auc: Option<f64>,
    /// ROC AUC of a falling score (negative velocity) for churn, over snapshots
    /// with a velocity.
    pub velocity_churn_auc: Option<f64>,
    /// ROC AUC of a high score for expansion.
    pub expansion_auc: Option<f64>,
    /// ROC AUC of a rising score (positive velocity) for expansion.
    pub velocity_expansion_auc: Option<f64>,
    /// The lowest band, whose precision and recall follow.
    pub lowest_band: String,
    /// Of snapshots in the lowest band, the share that churned.
    pub lowest_band_precision: Option<f64>,
    /// Of snapshots that churned, the share that were in the lowest band.
    pub lowest_band_recall: Option<f64>,
    /// Observed churn per band, lowest first.
    pub calibration: Vec<BandCalibration>,
    /// The same, snapshot day by snapshot day.
    pub by_day: Vec<DayResult>,
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    crate::retention::ratio(part as f64, whole as f64)
}

/// The snapshots the ledger can judge, with what became of each account within
/// `horizon_days`: those of accounts paying on their day whose horizon the ledger
/// covers. Also returns how many were left out for want of a ledger that far.
pub(crate) fn judgeable<'a>(
    snapshots: &'a [Snapshot],
    ledger: &Ledger,
    horizon_days: i32,
) -> (Vec<(&'a Snapshot, Movement)>, usize) {
    let observable_until = ledger.last_date();
    let mut not_yet_observable = 0;
    let mut judged = Vec::new();
    for s in snapshots {
        let end = s.as_of.add_days(horizon_days);
        if observable_until.is_none_or(|last| end > last) {
            not_yet_observable += 1;
            continue;
        }
        if ledger.arr_on(&s.account_id, s.as_of) <= 0.0 {
            continue;
        }
        judged.push((s, ledger.movement(&s.account_id, s.as_of, end)));
    }
    (judged, not_yet_observable)
}

/// Judges `snapshots` (one plugin build, any accounts and days) against `ledger`
/// over `horizon_days`; velocity uses the `window_days` before each snapshot.
pub fn backtest(
    snapshots: &[Snapshot],
    info: &PluginInfo,
    plugin: &PluginRef,
    ledger: &Ledger,
    horizon_days: i32,
    window_days: i32,
) -> Backtest {
    let mut by_account: BTreeMap<&str, Vec<(Date, f64)>> = BTreeMap::new();
    for s in snapshots {
        by_account
            .entry(&s.account_id)
            .or_default()
            .push((s.as_of, s.score));
    }
    struct Judged<'a> {
        snapshot: &'a Snapshot,
        velocity: Option<f64>,
        churned: bool,
        expanded: bool,
    }
    let (judgeable, not_yet_observable) = judgeable(snapshots, ledger, horizon_days);
    let judged: Vec<Judged> = judgeable
        .into_iter()
        .map(|(s, m)| Judged {
            snapshot: s,
            velocity: velocity(&by_account[s.account_id.as_str()], s.as_of, window_days),
            churned: m.churned,
            expanded: m.expanded,
        })
        .collect();
    let churned = judged.iter().filter(|j| j.churned).count();
    let lowest_band = info.bands.first().map_or(String::new(), |b| b.name.clone());
    let in_lowest: Vec<&Judged> = judged
        .iter()
        .filter(|j| j.snapshot.band == lowest_band)
        .collect();
    let lowest_churned = in_lowest.iter().filter(|j| j.churned).count();
    let calibration = info
        .bands
        .iter()
        .map(|b| {
            let in_band: Vec<&Judged> = judged
                .iter()
                .filter(|j| j.snapshot.band == b.name)
                .collect();
            let churned = in_band.iter().filter(|j| j.churned).count();
            BandCalibration {
                band: b.name.clone(),
                snapshots: in_band.len(),
                churned,
                churn_rate: ratio(churned, in_band.len()),
            }
        })
        .collect();
    let mut days: BTreeMap<Date, Vec<&Judged>> = BTreeMap::new();
    for j in &judged {
        days.entry(j.snapshot.as_of).or_default().push(j);
    }
    let churn_scores = |js: &[&Judged]| -> Vec<(f64, bool)> {
        js.iter().map(|j| (-j.snapshot.score, j.churned)).collect()
    };
    let all: Vec<&Judged> = judged.iter().collect();
    Backtest {
        plugin: plugin.clone(),
        horizon_days,
        snapshots: judged.len(),
        not_yet_observable,
        churned,
        expanded: judged.iter().filter(|j| j.expanded).count(),
        churn_auc: roc_auc(&churn_scores(&all)),
        velocity_churn_auc: roc_auc(
            &judged
                .iter()
                .filter_map(|j| Some((-j.velocity?, j.churned)))
                .collect::<Vec<_>>(),
        ),
        expansion_auc: roc_auc(
            &judged
                .iter()
                .map(|j| (j.snapshot.score, j.expanded))
                .collect::<Vec<_>>(),
        ),
        velocity_expansion_auc: roc_auc(
            &judged
                .iter()
                .filter_map(|j| Some((j.velocity?, j.expanded)))
                .collect::<Vec<_>>(),
        ),
        lowest_band,
        lowest_band_precision: ratio(lowest_churned, in_lowest.len()),
        lowest_band_recall: ratio(lowest_churned, churned),
        calibration,
        by_day: days
            .into_iter()
            .map(|(as_of, js)| DayResult {
                as_of,
                snapshots: js.len(),
                churned: js.iter().filter(|j| j.churned).count(),
                churn_auc: roc_auc(&churn_scores(&js)),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::{LedgerRow, RevenueStage};
    use crate::testing::plugin_info;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn row(id: &str, date: &str, arr: f64) -> LedgerRow {
        LedgerRow {
            account_id: id.into(),
            date: d(date),
            arr,
            stage: RevenueStage::Paid,
            segment: None,
            term_end: None,
        }
    }

    fn snap(id: &str, date: &str, score: f64, band: &str) -> Snapshot {
        Snapshot {
            tenant: "t".into(),
            account_id: id.into(),
            as_of: d(date),
            arr: 100.0,
            segment: String::new(),
            renewal_date: None,
            score,
            band: band.into(),
            factors: vec![],
            milestones: vec![],
            plugin: plugin(),
            overrides: Vec::new(),
        }
    }

    fn plugin() -> PluginRef {
        PluginRef {
            name: "p".into(),
            version: "1".into(),
            digest: "sha256:x".into(),
        }
    }

    fn info() -> PluginInfo {
        plugin_info(&[("red", 0.0), ("green", 50.0)], &[])
    }

    #[test]
    fn backtest_by_hand() {
        // Four accounts paying from January; the ledger runs to 2026-06-30.
        // a churns 2026-03-15, c churns 2026-05-20 (outside the first 60-day
        // horizon, inside the second), d expands 2026-02-15.
        let ledger = Ledger::new(vec![
            row("a", "2026-01-01", 100.0),
            row("b", "2026-01-01", 100.0),
            row("c", "2026-01-01", 100.0),
            row("d", "2026-01-01", 100.0),
            row("d", "2026-02-15", 200.0),
            row("a", "2026-03-15", 0.0),
            row("c", "2026-05-20", 0.0),
            row("b", "2026-06-30", 100.0),
        ]);
        let snapshots = [
            // 2026-02-01 + 60 = 2026-04-02: a churned; b, c, d did not.
            snap("a", "2026-02-01", 20.0, "red"),
            snap("b", "2026-02-01", 30.0, "red"),
            snap("c", "2026-02-01", 60.0, "green"),
            snap("d", "2026-02-01", 90.0, "green"),
            // 2026-04-01 + 60 = 2026-05-31: c churned; a is gone (not judged).
            snap("a", "2026-04-01", 10.0, "red"),
            snap("b", "2026-04-01", 40.0, "red"),
            snap("c", "2026-04-01", 35.0, "red"),
            snap("d", "2026-04-01", 80.0, "green"),
            // 2026-05-15 + 60 is past the ledger's end: not observable yet.
            snap("b", "2026-05-15", 45.0, "red"),
        ];
        let bt = backtest(&snapshots, &info(), &plugin(), &ledger, 60, 90);
        assert_eq!((bt.snapshots, bt.not_yet_observable), (7, 1));
        assert_eq!((bt.churned, bt.expanded), (2, 1));
        // Churn AUC over the 7 judged: positives a@20 and c@35, negatives b30 b40
        // c60 d80 d90. a scores below all 5 negatives, c below 4 of them (not b30):
        // 9 of the 10 pairs are ordered right, AUC 0.9.
        assert!((bt.churn_auc.unwrap() - 0.9).abs() < 1e-12);
        // Red: a20, b30, b40, c35 -> churned a, c: precision 2/4, recall 2/2.
        assert_eq!(
            (bt.lowest_band_precision, bt.lowest_band_recall),
            (Some(0.5), Some(1.0))
        );
        assert_eq!(
            bt.calibration,
            vec![
                BandCalibration {
                    band: "red".into(),
                    snapshots: 4,
                    churned: 2,
                    churn_rate: Some(0.5)
                },
                BandCalibration {
                    band: "green".into(),
                    snapshots: 3,
                    churned: 0,
                    churn_rate: Some(0.0)
                },
            ]
        );
        // Expansion: only d (90 on 02-01) expanded; it is the highest of 7: AUC 1.
        assert_eq!(bt.expansion_auc, Some(1.0));
        // Velocity needs two snapshots in the window: on 04-01, b rose 30 -> 40
        // (about +5 per 30 days), c fell 60 -> 35 (about -12.7, churned), d fell
        // 90 -> 80 (about -5). c falls fastest: AUC 1 over b, c, d.
        assert_eq!(bt.velocity_churn_auc, Some(1.0));
        // d expanded only after its first snapshot, which has no velocity yet:
        // no positives among the snapshots with one, so no AUC.
        assert_eq!(bt.velocity_expansion_auc, None);
        assert_eq!(bt.by_day.len(), 2);
        assert_eq!(
            (
                bt.by_day[0].snapshots,
                bt.by_day[0].churned,
                bt.by_day[0].churn_auc
            ),
            (4, 1, Some(1.0))
        );
        assert_eq!((bt.by_day[1].snapshots, bt.by_day[1].churned), (3, 1));
    }

    #[test]
    fn nothing_to_judge() {
        let bt = backtest(&[], &info(), &plugin(), &Ledger::new(vec![]), 90, 90);
        assert_eq!((bt.snapshots, bt.churned), (0, 0));
        assert_eq!(
            (
                bt.churn_auc,
                bt.lowest_band_precision,
                bt.lowest_band_recall
            ),
            (None, None, None)
        );
        assert_eq!(bt.calibration[0].churn_rate, None);
        // No ledger at all: every snapshot is unobservable, none is "retained".
        let s = [snap("a", "2026-01-01", 50.0, "green")];
        let bt = backtest(&s, &info(), &plugin(), &Ledger::new(vec![]), 90, 90);
        assert_eq!((bt.snapshots, bt.not_yet_observable), (0, 1));
    }
}
