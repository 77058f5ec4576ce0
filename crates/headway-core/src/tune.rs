//! Fitting factor weights from history: which weights would have ranked the
//! accounts that churned lowest? The snapshots keep every factor's 0-1 score
//! (contribution / weight); the revenue ledger says who churned within the
//! horizon after each snapshot. Weights are fitted on the earlier snapshot days
//! and judged on the later ones only, so the report says what the new weights
//! would have done on days they never saw.
//!
//! The model is a logistic regression of churn on the reweighted score, the
//! weights kept non-negative and summing to 1 (a softmax), with a small pull
//! toward the current weights so that a factor the history says nothing about
//! keeps its weight. It is fitted by plain gradient descent (Adam), from the
//! same start every time: same history, same proposal.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::backtest::{BandCalibration, judgeable};
use crate::retention::Ledger;
use crate::success::Snapshot;
use crate::vector::roc_auc;
use crate::weights::band_of;
use crate::{Date, PluginInfo};

/// How `tune` fits and judges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TuneOptions {
    /// Days after a snapshot in which a churn counts.
    pub horizon_days: i32,
    /// The share of snapshot days, the latest, held out for judging.
    pub holdout: f64,
    /// Resamples (of held-out accounts) for the interval of the AUC gain.
    pub resamples: usize,
    /// The pull toward the current weights (L2, per factor).
    pub pull: f64,
}

impl Default for TuneOptions {
    fn default() -> Self {
        Self {
            horizon_days: 90,
            holdout: 1.0 / 3.0,
            resamples: 200,
            pull: 0.01,
        }
    }
}

/// Why weights cannot be tuned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TuneError {
    /// A snapshot's contributions do not add up to its score: the plugin shapes
    /// its score some other way, and reweighting its factors would not give it.
    #[error(
        "the plugin's contributions do not add up to its score (account `{account}` on {day}: \
         score {score}, contributions {sum}); its weights cannot be tuned"
    )]
    NotAdditive {
        /// The account.
        account: String,
        /// The snapshot day.
        day: Date,
        /// The stored score.
        score: f64,
        /// The sum of its contributions.
        sum: f64,
    },
    /// The held-out share is not between 0 and 1.
    #[error("the held-out share of days must lie between 0 and 1, not {0}")]
    Holdout(f64),
    /// Not enough judged history to fit on some days and judge on others.
    #[error("too little history to tune: {0}")]
    TooLittle(String),
}

/// What one set of weights did on the held-out days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// ROC AUC of a low score for churn (0.5 = chance).
    pub churn_auc: Option<f64>,
    /// Of held-out snapshots in the lowest band, the share that churned.
    pub lowest_band_precision: Option<f64>,
    /// Of held-out snapshots that churned, the share in the lowest band.
    pub lowest_band_recall: Option<f64>,
    /// Observed churn per band, lowest first.
    pub calibration: Vec<BandCalibration>,
}

/// A factor's weight now and as proposed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightChange {
    /// The factor's id.
    pub factor: String,
    /// Its weight in the plugin.
    pub current: f64,
    /// The fitted weight, to three decimals (the proposals sum to 1).
    pub proposed: f64,
}

/// The proposal and the evidence for it. Field names are the JSON keys of
/// `headway tune --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tuning {
    /// Days after a snapshot in which a churn counts.
    pub horizon_days: i32,
    /// The snapshot days fitted on (from, to).
    pub fitted_on: (Date, Date),
    /// The snapshot days judged on (from, to): all after `fitted_on`.
    pub judged_on: (Date, Date),
    /// Snapshots fitted on, and of those churned.
    pub fitted_snapshots: usize,
    /// Churned among them.
    pub fitted_churned: usize,
    /// Snapshots judged on.
    pub judged_snapshots: usize,
    /// Churned among them.
    pub judged_churned: usize,
    /// Every factor's weight, now and proposed.
    pub weights: Vec<WeightChange>,
    /// The current weights on the held-out days.
    pub current: Judgement,
    /// The proposed weights on the same days.
    pub proposed: Judgement,
    /// The held-out churn AUC gain (proposed - current).
    pub auc_gain: Option<f64>,
    /// Its 95% interval over resamples of the held-out accounts.
    pub auc_gain_interval: Option<(f64, f64)>,
    /// Whether the proposal is better: the whole interval lies above 0.
    pub better: bool,
}

