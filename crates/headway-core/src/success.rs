//! The Success Vector of each account, from its stored history, and the expansion
//! forecast built from the vectors of a whole book.
//!
//! A [`Snapshot`] is one account's assessment on one day by one plugin build: what
//! the history store keeps. [`success_vector`] reads one account's snapshots (one
//! plugin build, oldest first); [`forecast_expansion`] groups the vectors' expected
//! milestone arrivals within a horizon (who reaches what, and the expansion).

use serde::{Deserialize, Serialize};

use crate::overrides::Applied;
use crate::vector::{self, Arrival, Direction};
use crate::{Account, Assessment, Date, FactorScore, MilestoneProgress, PluginInfo, PluginRef};

/// One account's assessment on one day by one plugin build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The tenant.
    pub tenant: String,
    /// The account.
    pub account_id: String,
    /// The day the assessment describes.
    pub as_of: Date,
    /// The account's ARR on that day.
    pub arr: f64,
    /// The account's segment on that day (empty: none).
    #[serde(default)]
    pub segment: String,
    /// The account's next renewal as known on that day.
    #[serde(default)]
    pub renewal_date: Option<Date>,
    /// Health score 0-100.
    pub score: f64,
    /// Band name.
    pub band: String,
    /// Every factor's value, weight, contribution and reason.
    pub factors: Vec<FactorScore>,
    /// Progress toward every milestone.
    pub milestones: Vec<MilestoneProgress>,
    /// The plugin build that produced it.
    pub plugin: PluginRef,
    /// The CSM overrides applied when it was read (none where it is kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Applied>,
}

impl Snapshot {
    /// The snapshot of `account` assessed as `assessment` by `plugin`.
    pub fn new(
        tenant: &str,
        account: &Account,
        assessment: Assessment,
        plugin: &PluginRef,
    ) -> Self {
        Self {
            tenant: tenant.to_owned(),
            account_id: account.id.clone(),
            as_of: account.as_of,
            arr: account.arr,
            segment: account.segment.clone(),
            renewal_date: account.renewal_date,
            score: assessment.score,
            band: assessment.band,
            factors: assessment.factors,
            milestones: assessment.milestones,
            plugin: plugin.clone(),
            overrides: Vec::new(),
        }
    }
}

/// Where an expected milestone date comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Already reached: the date it was reached.
    Reached,
    /// The plugin's own prediction.
    Plugin,
    /// Extrapolated from the progress trend in the window.
    Trend,
    /// Progress is flat or falling, or there is too little history.
    Unknown,
}

/// An account's course toward one milestone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MilestoneCourse {
    /// The milestone's id.
    pub id: String,
    /// Progress 0-1 today.
    pub progress: f64,
    /// Progress per day over the window (least squares), if there are two days.
    pub progress_per_day: Option<f64>,
    /// When it is (or was) reached, if known.
    pub expected_on: Option<Date>,
    /// Where `expected_on` comes from.
    pub basis: Basis,
    /// How likely the account is to take the milestone's upsell: the plugin's own
    /// estimate, else the upsell's take rate; `None` without an upsell.
    pub likelihood: Option<f64>,
}

/// Magnitude, direction and velocity of an account's health, and its course
/// toward each milestone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuccessVector {
    /// The account.
    pub account_id: String,
    /// The latest snapshot's day.
    pub as_of: Date,
    /// ARR on that day.
    pub arr: f64,
    /// Health today (the latest score).
    pub magnitude: f64,
    /// Points per 30 days over the window; `None` with fewer than two days in it.
    pub velocity: Option<f64>,
    /// Improving, steady or declining; `None` when velocity is unknown.
    pub direction: Option<Direction>,
    /// The first milestone not reached yet, if any.
    pub next_milestone: Option<String>,
    /// The course toward every milestone the plugin declares.
    pub milestones: Vec<MilestoneCourse>,
}

