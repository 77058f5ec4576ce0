//! How factor scores become the health score: [`weigh`] turns each factor's 0-1
//! credit into its applied weight and contribution, the score and the band (what
//! the host does for contract-0.3.0 plugins, and what the kits did before), and
//! [`reweigh`] applies a tenant's own factor weights (`[weights]` in
//! tenant.toml) to what an older plugin weighed itself, so a rule is reweighted
//! (say, as `headway tune` proposes) without rebuilding it. Either way a factor
//! that does not apply to an account gives its weight to the others, in
//! proportion to theirs.

use crate::assessed::AssessedBatch;
use crate::{AccountError, ErrorKind, PluginInfo};

/// How far a plugin's contributions may stray from its score (the kits round
/// the score to ten decimals).
const ADDITIVE: f64 = 1e-6;

/// The band a score falls in: the highest whose floor it reaches.
pub(crate) fn band_of(score: f64, info: &PluginInfo) -> usize {
    info.bands
        .iter()
        .rposition(|b| score >= b.min_score)
        .unwrap_or(0)
}

/// A row no weighed factor applies to: the rule's doing when it skipped every
/// factor, the tenant's when its `[weights]` leave none of the applied ones.
fn no_applicable_factor(kind: ErrorKind, message: &str) -> AccountError {
    AccountError {
        code: Some("no-applicable-factor".into()),
        ..AccountError::new(kind, message)
    }
}

/// `x` rounded to ten decimals, halves away from zero, as the kits round the score.
fn ten_decimals(x: f64) -> f64 {
    (x * 1e10).round() / 1e10
}

/// Weighs every row of `batch` without an error: `credits[f][row]` is factor
/// `f`'s 0-1 score, NaN where the factor does not apply. A factor's applied
/// weight is its declared weight (`info`) over the sum of those of the factors
/// that apply, its contribution weight x credit x 100, the score their sum
/// (clamped to 0-100, rounded to ten decimals so that 69.99999999999999 is not
/// in the band below 70), and the band the highest whose floor the score
/// reaches, unless `forced[row]` names one. A row where no factor applies
/// fails with `no-applicable-factor`.
pub fn weigh(
    batch: &mut AssessedBatch,
    credits: &[Vec<f64>],
    forced: &[Option<u8>],
    info: &PluginInfo,
) {
    for row in 0..batch.len() {
        if batch.errors[row].is_some() {
            continue;
        }
        let applies = |f: usize| !credits[f][row].is_nan();
        let applicable: f64 = (0..credits.len())
            .filter(|f| applies(*f))
            .map(|f| info.factors[f].weight)
            .sum();
        if applicable <= 0.0 {
            batch.fail(
                row,
                no_applicable_factor(ErrorKind::Rule, "every factor was skipped"),
            );
            continue;
        }
        let mut score = 0.0;
        for (f, out) in batch.factors.iter_mut().enumerate() {
            let (weight, credit) = if applies(f) {
                (info.factors[f].weight / applicable, credits[f][row])
            } else {
                (0.0, 0.0)
            };
            out.weights[row] = weight;
            out.contributions[row] = weight * credit * 100.0;
            score += out.contributions[row];
        }
        let score = ten_decimals(score.clamp(0.0, 100.0));
        batch.scores[row] = score;
        batch.bands[row] = forced[row].unwrap_or(band_of(score, info) as u8);
    }
}