/// One judged snapshot as the fit sees it.
#[derive(Debug, Clone)]
struct Case {
    account: usize,
    day: Date,
    /// Each factor's 0-1 score; `None` where the plugin skipped it.
    scores: Vec<Option<f64>>,
    /// The band the plugin set whatever the score, if it did.
    forced_band: Option<usize>,
    churned: bool,
}

/// The score (0-100) of a snapshot's factor scores under `weights`: skipped
/// factors leave their weight to the others, as the kits do. `None` when no
/// factor with weight applies.
pub fn rescore(scores: &[Option<f64>], weights: &[f64]) -> Option<f64> {
    weighted_mean(scores, weights).map(|(x, _)| (100.0 * x).clamp(0.0, 100.0))
}

/// The mean of the factor scores that apply, weighted by `weights`, and the
/// weight they share; `None` when it is 0.
fn weighted_mean(scores: &[Option<f64>], weights: &[f64]) -> Option<(f64, f64)> {
    let (mut points, mut applicable) = (0.0, 0.0);
    for (score, weight) in scores.iter().zip(weights) {
        if let Some(s) = score {
            points += weight * s;
            applicable += weight;
        }
    }
    (applicable > 0.0).then(|| (points / applicable, applicable))
}

/// Each factor's 0-1 score in `s`, in the order `info` declares them: the
/// contribution over 100 x weight; `None` for a factor with no weight (skipped).
fn factor_scores(s: &Snapshot, info: &PluginInfo) -> Vec<Option<f64>> {
    info.factors
        .iter()
        .map(|f| {
            s.factors
                .iter()
                .find(|x| x.name == f.id)
                .filter(|x| x.weight > 0.0)
                .map(|x| x.contribution / (100.0 * x.weight))
        })
        .collect()
}

/// Fits the weights of `info`'s factors on `snapshots` (one build) and the
/// ledger, and judges them against the current ones on the later days.
pub fn tune(
    snapshots: &[Snapshot],
    info: &PluginInfo,
    ledger: &Ledger,
    options: &TuneOptions,
) -> Result<Tuning, TuneError> {
    if !(options.holdout > 0.0 && options.holdout < 1.0) {
        return Err(TuneError::Holdout(options.holdout));
    }
    let current: Vec<f64> = info.factors.iter().map(|f| f.weight).collect();
    if current.is_empty() {
        return Err(TuneError::TooLittle(
            "the plugin declares no factors".into(),
        ));
    }
    let (judged, _) = judgeable(snapshots, ledger, options.horizon_days);
    let mut accounts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cases = Vec::with_capacity(judged.len());
    for (s, movement) in judged {
        let sum: f64 = s.factors.iter().map(|f| f.contribution).sum();
        if (sum.clamp(0.0, 100.0) - s.score).abs() > 1e-6 {
            return Err(TuneError::NotAdditive {
                account: s.account_id.clone(),
                day: s.as_of,
                score: s.score,
                sum,
            });
        }
        let next = accounts.len();
        let band = info.bands.iter().position(|b| b.name == s.band);
        cases.push(Case {
            account: *accounts.entry(&s.account_id).or_insert(next),
            day: s.as_of,
            scores: factor_scores(s, info),
            forced_band: band.filter(|b| *b != band_of(s.score, info)),
            churned: movement.churned,
        });
    }
    let mut days: Vec<Date> = cases.iter().map(|c| c.day).collect();
    days.sort();
    days.dedup();
    if days.len() < 2 {
        return Err(TuneError::TooLittle(format!(
            "{} judged snapshot day(s); fitting and judging need two or more \
             (snapshots need {} days of ledger after them)",
            days.len(),
            options.horizon_days
        )));
    }
    let held = ((days.len() as f64 * options.holdout).round() as usize).clamp(1, days.len() - 1);
    let first_held = days[days.len() - held];
    let (train, test): (Vec<Case>, Vec<Case>) = cases.into_iter().partition(|c| c.day < first_held);
    for (part, name) in [(&train, "fitted"), (&test, "held-out")] {
        let churned = part.iter().filter(|c| c.churned).count();
        if churned == 0 || churned == part.len() {
            return Err(TuneError::TooLittle(format!(
                "the {name} days hold {churned} churned of {} snapshots: both kinds are needed",
                part.len()
            )));
        }
    }
    let proposed = thousandths(&fit(&train, &current, options.pull));
    let ranked = |weights: &[f64]| -> Vec<(f64, bool)> {
        test.iter()
            .filter_map(|c| Some((-rescore(&c.scores, weights)?, c.churned)))
            .collect()
    };
    let (before, after) = (ranked(&current), ranked(&proposed));
    let auc_gain = roc_auc(&after).zip(roc_auc(&before)).map(|(a, b)| a - b);
    let interval = gain_interval(&test, &current, &proposed, options.resamples);
    let span = |cs: &[Case]| {
        (
            cs.iter().map(|c| c.day).min().unwrap_or(first_held),
            cs.iter().map(|c| c.day).max().unwrap_or(first_held),
        )
    };
    Ok(Tuning {
        horizon_days: options.horizon_days,
        fitted_on: span(&train),
        judged_on: span(&test),
        fitted_snapshots: train.len(),
        fitted_churned: train.iter().filter(|c| c.churned).count(),
        judged_snapshots: test.len(),
        judged_churned: test.iter().filter(|c| c.churned).count(),
        weights: info
            .factors
            .iter()
            .zip(&proposed)
            .map(|(f, p)| WeightChange {
                factor: f.id.clone(),
                current: f.weight,
                proposed: *p,
            })
            .collect(),
        current: judge(&test, &current, info),
        proposed: judge(&test, &proposed, info),
        auc_gain,
        auc_gain_interval: interval,
        better: interval.is_some_and(|(low, _)| low > 0.0),
    })
}