/// The Success Vector from one account's snapshots of one plugin build (any order),
/// over the `window_days` before the latest one. `None` for no snapshots.
pub fn success_vector(
    snapshots: &[Snapshot],
    info: &PluginInfo,
    window_days: i32,
) -> Option<SuccessVector> {
    let latest = snapshots.iter().max_by_key(|s| s.as_of)?;
    let as_of = latest.as_of;
    let start = as_of.add_days(-window_days);
    let in_window: Vec<&Snapshot> = snapshots
        .iter()
        .filter(|s| s.as_of >= start && s.as_of <= as_of)
        .collect();
    let health: Vec<(Date, f64)> = in_window.iter().map(|s| (s.as_of, s.score)).collect();
    let velocity = vector::velocity(&health, as_of, window_days);
    let milestones: Vec<MilestoneCourse> = latest
        .milestones
        .iter()
        .map(|now| {
            let progress: Vec<(Date, f64)> = in_window
                .iter()
                .filter_map(|s| {
                    let m = s.milestones.iter().find(|m| m.id == now.id)?;
                    Some((s.as_of, m.progress))
                })
                .collect();
            let (expected_on, basis) = if let Some(on) = now.reached_on {
                (Some(on), Basis::Reached)
            } else if let Some(on) = now.predicted_on {
                (Some(on), Basis::Plugin)
            } else {
                match vector::expected_date(&progress, as_of) {
                    Some(on) => (Some(on), Basis::Trend),
                    None => (None, Basis::Unknown),
                }
            };
            let upsell = info
                .milestones
                .iter()
                .find(|m| m.id == now.id)
                .and_then(|m| m.upsell.as_ref());
            MilestoneCourse {
                id: now.id.clone(),
                progress: now.progress,
                progress_per_day: vector::slope_per_day(&progress),
                expected_on,
                basis,
                likelihood: upsell.map(|u| now.likelihood.unwrap_or(u.take_rate)),
            }
        })
        .collect();
    Some(SuccessVector {
        account_id: latest.account_id.clone(),
        as_of,
        arr: latest.arr,
        magnitude: latest.score,
        velocity,
        direction: velocity.map(vector::direction),
        next_milestone: milestones
            .iter()
            .find(|m| m.basis != Basis::Reached && m.progress < 1.0)
            .map(|m| m.id.clone()),
        milestones,
    })
}

/// The arrivals at one milestone within the horizon and the expansion they predict. Field
/// names are the JSON keys of `headway forecast --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MilestoneForecast {
    /// The milestone's id.
    pub milestone_id: String,
    /// Its name.
    pub milestone: String,
    /// Accounts expected to reach it within the horizon.
    pub arrivals: usize,
    /// The upsell it unlocks, if any.
    pub upsell: Option<String>,
    /// ARR the upsell adds per account (0 without an upsell).
    pub upsell_arr: f64,
    /// The share of the arrivals expected to take it (0 without an upsell).
    pub take_rate: f64,
    /// Sum over the arrivals of upsell ARR x likelihood (the account's own, else the
    /// take rate): arrivals x upsell ARR x take rate when no account has its own.
    pub expected_arr: f64,
    /// The arriving account ids, soonest first.
    pub accounts: Vec<String>,
}

/// The expansion forecast of a book.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// The day the horizon starts.
    pub as_of: Date,
    /// Its length in days.
    pub horizon_days: i32,
    /// One entry per declared milestone, in the plugin's order.
    pub milestones: Vec<MilestoneForecast>,
    /// Sum of the milestones' expected ARR.
    pub total_expected_arr: f64,
}