/// Rescores every assessed row of `batch` with `weights` (in `info`'s factor
/// order). A row whose contributions do not add up to its score fails with
/// `not-additive`: the plugin shapes its score some other way, and its factors
/// reweighted would not give it. A factor the plugin gave no weight for a row
/// (skipped) stays out. The band follows the new score, unless the plugin had
/// put the account in a band its score did not reach (a forced band), which
/// stays.
pub fn reweigh(batch: &mut AssessedBatch, weights: &[f64], info: &PluginInfo) {
    for row in 0..batch.len() {
        if batch.errors[row].is_some() {
            continue;
        }
        let score = batch.scores[row];
        let sum: f64 = batch.factors.iter().map(|f| f.contributions[row]).sum();
        if (sum.clamp(0.0, 100.0) - score).abs() > ADDITIVE {
            batch.fail(
                row,
                AccountError {
                    code: Some("not-additive".into()),
                    ..AccountError::new(
                        ErrorKind::InvalidOutput,
                        format!(
                            "the plugin's contributions add up to {sum}, not its score {score}: \
                             the tenant's [weights] cannot apply"
                        ),
                    )
                },
            );
            continue;
        }
        let applied = |f: &crate::assessed::FactorResults| f.weights[row] > 0.0;
        let applicable: f64 = batch
            .factors
            .iter()
            .zip(weights)
            .filter(|(f, _)| applied(f))
            .map(|(_, w)| w)
            .sum();
        if applicable <= 0.0 {
            batch.fail(
                row,
                no_applicable_factor(
                    ErrorKind::InvalidOutput,
                    "no factor the plugin applied has a weight in the tenant's [weights]",
                ),
            );
            continue;
        }
        let mut rescored = 0.0;
        for (f, w) in batch.factors.iter_mut().zip(weights) {
            if applied(f) {
                let factor_score = f.contributions[row] / (100.0 * f.weights[row]);
                f.weights[row] = w / applicable;
                f.contributions[row] = f.weights[row] * factor_score * 100.0;
                rescored += f.contributions[row];
            }
        }
        let rescored = ten_decimals(rescored.clamp(0.0, 100.0));
        let band = usize::from(batch.bands[row]);
        if band == band_of(score, info) {
            batch.bands[row] = band_of(rescored, info) as u8;
        }
        batch.scores[row] = rescored;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessed::FactorResults;
    use crate::batch::TextColumn;
    use crate::testing::plugin_info;

    fn info() -> PluginInfo {
        let third = 1.0 / 3.0;
        plugin_info(
            &[("red", 0.0), ("green", 60.0)],
            &[("a", third), ("b", third), ("c", third)],
        )
    }

    /// One row per (weights, contributions, score, band).
    fn batch(rows: &[([f64; 3], [f64; 3], f64, u8)]) -> AssessedBatch {
        let mut b = AssessedBatch::empty(&info());
        for (i, f) in b.factors.iter_mut().enumerate() {
            f.values = rows.iter().map(|_| 0.0).collect();
            f.weights = rows.iter().map(|r| r.0[i]).collect();
            f.contributions = rows.iter().map(|r| r.1[i]).collect();
            f.reasons = TextColumn::default();
            for _ in rows {
                f.reasons.end_value();
            }
        }
        b.scores = rows.iter().map(|r| r.2).collect();
        b.bands = rows.iter().map(|r| r.3).collect();
        b.fit = rows.iter().map(|_| None).collect();
        b.errors = rows.iter().map(|_| None).collect();
        b
    }

    fn column(b: &AssessedBatch, pick: fn(&FactorResults) -> &Vec<f64>, row: usize) -> Vec<f64> {
        b.factors.iter().map(|f| pick(f)[row]).collect()
    }

    #[test]
    fn the_tenants_weights_rescore_each_factors_share() {
        let third = 1.0 / 3.0;
        // Factor scores 0.9, 0.6, 0.3 under equal weights: 30 + 20 + 10 = 60, green.
        // Row 2 skipped c: a and b share its weight (0.9 and 0.6 at 1/2 each: 75).
        let mut b = batch(&[
            ([third; 3], [30.0, 20.0, 10.0], 60.0, 1),
            ([0.5, 0.5, 0.0], [45.0, 30.0, 0.0], 75.0, 1),
        ]);
        reweigh(&mut b, &[0.2, 0.3, 0.5], &info());
        // 0.2 * 90 + 0.3 * 60 + 0.5 * 30 = 18 + 18 + 15 = 51: red.
        assert_eq!(b.scores[0], 51.0);
        assert_eq!(b.bands[0], 0);
        assert_eq!(column(&b, |f| &f.weights, 0), vec![0.2, 0.3, 0.5]);
        let c = column(&b, |f| &f.contributions, 0);
        for (got, want) in c.iter().zip([18.0, 18.0, 15.0]) {
            assert!((got - want).abs() < 1e-12, "{c:?}");
        }
        // Row 2: a and b carry 0.2 and 0.3 of 0.5: 0.4 * 90 + 0.6 * 60 = 72.
        assert!((b.scores[1] - 72.0).abs() < 1e-9, "{}", b.scores[1]);
        assert_eq!(
            column(&b, |f| &f.weights, 1)[2],
            0.0,
            "a skipped factor stays out"
        );
        assert!(b.errors.iter().all(Option::is_none));
    }

    #[test]
    fn a_forced_band_stays_and_a_shaped_score_is_refused() {
        let third = 1.0 / 3.0;
        let mut b = batch(&[
            // 90 by its factors but put in red by the rule: red stays.
            ([third; 3], [30.0, 30.0, 30.0], 90.0, 0),
            // A score of 80 from contributions adding to 50.
            ([third; 3], [20.0, 20.0, 10.0], 80.0, 1),
            // Only c applied, and the tenant gives c nothing.
            ([0.0, 0.0, 1.0], [0.0, 0.0, 40.0], 40.0, 0),
        ]);
        reweigh(&mut b, &[0.5, 0.5, 0.0], &info());
        assert_eq!((b.scores[0], b.bands[0]), (90.0, 0));
        let refused = b.errors[1].as_ref().unwrap();
        assert_eq!(refused.code.as_deref(), Some("not-additive"));
        assert_eq!(
            refused.message,
            "the plugin's contributions add up to 50, not its score 80: the tenant's [weights] cannot apply"
        );
        assert_eq!(
            b.errors[2].as_ref().unwrap().code.as_deref(),
            Some("no-applicable-factor")
        );
    }

    #[test]
    fn an_empty_batch_and_failed_rows_are_left_alone() {
        let mut empty = batch(&[]);
        reweigh(&mut empty, &[0.5, 0.5, 0.0], &info());
        assert!(empty.is_empty());
        let mut b = batch(&[([1.0 / 3.0; 3], [1.0, 1.0, 1.0], 99.0, 1)]);
        b.fail(0, AccountError::new(ErrorKind::Rule, "declined"));
        reweigh(&mut b, &[0.5, 0.5, 0.0], &info());
        assert_eq!(b.errors[0].as_ref().unwrap().message, "declined");
        assert_eq!(b.scores[0], 99.0);
    }

    /// A batch of `rows` rows to weigh, every column at a placeholder.
    fn unweighed(rows: usize) -> AssessedBatch {
        batch(&vec![([f64::NAN; 3], [f64::NAN; 3], f64::NAN, 9); rows])
    }

    #[test]
    fn credits_are_weighed_into_the_score_and_band() {
        let info = plugin_info(
            &[("red", 0.0), ("yellow", 45.0), ("green", 70.0)],
            &[("a", 0.5), ("b", 0.3), ("c", 0.2)],
        );
        let mut b = unweighed(5);
        let nan = f64::NAN;
        let credits = [
            // 0.5 * 80 + 0.3 * 50 + 0.2 * 100 = 40 + 15 + 20 = 75: green.
            // c skipped: a 0.5/0.8 = 0.625, b 0.375; 62.5 * 0.8 + 37.5 * 0.5 = 68.75.
            // All credits 1 but forced into red. 0.7 exactly on the green floor.
            // Nothing applies.
            vec![0.8, 0.8, 1.0, 0.7, nan],
            vec![0.5, 0.5, 1.0, 0.7, nan],
            vec![1.0, nan, 1.0, 0.7, nan],
        ];
        weigh(&mut b, &credits, &[None, None, Some(0), None, None], &info);
        assert_eq!(b.scores[0], 75.0);
        assert_eq!(b.bands[0], 2);
        assert_eq!(column(&b, |f| &f.weights, 0), vec![0.5, 0.3, 0.2]);
        assert_eq!(column(&b, |f| &f.contributions, 0), vec![40.0, 15.0, 20.0]);

        let close = |got: Vec<f64>, want: [f64; 3]| {
            assert!(
                got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-12),
                "{got:?}"
            );
        };
        close(column(&b, |f| &f.weights, 1), [0.625, 0.375, 0.0]);
        close(column(&b, |f| &f.contributions, 1), [50.0, 18.75, 0.0]);
        assert_eq!((b.scores[1], b.bands[1]), (68.75, 1));

        assert_eq!(
            (b.scores[2], b.bands[2]),
            (100.0, 0),
            "the forced band stays"
        );
        // 35 + 21 + 13.999999999999998: 70 in floats, on the green floor.
        assert_eq!((b.scores[3], b.bands[3]), (70.0, 2));

        let none = b.errors[4].as_ref().unwrap();
        assert_eq!(none.kind, ErrorKind::Rule);
        assert_eq!(none.code.as_deref(), Some("no-applicable-factor"));
        assert_eq!(none.message, "every factor was skipped");
        assert!(b.errors[..4].iter().all(Option::is_none));
    }

    #[test]
    fn weighing_leaves_failed_rows_and_empty_batches_alone() {
        let info = info();
        let mut empty = unweighed(0);
        weigh(&mut empty, &[vec![], vec![], vec![]], &[], &info);
        assert!(empty.is_empty());
        let mut b = unweighed(1);
        b.fail(0, AccountError::new(ErrorKind::Rule, "declined"));
        weigh(&mut b, &[vec![1.0], vec![1.0], vec![1.0]], &[None], &info);
        assert_eq!(b.errors[0].as_ref().unwrap().message, "declined");
    }
}