/// Bands, precision, recall and AUC of `weights` on `cases`. A band the plugin
/// forced stays; otherwise the band follows the reweighted score.
fn judge(cases: &[Case], weights: &[f64], info: &PluginInfo) -> Judgement {
    let scored: Vec<(f64, usize, bool)> = cases
        .iter()
        .filter_map(|c| {
            let score = rescore(&c.scores, weights)?;
            let band = c.forced_band.unwrap_or_else(|| band_of(score, info));
            Some((score, band, c.churned))
        })
        .collect();
    let ratio = |part: usize, whole: usize| crate::retention::ratio(part as f64, whole as f64);
    let churned = scored.iter().filter(|s| s.2).count();
    let lowest = scored.iter().filter(|s| s.1 == 0).count();
    let lowest_churned = scored.iter().filter(|s| s.1 == 0 && s.2).count();
    Judgement {
        churn_auc: roc_auc(&scored.iter().map(|s| (-s.0, s.2)).collect::<Vec<_>>()),
        lowest_band_precision: ratio(lowest_churned, lowest),
        lowest_band_recall: ratio(lowest_churned, churned),
        calibration: info
            .bands
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let snapshots = scored.iter().filter(|s| s.1 == i).count();
                let churned = scored.iter().filter(|s| s.1 == i && s.2).count();
                BandCalibration {
                    band: b.name.clone(),
                    snapshots,
                    churned,
                    churn_rate: ratio(churned, snapshots),
                }
            })
            .collect(),
    }
}