/// Groups accounts by the milestones they are expected to reach from `as_of` to
/// `as_of + horizon_days` (both included). Milestones already reached are not
/// arrivals.
pub fn forecast_expansion(
    vectors: &[SuccessVector],
    info: &PluginInfo,
    as_of: Date,
    horizon_days: i32,
) -> Forecast {
    let milestones: Vec<MilestoneForecast> = info
        .milestones
        .iter()
        .map(|m| {
            let mut arrivals: Vec<Arrival> = vectors
                .iter()
                .filter_map(|v| {
                    let course = v.milestones.iter().find(|c| c.id == m.id)?;
                    if course.basis == Basis::Reached {
                        return None;
                    }
                    Some(Arrival {
                        account_id: v.account_id.clone(),
                        expected_on: course.expected_on?,
                        likelihood: course.likelihood,
                    })
                })
                .collect();
            arrivals.sort_by(|a, b| {
                (a.expected_on, &a.account_id).cmp(&(b.expected_on, &b.account_id))
            });
            let (upsell_arr, take_rate) = m
                .upsell
                .as_ref()
                .map_or((0.0, 0.0), |u| (u.arr, u.take_rate));
            let arriving = vector::forecast(&arrivals, as_of, horizon_days, upsell_arr, take_rate);
            MilestoneForecast {
                milestone_id: m.id.clone(),
                milestone: m.name.clone(),
                arrivals: arriving.accounts.len(),
                upsell: m.upsell.as_ref().map(|u| u.offer.clone()),
                upsell_arr,
                take_rate,
                expected_arr: arriving.expected_arr,
                accounts: arriving.accounts,
            }
        })
        .collect();
    Forecast {
        as_of,
        horizon_days,
        total_expected_arr: milestones.iter().map(|m| m.expected_arr).sum(),
        milestones,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BandInfo, MilestoneInfo, Upsell};

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn info() -> PluginInfo {
        PluginInfo {
            name: "p".into(),
            version: "1".into(),
            bands: vec![BandInfo {
                name: "all".into(),
                min_score: 0.0,
            }],
            factors: vec![],
            milestones: vec![
                MilestoneInfo {
                    id: "first".into(),
                    name: "First".into(),
                    description: String::new(),
                    upsell: None,
                },
                MilestoneInfo {
                    id: "team".into(),
                    name: "Team".into(),
                    description: String::new(),
                    upsell: Some(Upsell {
                        offer: "Seats".into(),
                        arr: 1_000.0,
                        take_rate: 0.9,
                    }),
                },
            ],
            reads: None,
        }
    }

    fn progress(id: &str, p: f64) -> MilestoneProgress {
        MilestoneProgress {
            id: id.into(),
            progress: p,
            reached_on: None,
            predicted_on: None,
            likelihood: None,
        }
    }

    fn snap(account: &str, day: &str, score: f64, team: f64) -> Snapshot {
        Snapshot {
            tenant: "t".into(),
            account_id: account.into(),
            as_of: d(day),
            arr: 100.0,
            segment: String::new(),
            renewal_date: None,
            score,
            band: "all".into(),
            factors: vec![],
            milestones: vec![
                MilestoneProgress {
                    reached_on: Some(d("2026-01-15")),
                    ..progress("first", 1.0)
                },
                progress("team", team),
            ],
            plugin: PluginRef {
                name: "p".into(),
                version: "1".into(),
                digest: "sha256:x".into(),
            },
            overrides: Vec::new(),
        }
    }

    #[test]
    fn vector_by_hand() {
        // Scores 50, 56, 62 on days 0, 30, 60 of the window: 6 points per 30 days.
        // Team progress 0.4, 0.5, 0.6: 0.1 per 30 days, so the remaining 0.4 takes
        // 120 days after 2026-03-02: 2026-06-30.
        let history = [
            snap("a", "2026-03-02", 62.0, 0.6),
            snap("a", "2026-01-01", 50.0, 0.4),
            snap("a", "2026-01-31", 56.0, 0.5),
            // Outside a 60-day window: ignored.
            snap("a", "2025-10-01", 99.0, 0.0),
        ];
        let v = success_vector(&history, &info(), 60).unwrap();
        assert_eq!((v.as_of, v.magnitude), (d("2026-03-02"), 62.0));
        assert!((v.velocity.unwrap() - 6.0).abs() < 1e-9);
        assert_eq!(v.direction, Some(Direction::Improving));
        assert_eq!(v.next_milestone.as_deref(), Some("team"));
        let first = &v.milestones[0];
        assert_eq!(
            (first.basis, first.expected_on),
            (Basis::Reached, Some(d("2026-01-15")))
        );
        assert_eq!(first.likelihood, None, "no upsell, no likelihood");
        let team = &v.milestones[1];
        assert!((team.progress_per_day.unwrap() - 0.1 / 30.0).abs() < 1e-12);
        assert_eq!(
            (team.basis, team.expected_on),
            (Basis::Trend, Some(d("2026-06-30")))
        );
        assert_eq!(team.likelihood, Some(0.9));
    }

    #[test]
    fn one_snapshot_plugin_prediction_and_unknown() {
        let mut s = snap("a", "2026-03-02", 40.0, 0.3);
        let v = success_vector(std::slice::from_ref(&s), &info(), 90).unwrap();
        assert_eq!((v.velocity, v.direction), (None, None));
        assert_eq!(
            (v.milestones[1].basis, v.milestones[1].expected_on),
            (Basis::Unknown, None)
        );
        s.milestones[1].predicted_on = Some(d("2026-04-01"));
        s.milestones[1].likelihood = Some(0.5);
        let v = success_vector(&[s], &info(), 90).unwrap();
        assert_eq!(
            (v.milestones[1].basis, v.milestones[1].expected_on),
            (Basis::Plugin, Some(d("2026-04-01")))
        );
        assert_eq!(v.milestones[1].likelihood, Some(0.5));
        assert!(success_vector(&[], &info(), 90).is_none());
        // Flat progress: unknown, not "never".
        let flat = [
            snap("b", "2026-01-01", 50.0, 0.5),
            snap("b", "2026-02-01", 50.0, 0.5),
        ];
        let v = success_vector(&flat, &info(), 90).unwrap();
        assert_eq!(
            (v.direction, v.milestones[1].basis),
            (Some(Direction::Steady), Basis::Unknown)
        );
    }

    #[test]
    fn forecast_of_the_seeds_example() {
        // 100 accounts predicted to reach `team` within the month, a $1,000 upsell
        // taken by 90%: $90,000. One more arrives a day after the horizon, one
        // already reached it; neither counts.
        let as_of = d("2026-11-01");
        let course = |expected: &str, basis| MilestoneCourse {
            id: "team".into(),
            progress: 0.9,
            progress_per_day: None,
            expected_on: Some(d(expected)),
            basis,
            likelihood: Some(0.9),
        };
        let vector = |id: String, c: MilestoneCourse| SuccessVector {
            account_id: id,
            as_of,
            arr: 1.0,
            magnitude: 70.0,
            velocity: None,
            direction: None,
            next_milestone: None,
            milestones: vec![c],
        };
        let mut vectors: Vec<SuccessVector> = (0..100)
            .map(|i| vector(format!("a{i:03}"), course("2026-12-01", Basis::Trend)))
            .collect();
        vectors.push(vector("late".into(), course("2026-12-02", Basis::Plugin)));
        vectors.push(vector("done".into(), course("2026-11-01", Basis::Reached)));
        let f = forecast_expansion(&vectors, &info(), as_of, 30);
        let team = &f.milestones[1];
        assert_eq!(team.arrivals, 100);
        assert_eq!(
            (team.upsell_arr, team.take_rate, team.expected_arr),
            (1_000.0, 0.9, 90_000.0)
        );
        assert_eq!(team.accounts[0], "a000");
        assert_eq!(f.milestones[0].arrivals, 0);
        assert_eq!(f.total_expected_arr, 90_000.0);
        let empty = forecast_expansion(&[], &info(), as_of, 30);
        assert_eq!((empty.total_expected_arr, empty.milestones.len()), (0.0, 2));
    }
}
