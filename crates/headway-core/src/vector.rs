//! The Success Vector's math: where an account's health is heading, when it will
//! reach its next milestone, how much expansion the milestone arrivals predict, and
//! how well a score separates accounts that churned (ROC AUC).
//!
//! Pure functions over plain values; the history store and the CLI build on them.

use crate::Date;

/// Velocity (points per 30 days) within which health counts as steady.
pub const STEADY_BAND: f64 = 2.0;

/// Which way health is moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Rising by more than [`STEADY_BAND`] points per 30 days.
    Improving,
    /// Within [`STEADY_BAND`] either way.
    Steady,
    /// Falling by more than [`STEADY_BAND`] points per 30 days.
    Declining,
}

impl Direction {
    /// The name as written in output (`improving`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Improving => "improving",
            Self::Steady => "steady",
            Self::Declining => "declining",
        }
    }
}

/// The least-squares slope of `value` per day, or `None` with fewer than two
/// distinct days.
pub fn slope_per_day(points: &[(Date, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|(d, _)| f64::from(d.days())).sum::<f64>() / n;
    let mean_y = points.iter().map(|(_, v)| v).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (d, v) in points {
        let dx = f64::from(d.days()) - mean_x;
        sxy += dx * (v - mean_y);
        sxx += dx * dx;
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Health velocity in points per 30 days over the snapshots within `window_days`
/// before `as_of` (inclusive), or `None` when that window has fewer than two days.
pub fn velocity(history: &[(Date, f64)], as_of: Date, window_days: i32) -> Option<f64> {
    let start = as_of.add_days(-window_days);
    let window: Vec<(Date, f64)> = history
        .iter()
        .copied()
        .filter(|(d, _)| *d >= start && *d <= as_of)
        .collect();
    slope_per_day(&window).map(|s| s * 30.0)
}

/// The direction of a velocity (points per 30 days).
pub fn direction(velocity: f64) -> Direction {
    if velocity > STEADY_BAND {
        Direction::Improving
    } else if velocity < -STEADY_BAND {
        Direction::Declining
    } else {
        Direction::Steady
    }
}

/// When progress (0-1) will reach 1, extrapolating its least-squares trend from
/// the history (which should include today's value at `as_of`). `Some(as_of)`
/// when already reached; `None` when progress is flat or falling, or there is
/// too little history.
pub fn expected_date(progress: &[(Date, f64)], as_of: Date) -> Option<Date> {
    let current = progress
        .iter()
        .filter(|(d, _)| *d <= as_of)
        .max_by_key(|(d, _)| *d)?
        .1;
    if current >= 1.0 {
        return Some(as_of);
    }
    let per_day = slope_per_day(progress)?;
    if per_day <= 0.0 {
        return None;
    }
    // Whole days, rounded up; the epsilon keeps 120.000000001 (float noise) at 120.
    let days = ((1.0 - current) / per_day - 1e-9).ceil();
    (days < f64::from(i32::MAX / 2)).then(|| as_of.add_days(days as i32))
}

/// One account's expected arrival at a milestone.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// The account.
    pub account_id: String,
    /// When it is expected to reach the milestone.
    pub expected_on: Date,
    /// Its own likelihood of taking the upsell, when the plugin gave one.
    pub likelihood: Option<f64>,
}

/// The arrivals at one milestone within a horizon and the expansion they predict.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CohortForecast {
    /// Accounts expected to reach the milestone within the horizon.
    pub accounts: Vec<String>,
    /// Expected expansion ARR: the sum over the arrivals of upsell ARR x likelihood
    /// (the account's own, else the upsell's take rate).
    pub expected_arr: f64,
}

/// The accounts arriving from `as_of` to `as_of + horizon_days` (both included) and
/// their expected expansion: 100 accounts, a $1,000 upsell and a 90% take rate give
/// $90,000.
pub fn forecast(
    arrivals: &[Arrival],
    as_of: Date,
    horizon_days: i32,
    upsell_arr: f64,
    take_rate: f64,
) -> CohortForecast {
    let end = as_of.add_days(horizon_days);
    let arriving: Vec<&Arrival> = arrivals
        .iter()
        .filter(|a| a.expected_on >= as_of && a.expected_on <= end)
        .collect();
    CohortForecast {
        accounts: arriving.iter().map(|a| a.account_id.clone()).collect(),
        expected_arr: arriving
            .iter()
            .map(|a| upsell_arr * a.likelihood.unwrap_or(take_rate))
            .sum(),
    }
}

/// ROC AUC of `scores` for predicting `positive` (e.g. "churned within 90 days"):
/// the probability that a random positive scores higher than a random negative,
/// ties counting half. For a health score, where *low* means risk, pass the
/// negated score. `None` without both positives and negatives.
pub fn roc_auc(scored: &[(f64, bool)]) -> Option<f64> {
    let positives = scored.iter().filter(|(_, p)| *p).count();
    let negatives = scored.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Mann-Whitney U with average ranks for ties.
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += average_rank * sorted[i..j].iter().filter(|(_, p)| *p).count() as f64;
        i = j;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn slope_by_hand() {
        // Days 0, 10, 20 with 50, 55, 66: mean x 10, mean y 57;
        // sxy = (-10)(-7) + 0 + 10(9) = 160, sxx = 200 -> 0.8 per day.
        let pts = [
            (d("2026-01-01"), 50.0),
            (d("2026-01-11"), 55.0),
            (d("2026-01-21"), 66.0),
        ];
        assert!((slope_per_day(&pts).unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(slope_per_day(&pts[..1]), None);
        assert_eq!(
            slope_per_day(&[(d("2026-01-01"), 1.0), (d("2026-01-01"), 2.0)]),
            None,
            "one day only"
        );
    }

    #[test]
    fn velocity_uses_the_window_only() {
        let history = [
            (d("2025-06-01"), 90.0), // outside a 90-day window
            (d("2026-08-03"), 60.0),
            (d("2026-09-02"), 63.0),
            (d("2026-10-02"), 66.0),
            (d("2026-11-01"), 69.0),
        ];
        // 3 points per 30 days inside the window.
        assert!((velocity(&history, d("2026-11-01"), 90).unwrap() - 3.0).abs() < 1e-9);
        assert_eq!(
            velocity(&history, d("2026-11-01"), 10),
            None,
            "one snapshot in 10 days"
        );
        assert_eq!(velocity(&[], d("2026-11-01"), 90), None);
    }

    #[test]
    fn direction_thresholds() {
        assert_eq!(direction(2.01), Direction::Improving);
        assert_eq!(direction(2.0), Direction::Steady);
        assert_eq!(direction(0.0), Direction::Steady);
        assert_eq!(direction(-2.0), Direction::Steady);
        assert_eq!(direction(-2.01), Direction::Declining);
    }

    #[test]
    fn expected_dates() {
        let as_of = d("2026-11-01");
        // 0.4 -> 0.5 -> 0.6 over 60 days: 1/300 per day; 0.4 to go -> 120 days.
        let rising = [
            (as_of.add_days(-60), 0.4),
            (as_of.add_days(-30), 0.5),
            (as_of, 0.6),
        ];
        assert_eq!(expected_date(&rising, as_of), Some(as_of.add_days(120)));
        let flat = [(as_of.add_days(-30), 0.5), (as_of, 0.5)];
        assert_eq!(expected_date(&flat, as_of), None);
        let falling = [(as_of.add_days(-30), 0.6), (as_of, 0.5)];
        assert_eq!(expected_date(&falling, as_of), None);
        assert_eq!(
            expected_date(&[(as_of, 0.5)], as_of),
            None,
            "too little history"
        );
        assert_eq!(
            expected_date(&[(as_of, 1.0)], as_of),
            Some(as_of),
            "already reached"
        );
        assert_eq!(expected_date(&[], as_of), None);
    }

    #[test]
    fn the_seeds_example_is_90_000() {
        let as_of = d("2026-11-01");
        let arrivals: Vec<Arrival> = (0..100)
            .map(|i| Arrival {
                account_id: format!("a{i}"),
                expected_on: as_of.add_days(i % 30),
                likelihood: None,
            })
            .collect();
        let f = forecast(&arrivals, as_of, 30, 1_000.0, 0.9);
        assert_eq!(f.accounts.len(), 100);
        assert!(
            (f.expected_arr - 90_000.0).abs() < 1e-6,
            "{}",
            f.expected_arr
        );
    }

    #[test]
    fn horizon_boundaries_and_own_likelihood() {
        let as_of = d("2026-11-01");
        let at = |id: &str, days: i32, likelihood| Arrival {
            account_id: id.into(),
            expected_on: as_of.add_days(days),
            likelihood,
        };
        let arrivals = [
            at("past", -1, None),
            at("today", 0, None),
            at("last-day", 30, Some(0.5)),
            at("after", 31, None),
        ];
        let f = forecast(&arrivals, as_of, 30, 1_000.0, 0.9);
        assert_eq!(f.accounts, ["today", "last-day"]);
        assert!((f.expected_arr - (900.0 + 500.0)).abs() < 1e-9);
        assert_eq!(forecast(&[], as_of, 30, 1_000.0, 0.9).expected_arr, 0.0);
    }

    #[test]
    fn auc_by_hand_with_ties() {
        // Perfect separation.
        assert_eq!(
            roc_auc(&[(1.0, false), (2.0, false), (3.0, true), (4.0, true)]),
            Some(1.0)
        );
        // Reversed.
        assert_eq!(roc_auc(&[(1.0, true), (2.0, false)]), Some(0.0));
        // Pairs (pos, neg): (3 vs 1) win, (3 vs 3) tie, (2 vs 1) win, (2 vs 3) loss
        // -> (1 + 0.5 + 1 + 0) / 4 = 0.625.
        assert_eq!(
            roc_auc(&[(1.0, false), (3.0, false), (2.0, true), (3.0, true)]),
            Some(0.625)
        );
        // All tied: 0.5.
        assert_eq!(
            roc_auc(&[(5.0, true), (5.0, false), (5.0, false)]),
            Some(0.5)
        );
        assert_eq!(roc_auc(&[(1.0, true)]), None, "no negatives");
        assert_eq!(roc_auc(&[]), None);
    }
}