/// The 2.5th and 97.5th percentiles of the AUC gain over `resamples` draws of
/// the held-out accounts with replacement (an account's snapshots travel
/// together: they are not independent). Seeded: the same every run.
fn gain_interval(
    cases: &[Case],
    current: &[f64],
    proposed: &[f64],
    resamples: usize,
) -> Option<(f64, f64)> {
    let mut by_account: BTreeMap<usize, Vec<&Case>> = BTreeMap::new();
    for c in cases {
        by_account.entry(c.account).or_default().push(c);
    }
    let groups: Vec<Vec<&Case>> = by_account.into_values().collect();
    let mut rng = SplitMix64(0x005e_ed0f_7a5e);
    let mut gains = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for _ in 0..groups.len() {
            for c in &groups[rng.below(groups.len())] {
                if let (Some(b), Some(a)) =
                    (rescore(&c.scores, current), rescore(&c.scores, proposed))
                {
                    before.push((-b, c.churned));
                    after.push((-a, c.churned));
                }
            }
        }
        if let (Some(a), Some(b)) = (roc_auc(&after), roc_auc(&before)) {
            gains.push(a - b);
        }
    }
    if gains.len() < resamples.div_ceil(2).max(1) {
        return None;
    }
    gains.sort_by(f64::total_cmp);
    let at = |q: f64| gains[((gains.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}

/// Weights rounded to thousandths that still sum to exactly 1: the largest
/// absorbs the rounding.
fn thousandths(weights: &[f64]) -> Vec<f64> {
    let mut units: Vec<i64> = weights
        .iter()
        .map(|w| (w * 1000.0).round() as i64)
        .collect();
    let largest = (0..units.len()).max_by_key(|&i| units[i]).unwrap_or(0);
    units[largest] += 1000 - units.iter().sum::<i64>();
    units.iter().map(|u| *u as f64 / 1000.0).collect()
}

/// Fits the weights by gradient descent (Adam, fixed steps) on the mean log loss
/// of `p = sigmoid(a + b x)`, x the reweighted score in 0-1, plus
/// `pull * sum (w - current)^2`. Weights are a softmax of free parameters, so
/// they stay non-negative and sum to 1.
fn fit(cases: &[Case], current: &[f64], pull: f64) -> Vec<f64> {
    const STEPS: usize = 600;
    const RATE: f64 = 0.05;
    let k = current.len();
    let base = cases.iter().filter(|c| c.churned).count() as f64 / cases.len() as f64;
    // Parameters: a, b, then one per factor.
    let mut params = vec![(base / (1.0 - base)).ln(), 0.0];
    params.extend(current.iter().map(|w| w.max(1e-6).ln()));
    let (mut m, mut v) = (vec![0.0; params.len()], vec![0.0; params.len()]);
    let mut weights = softmax(&params[2..]);
    for step in 1..=STEPS {
        let (a, b) = (params[0], params[1]);
        let mut grad = vec![0.0; params.len()];
        let mut dw = vec![0.0; k];
        let mut n = 0.0;
        for c in cases {
            let Some((x, applicable)) = weighted_mean(&c.scores, &weights) else {
                continue;
            };
            let r = sigmoid(a + b * x) - if c.churned { 1.0 } else { 0.0 };
            n += 1.0;
            grad[0] += r;
            grad[1] += r * x;
            for (i, s) in c.scores.iter().enumerate() {
                if let Some(s) = s {
                    dw[i] += r * b * (s - x) / applicable;
                }
            }
        }
        if n == 0.0 {
            break;
        }
        for g in grad.iter_mut().take(2) {
            *g /= n;
        }
        for i in 0..k {
            dw[i] = dw[i] / n + 2.0 * pull * (weights[i] - current[i]);
        }
        // Through the softmax: d w_i / d theta_j = w_i (delta_ij - w_j).
        let mean: f64 = weights.iter().zip(&dw).map(|(w, g)| w * g).sum();
        for j in 0..k {
            grad[2 + j] = weights[j] * (dw[j] - mean);
        }
        let t = step as i32;
        for i in 0..params.len() {
            m[i] = 0.9 * m[i] + 0.1 * grad[i];
            v[i] = 0.999 * v[i] + 0.001 * grad[i] * grad[i];
            let m_hat = m[i] / (1.0 - 0.9f64.powi(t));
            let v_hat = v[i] / (1.0 - 0.999f64.powi(t));
            params[i] -= RATE * m_hat / (v_hat.sqrt() + 1e-8);
        }
        weights = softmax(&params[2..]);
    }
    weights
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn softmax(theta: &[f64]) -> Vec<f64> {
    let top = theta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = theta.iter().map(|t| (t - top).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|x| x / sum).collect()
}

/// A small seeded generator (SplitMix64) for the resamples: reproducible on every
/// machine and release, which a library generator does not promise.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0-1.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::{LedgerRow, RevenueStage};
    use crate::testing::plugin_info;
    use crate::{FactorScore, PluginRef};

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// `factors` factors `f0`, `f1` ... of equal weight.
    fn info(factors: usize) -> PluginInfo {
        let ids: Vec<String> = (0..factors).map(|i| format!("f{i}")).collect();
        let weighted: Vec<(&str, f64)> = ids
            .iter()
            .map(|id| (id.as_str(), 1.0 / factors as f64))
            .collect();
        plugin_info(
            &[("red", 0.0), ("yellow", 40.0), ("green", 70.0)],
            &weighted,
        )
    }

    fn paid(id: &str, date: Date, arr: f64) -> LedgerRow {
        LedgerRow {
            account_id: id.into(),
            date,
            arr,
            stage: RevenueStage::Paid,
            segment: None,
            term_end: None,
        }
    }

    /// A snapshot scored with `info`'s weights from 0-1 factor scores.
    fn snapshot(id: &str, as_of: Date, scores: &[f64], info: &PluginInfo) -> Snapshot {
        let factors: Vec<FactorScore> = info
            .factors
            .iter()
            .zip(scores)
            .map(|(f, s)| FactorScore {
                name: f.id.clone(),
                value: *s,
                weight: f.weight,
                contribution: 100.0 * f.weight * s,
                reason: String::new(),
            })
            .collect();
        let score: f64 = factors.iter().map(|f| f.contribution).sum();
        Snapshot {
            tenant: "t".into(),
            account_id: id.into(),
            as_of,
            arr: 1000.0,
            segment: String::new(),
            renewal_date: None,
            score,
            band: info.bands[band_of(score, info)].name.clone(),
            factors,
            milestones: vec![],
            plugin: PluginRef {
                name: "p".into(),
                version: "1".into(),
                digest: "sha256:x".into(),
            },
            overrides: vec![],
        }
    }

    /// `accounts` accounts scored on `days` monthly days, four factors with
    /// uniform random scores; each churns 30 days after a snapshot with the
    /// probability `churn(scores)`. Every snapshot's account is its own, so the
    /// ledger is one row to start and at most one to churn.
    fn history(
        accounts: usize,
        days: usize,
        churn: impl Fn(&[f64]) -> f64,
    ) -> (Vec<Snapshot>, Ledger, PluginInfo) {
        let info = info(4);
        let mut rng = SplitMix64(42);
        let (mut snapshots, mut rows) = (Vec::new(), vec![paid("end", d("2030-01-01"), 1.0)]);
        for day in 0..days {
            let as_of = d("2025-01-01").add_days(30 * day as i32);
            for a in 0..accounts {
                let id = format!("a{a}-d{day}");
                let scores: Vec<f64> = (0..4).map(|_| rng.unit()).collect();
                rows.push(paid(&id, d("2024-01-01"), 1000.0));
                if rng.unit() < churn(&scores) {
                    rows.push(paid(&id, as_of.add_days(30), 0.0));
                }
                snapshots.push(snapshot(&id, as_of, &scores, &info));
            }
        }
        (snapshots, Ledger::new(rows), info)
    }

    #[test]
    fn reweighing_leaves_a_skipped_factors_weight_to_the_others() {
        // (0.2 * 0.5 + 0.5 * 1.0) / (0.2 + 0.5) = 0.6 / 0.7
        let score = rescore(&[Some(0.5), None, Some(1.0)], &[0.2, 0.3, 0.5]).unwrap();
        assert!((score - 600.0 / 7.0).abs() < 1e-12, "{score}");
        assert_eq!(rescore(&[Some(0.5), Some(0.25)], &[0.5, 0.5]), Some(37.5));
        assert_eq!(rescore(&[None, None], &[0.5, 0.5]), None);
        assert_eq!(rescore(&[Some(1.0), Some(1.0)], &[0.0, 0.0]), None);
        assert_eq!(rescore(&[], &[]), None);
    }

    #[test]
    fn proposals_are_thousandths_that_sum_to_one() {
        assert_eq!(thousandths(&[1.0 / 3.0; 3]), vec![0.333, 0.333, 0.334]);
        assert_eq!(thousandths(&[0.6004, 0.3996]), vec![0.6, 0.4]);
        assert_eq!(thousandths(&[0.0004, 0.9996]), vec![0.0, 1.0]);
        assert_eq!(thousandths(&[1.0]), vec![1.0]);
    }

    #[test]
    fn a_band_the_plugin_forced_stays_under_new_weights() {
        let info = info(2);
        let case = |scores: [f64; 2], forced: Option<usize>, churned| Case {
            account: 0,
            day: d("2025-01-01"),
            scores: scores.map(Some).to_vec(),
            forced_band: forced,
            churned,
        };
        let cases = [
            case([0.9, 0.9], Some(0), true), // forced red at 90
            case([0.5, 0.5], None, false),   // 50: yellow
            case([0.1, 0.2], None, true),    // 15: red
        ];
        let j = judge(&cases, &[0.5, 0.5], &info);
        let counts: Vec<(usize, usize)> = j
            .calibration
            .iter()
            .map(|b| (b.snapshots, b.churned))
            .collect();
        assert_eq!(counts, vec![(2, 2), (1, 0), (0, 0)]);
        assert_eq!(j.lowest_band_precision, Some(1.0));
        assert_eq!(j.lowest_band_recall, Some(1.0));
        // Ranked by score: 90 (churned) highest, then 50, then 15 (churned):
        // of the 2 x 1 pairs (churned, not), one ranks the churned one lower.
        assert_eq!(j.churn_auc, Some(0.5));
    }

    #[test]
    fn tuning_recovers_the_factors_that_drive_churn() {
        // Churn depends on f0 (70%) and f1 (30%) only: 88% at 0, 0.25% at 1.
        let (snapshots, ledger, info) =
            history(300, 6, |s| sigmoid(2.0 - 8.0 * (0.7 * s[0] + 0.3 * s[1])));
        let t = tune(&snapshots, &info, &ledger, &TuneOptions::default()).unwrap();
        let proposed: Vec<f64> = t.weights.iter().map(|w| w.proposed).collect();
        assert!((proposed.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for (got, want) in proposed.iter().zip([0.7, 0.3, 0.0, 0.0]) {
            assert!((got - want).abs() < 0.1, "{proposed:?}");
        }
        // Six days, the last two held out: 1,200 fitted, 600 judged.
        assert_eq!((t.fitted_snapshots, t.judged_snapshots), (1200, 600));
        assert_eq!(t.fitted_on, (d("2025-01-01"), d("2025-04-01")));
        assert_eq!(t.judged_on, (d("2025-05-01"), d("2025-05-31")));
        let (low, high) = t.auc_gain_interval.unwrap();
        assert!(t.better && low > 0.0 && low <= t.auc_gain.unwrap() && t.auc_gain.unwrap() <= high);
        assert!(t.proposed.churn_auc.unwrap() > t.current.churn_auc.unwrap() + 0.05);
        // Same history, same proposal.
        assert_eq!(
            tune(&snapshots, &info, &ledger, &TuneOptions::default()).unwrap(),
            t
        );
    }

    #[test]
    fn tuning_says_so_when_churn_is_random() {
        let (snapshots, ledger, info) = history(300, 6, |_| 0.2);
        let t = tune(&snapshots, &info, &ledger, &TuneOptions::default()).unwrap();
        let (low, _) = t.auc_gain_interval.unwrap();
        assert!(!t.better && low <= 0.0, "{t:?}");
    }

    #[test]
    fn what_cannot_be_tuned_is_named() {
        let info = info(2);
        let ledger = Ledger::new(vec![
            paid("a", d("2024-01-01"), 1.0),
            paid("end", d("2030-01-01"), 1.0),
        ]);
        let mut shaped = snapshot("a", d("2025-01-01"), &[0.5, 0.5], &info);
        shaped.score = 80.0;
        assert_eq!(
            tune(&[shaped], &info, &ledger, &TuneOptions::default()),
            Err(TuneError::NotAdditive {
                account: "a".into(),
                day: d("2025-01-01"),
                score: 80.0,
                sum: 50.0
            })
        );
        let one_day = [snapshot("a", d("2025-01-01"), &[0.5, 0.5], &info)];
        let e = tune(&one_day, &info, &ledger, &TuneOptions::default()).unwrap_err();
        assert!(e.to_string().contains("1 judged snapshot day(s)"), "{e}");
        let no_churn = [
            snapshot("a", d("2025-01-01"), &[0.5, 0.5], &info),
            snapshot("a", d("2025-02-01"), &[0.5, 0.5], &info),
        ];
        let e = tune(&no_churn, &info, &ledger, &TuneOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("the fitted days hold 0 churned of 1"),
            "{e}"
        );
        assert!(tune(&[], &info, &ledger, &TuneOptions::default()).is_err());
        let whole = TuneOptions {
            holdout: 1.0,
            ..TuneOptions::default()
        };
        assert_eq!(
            tune(&one_day, &info, &ledger, &whole)
                .unwrap_err()
                .to_string(),
            "the held-out share of days must lie between 0 and 1, not 1"
        );
    }
}
