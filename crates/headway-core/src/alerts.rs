//! Alert rules: which score changes a CS team wants to hear about, and whether
//! a newly recorded snapshot makes one fire.
//!
//! Every rule is edge-triggered: it fires on the snapshot where its condition
//! becomes true (true now, not true on the account's previous snapshot of the
//! same build), so an account that stays red is announced once, when it turned
//! red, not every day after. Pure functions of an account's history; delivery
//! (outbox, webhooks) is the host's.

use serde::{Deserialize, Serialize};

use crate::success::Snapshot;
use crate::{Date, PluginInfo, moves, vector};

/// One `[[alerts]]` rule of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    /// Its name, unique in the tenant (the key of what it fired).
    pub name: String,
    /// Only accounts of this segment, when set.
    pub segment: Option<String>,
    /// When it fires.
    pub when: Condition,
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "when", rename_all = "kebab-case")]
pub enum Condition {
    /// The account is now in one of `bands` and was not (or is new).
    BandEntered {
        /// Band names.
        bands: Vec<String>,
    },
    /// The account was in one of `bands` and is not now.
    BandLeft {
        /// Band names.
        bands: Vec<String>,
    },
    /// The score is at least `points` below its highest of the last
    /// `within_days` days (the day `within_days` ago included).
    ScoreDropped {
        /// Points, above zero.
        points: f64,
        /// Days, at least one.
        within_days: u32,
    },
    /// Velocity (points per 30 days over `window_days`) is below `points_per_30_days`.
    VelocityBelow {
        /// The threshold, usually negative.
        points_per_30_days: f64,
        /// The window velocity is fitted over.
        window_days: u32,
    },
    /// A milestone (`milestone`, or any) is reached.
    MilestoneReached {
        /// A milestone id, or any.
        milestone: Option<String>,
    },
    /// A milestone that unlocks an upsell is reached: expansion is ready.
    ExpansionReady,
    /// The renewal is `days` or fewer days away while the account is in one of
    /// `bands` (any band when empty).
    RenewalWithin {
        /// Days before the renewal day, zero or more.
        days: u32,
        /// Band names; empty: every band.
        bands: Vec<String>,
    },
}

impl Condition {
    /// Its name in tenant.toml (`band-entered`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BandEntered { .. } => "band-entered",
            Self::BandLeft { .. } => "band-left",
            Self::ScoreDropped { .. } => "score-dropped",
            Self::VelocityBelow { .. } => "velocity-below",
            Self::MilestoneReached { .. } => "milestone-reached",
            Self::ExpansionReady => "expansion-ready",
            Self::RenewalWithin { .. } => "renewal-within",
        }
    }
}

/// A rule that fired for one account on one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fired {
    /// The rule's name.
    pub rule: String,
    /// Its condition's kind.
    pub kind: &'static str,
    /// The account.
    pub account_id: String,
    /// The snapshot's day.
    pub as_of: Date,
    /// What happened, in words.
    pub summary: String,
    /// The numbers behind it, for receivers.
    pub detail: AlertDetail,
}

/// What a fired alert tells its receiver besides the summary: the score and
/// band now and on the account's previous snapshot, and the factors that moved
/// the score most between the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDetail {
    /// The score now.
    pub score: f64,
    /// The band now.
    pub band: String,
    /// The previous snapshot's score (none for a new account).
    pub score_before: Option<f64>,
    /// The previous snapshot's band.
    pub band_before: Option<String>,
    /// The previous snapshot's day.
    pub since: Option<Date>,
    /// At most [`MOVED_FACTORS`] factors whose contribution changed, largest first.
    pub moved: Vec<MovedFactor>,
}

/// One factor's share of a score change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovedFactor {
    /// The factor's id.
    pub factor: String,
    /// Points it added or took away.
    pub change: f64,
    /// In words, with its reasons then and now.
    pub summary: String,
}

/// How many moved factors an alert names.
pub const MOVED_FACTORS: usize = 3;

impl AlertDetail {
    fn between(now: &Snapshot, before: Option<&Snapshot>, info: &PluginInfo) -> Self {
        let moved = before.map_or_else(Vec::new, |b| {
            moves::step(b, now, &now.plugin, info)
                .moves
                .into_iter()
                .filter(|m| m.change.abs() >= 0.05)
                .take(MOVED_FACTORS)
                .map(|m| MovedFactor {
                    factor: m.factor,
                    change: m.change,
                    summary: m.summary,
                })
                .collect()
        });
        Self {
            score: now.score,
            band: now.band.clone(),
            score_before: before.map(|b| b.score),
            band_before: before.map(|b| b.band.clone()),
            since: before.map(|b| b.as_of),
            moved,
        }
    }
}

/// The least history a rule reads: the previous snapshot of a monthly run is
/// seen; one older counts as none (the account is new).
pub const MIN_LOOKBACK_DAYS: u32 = 45;

/// How many days before a snapshot `rules` read: the longest window a rule
/// names, and at least [`MIN_LOOKBACK_DAYS`].
pub fn lookback_days(rules: &[AlertRule]) -> u32 {
    rules
        .iter()
        .map(|r| match r.when {
            Condition::ScoreDropped { within_days, .. } => within_days,
            Condition::VelocityBelow { window_days, .. } => window_days,
            _ => 0,
        })
        .fold(MIN_LOOKBACK_DAYS, u32::max)
}

/// The rules that fire on the last snapshot of `history`: one account's
/// snapshots of one build, oldest first, ending with the one being recorded.
/// `info` is that build's declaration (which milestones carry upsells).
pub fn fired(rules: &[AlertRule], history: &[Snapshot], info: &PluginInfo) -> Vec<Fired> {
    let Some((now, earlier)) = history.split_last() else {
        return Vec::new();
    };
    let before = earlier.last();
    rules
        .iter()
        .filter(|r| r.segment.as_deref().is_none_or(|s| s == now.segment))
        .filter_map(|rule| {
            let summary = fires(&rule.when, now, before, history, info)?;
            Some(Fired {
                rule: rule.name.clone(),
                kind: rule.when.kind(),
                account_id: now.account_id.clone(),
                as_of: now.as_of,
                summary,
                detail: AlertDetail::between(now, before, info),
            })
        })
        .collect()
}

/// Why `when` fires on `now`, or `None`.
fn fires(
    when: &Condition,
    now: &Snapshot,
    before: Option<&Snapshot>,
    history: &[Snapshot],
    info: &PluginInfo,
) -> Option<String> {
    let score = |s: &Snapshot| format!("{:.1}", s.score);
    match when {
        Condition::BandEntered { bands } => {
            let was_in = before.is_some_and(|b| bands.contains(&b.band));
            (bands.contains(&now.band) && !was_in).then(|| match before {
                Some(b) => format!(
                    "entered {} from {} (score {})",
                    now.band,
                    b.band,
                    score(now)
                ),
                None => format!("entered {} (score {})", now.band, score(now)),
            })
        }
        Condition::BandLeft { bands } => {
            let before = before.filter(|b| bands.contains(&b.band))?;
            (!bands.contains(&now.band)).then(|| {
                format!(
                    "left {} for {} (score {})",
                    before.band,
                    now.band,
                    score(now)
                )
            })
        }
        Condition::ScoreDropped {
            points,
            within_days,
        } => {
            let drop = |i: usize| {
                let s = &history[i];
                let since = s.as_of.add_days(-(*within_days as i32));
                let peak = history[..=i]
                    .iter()
                    .filter(|h| h.as_of >= since)
                    .max_by(|a, b| a.score.total_cmp(&b.score))
                    .expect("the snapshot itself is in its window");
                (peak.score - s.score, peak.as_of, peak.score)
            };
            let last = history.len() - 1;
            let (now_drop, peak_day, peak) = drop(last);
            let was = last > 0 && drop(last - 1).0 >= *points;
            (now_drop >= *points && !was).then(|| {
                format!(
                    "score {} is {:.1} points below {peak:.1} on {peak_day}",
                    score(now),
                    now_drop
                )
            })
        }
        Condition::VelocityBelow {
            points_per_30_days,
            window_days,
        } => {
            let points: Vec<(Date, f64)> = history.iter().map(|s| (s.as_of, s.score)).collect();
            let at = |i: usize| vector::velocity(&points[..=i], points[i].0, *window_days as i32);
            let last = points.len() - 1;
            let now_v = at(last)?;
            let was = last > 0 && at(last - 1).is_some_and(|v| v < *points_per_30_days);
            (now_v < *points_per_30_days && !was).then(|| {
                format!("velocity {now_v:.1} points per 30 days, below {points_per_30_days}")
            })
        }
        Condition::MilestoneReached { milestone } => reached(now, before, |id| {
            milestone.as_deref().is_none_or(|m| m == id)
        })
        .map(|id| format!("reached milestone {id}")),
        Condition::ExpansionReady => {
            let upsell = |id: &str| {
                info.milestones
                    .iter()
                    .find(|m| m.id == id)
                    .and_then(|m| m.upsell.as_ref())
            };
            reached(now, before, |id| upsell(id).is_some()).map(|id| {
                let u = upsell(&id).expect("filtered on its upsell");
                format!(
                    "reached milestone {id}: ready for {} (+{:.0} ARR)",
                    u.offer, u.arr
                )
            })
        }
        Condition::RenewalWithin { days, bands } => {
            let near = |s: &Snapshot| {
                let in_band = bands.is_empty() || bands.contains(&s.band);
                let left = s.renewal_date.map(|r| r.days() - s.as_of.days());
                in_band && left.is_some_and(|d| (0..=*days as i32).contains(&d))
            };
            (near(now) && !before.is_some_and(near)).then(|| {
                let renewal = now.renewal_date.expect("near means a renewal day");
                format!(
                    "renews on {renewal} ({} days) while {}",
                    renewal.days() - now.as_of.days(),
                    now.band
                )
            })
        }
    }
}

/// The first milestone `wanted` that `now` has reached and `before` had not.
fn reached(
    now: &Snapshot,
    before: Option<&Snapshot>,
    wanted: impl Fn(&str) -> bool,
) -> Option<String> {
    let is_reached = |s: &Snapshot, id: &str| {
        s.milestones
            .iter()
            .any(|m| m.id == id && (m.progress >= 1.0 || m.reached_on.is_some()))
    };
    now.milestones
        .iter()
        .map(|m| m.id.as_str())
        .filter(|id| wanted(id) && is_reached(now, id))
        .find(|id| !before.is_some_and(|b| is_reached(b, id)))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MilestoneInfo, MilestoneProgress, PluginRef, Upsell};

    fn snap(day: &str, score: f64, band: &str) -> Snapshot {
        Snapshot {
            tenant: "acme".into(),
            account_id: "a".into(),
            as_of: day.parse().unwrap(),
            arr: 1_000.0,
            segment: "smb".into(),
            renewal_date: None,
            score,
            band: band.into(),
            factors: Vec::new(),
            milestones: Vec::new(),
            plugin: PluginRef {
                name: "p".into(),
                version: "1".into(),
                digest: "sha256:1".into(),
            },
            overrides: Vec::new(),
        }
    }

    fn rule(when: Condition) -> AlertRule {
        AlertRule {
            name: "r".into(),
            segment: None,
            when,
        }
    }

    /// What `when` says at each day of `history`, as if each were recorded in
    /// turn: `Some(summary)` where it fired.
    fn course(when: Condition, history: &[Snapshot]) -> Vec<Option<String>> {
        let rules = [rule(when)];
        (1..=history.len())
            .map(|n| {
                let fired = fired(&rules, &history[..n], &PluginInfo::default());
                assert!(fired.len() <= 1);
                fired.into_iter().next().map(|f| f.summary)
            })
            .collect()
    }

    fn fires_on(when: Condition, history: &[Snapshot]) -> Vec<usize> {
        course(when, history)
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.is_some().then_some(i))
            .collect()
    }

    fn bands(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn band_entered_and_left_fire_on_the_change_only() {
        let history = [
            snap("2026-01-01", 80.0, "green"),
            snap("2026-02-01", 40.0, "red"),
            snap("2026-03-01", 35.0, "red"),
            snap("2026-04-01", 60.0, "yellow"),
            snap("2026-05-01", 30.0, "red"),
        ];
        let entered = Condition::BandEntered {
            bands: bands(&["red"]),
        };
        assert_eq!(fires_on(entered.clone(), &history), [1, 4]);
        assert_eq!(
            course(entered.clone(), &history)[1].as_deref(),
            Some("entered red from green (score 40.0)")
        );
        // A new account that starts in the band has entered it.
        assert_eq!(
            course(entered, &history[1..])[0].as_deref(),
            Some("entered red (score 40.0)")
        );
        let left = Condition::BandLeft {
            bands: bands(&["red"]),
        };
        assert_eq!(fires_on(left.clone(), &history), [3]);
        assert_eq!(
            course(left.clone(), &history)[3].as_deref(),
            Some("left red for yellow (score 60.0)")
        );
        // No earlier snapshot: nothing was left.
        assert_eq!(fires_on(left, &history[3..]), [] as [usize; 0]);
    }

    #[test]
    fn a_drop_counts_from_the_highest_score_in_the_window_boundary_included() {
        let history = [
            snap("2026-01-01", 80.0, "green"),
            snap("2026-01-31", 75.0, "green"),
            snap("2026-02-10", 70.0, "yellow"),
            snap("2026-03-02", 65.0, "yellow"),
            snap("2026-03-03", 64.0, "yellow"),
            snap("2026-03-10", 50.0, "red"),
        ];
        let dropped = Condition::ScoreDropped {
            points: 10.0,
            within_days: 30,
        };
        // Jan 31: 5 below Jan 1 (30 days back, in). Feb 10: Jan 1 is out, 5
        // below Jan 31. Mar 2: Jan 31 is exactly 30 days back, in: 75 - 65 =
        // 10, fires. Mar 3: Jan 31 is out, 6 below Feb 10. Mar 10: 20 below
        // Feb 10, and Mar 3 did not hold: fires again.
        assert_eq!(fires_on(dropped.clone(), &history), [3, 5]);
        assert_eq!(
            course(dropped, &history)[3].as_deref(),
            Some("score 65.0 is 10.0 points below 75.0 on 2026-01-31")
        );
        // A drop that stays is announced once.
        let steady = [
            snap("2026-01-01", 80.0, "green"),
            snap("2026-01-02", 60.0, "yellow"),
            snap("2026-01-03", 60.0, "yellow"),
        ];
        let big = Condition::ScoreDropped {
            points: 20.0,
            within_days: 7,
        };
        assert_eq!(fires_on(big, &steady), [1]);
    }

    #[test]
    fn velocity_below_needs_two_days_and_fires_when_it_crosses() {
        // Scores fall 3 points per 10 days: -9 per 30 days.
        let history = [
            snap("2026-01-01", 60.0, "yellow"),
            snap("2026-01-11", 57.0, "yellow"),
            snap("2026-01-21", 54.0, "yellow"),
            snap("2026-01-31", 60.0, "yellow"),
        ];
        let below = Condition::VelocityBelow {
            points_per_30_days: -5.0,
            window_days: 90,
        };
        // Jan 1: no velocity (one day). Jan 11: -9 < -5, fires. Jan 21: -9
        // again, already below. Jan 31: the slope of (0, 60), (10, 57), (20,
        // 54), (30, 60) is -0.03 a day, -0.9 per 30 days: not below.
        assert_eq!(fires_on(below.clone(), &history), [1]);
        assert_eq!(
            course(below, &history)[1].as_deref(),
            Some("velocity -9.0 points per 30 days, below -5")
        );
        // -15 points in 30 days is -15 exactly: at the threshold is not below it.
        let fall = [
            snap("2026-01-01", 60.0, "yellow"),
            snap("2026-01-31", 45.0, "red"),
        ];
        let threshold = |v: f64| Condition::VelocityBelow {
            points_per_30_days: v,
            window_days: 90,
        };
        assert_eq!(fires_on(threshold(-15.0), &fall), [] as [usize; 0]);
        assert_eq!(fires_on(threshold(-14.5), &fall), [1]);
        // Out of the window, a day does not count: 30 days back with a 29-day window.
        let narrow = Condition::VelocityBelow {
            points_per_30_days: -1.0,
            window_days: 29,
        };
        assert_eq!(fires_on(narrow, &fall), [] as [usize; 0]);
    }

    fn with_milestone(mut s: Snapshot, id: &str, progress: f64) -> Snapshot {
        s.milestones.push(MilestoneProgress {
            id: id.into(),
            progress,
            reached_on: None,
            predicted_on: None,
            likelihood: None,
        });
        s
    }

    #[test]
    fn milestones_and_expansion_fire_once_when_reached() {
        let history = [
            with_milestone(snap("2026-01-01", 50.0, "yellow"), "first-value", 0.5),
            with_milestone(snap("2026-02-01", 60.0, "yellow"), "first-value", 1.0),
            with_milestone(snap("2026-03-01", 70.0, "green"), "first-value", 1.0),
        ];
        let any = Condition::MilestoneReached { milestone: None };
        assert_eq!(fires_on(any.clone(), &history), [1]);
        assert_eq!(
            course(any, &history)[1].as_deref(),
            Some("reached milestone first-value")
        );
        let other = Condition::MilestoneReached {
            milestone: Some("power-usage".into()),
        };
        assert_eq!(fires_on(other, &history), [] as [usize; 0]);

        let info = |upsell: bool| PluginInfo {
            milestones: vec![MilestoneInfo {
                id: "first-value".into(),
                name: "First value".into(),
                description: String::new(),
                upsell: upsell.then(|| Upsell {
                    offer: "premium support".into(),
                    arr: 2_400.0,
                    take_rate: 0.3,
                }),
            }],
            ..PluginInfo::default()
        };
        let rules = [rule(Condition::ExpansionReady)];
        let ready = fired(&rules, &history[..2], &info(true));
        assert_eq!(
            ready[0].summary,
            "reached milestone first-value: ready for premium support (+2400 ARR)"
        );
        assert!(fired(&rules, &history[..2], &info(false)).is_empty());
        assert!(fired(&rules, &history, &info(true)).is_empty(), "once");
    }

    #[test]
    fn renewal_within_counts_days_inclusive_and_filters_bands() {
        let renewing = |day: &str, band: &str| {
            let mut s = snap(day, 40.0, band);
            s.renewal_date = Some("2026-03-31".parse().unwrap());
            s
        };
        let history = [
            renewing("2026-02-28", "red"), // 31 days
            renewing("2026-03-01", "red"), // 30 days: fires
            renewing("2026-03-15", "red"), // 16: already near
            renewing("2026-03-31", "red"), // 0: still near
            renewing("2026-04-01", "red"), // past: not near
        ];
        let near = Condition::RenewalWithin {
            days: 30,
            bands: bands(&["red"]),
        };
        assert_eq!(fires_on(near.clone(), &history), [1]);
        assert_eq!(
            course(near.clone(), &history)[1].as_deref(),
            Some("renews on 2026-03-31 (30 days) while red")
        );
        let green = [
            renewing("2026-03-01", "green"),
            renewing("2026-03-02", "red"),
        ];
        assert_eq!(fires_on(near, &green), [1], "entering the band counts");
        let any_band = Condition::RenewalWithin {
            days: 30,
            bands: Vec::new(),
        };
        assert_eq!(fires_on(any_band, &green), [0]);
    }

    #[test]
    fn rules_read_their_longest_window_and_at_least_45_days() {
        assert_eq!(lookback_days(&[]), 45);
        let dropped = rule(Condition::ScoreDropped {
            points: 5.0,
            within_days: 10,
        });
        assert_eq!(lookback_days(std::slice::from_ref(&dropped)), 45);
        let slow = rule(Condition::VelocityBelow {
            points_per_30_days: -1.0,
            window_days: 90,
        });
        assert_eq!(lookback_days(&[dropped, slow]), 90);
    }

    #[test]
    fn segments_filter_and_nothing_fires_on_nothing() {
        let history = [
            snap("2026-01-01", 80.0, "green"),
            snap("2026-02-01", 30.0, "red"),
        ];
        let mut r = rule(Condition::BandEntered {
            bands: bands(&["red"]),
        });
        r.segment = Some("enterprise".into());
        assert!(fired(&[r.clone()], &history, &PluginInfo::default()).is_empty());
        r.segment = Some("smb".into());
        let got = fired(&[r], &history, &PluginInfo::default());
        assert_eq!(
            (
                got[0].rule.as_str(),
                got[0].kind,
                got[0].account_id.as_str()
            ),
            ("r", "band-entered", "a")
        );
        assert_eq!(got[0].as_of.to_string(), "2026-02-01");
        assert!(fired(&[], &history, &PluginInfo::default()).is_empty());
        let any = [rule(Condition::ExpansionReady)];
        assert!(fired(&any, &[], &PluginInfo::default()).is_empty());
    }

    #[test]
    fn the_detail_names_the_factors_that_moved_most() {
        use crate::FactorScore;
        let factor = |name: &str, contribution: f64, reason: &str| FactorScore {
            name: name.into(),
            value: 0.0,
            weight: 0.25,
            contribution,
            reason: reason.into(),
        };
        let mut before = snap("2026-01-01", 70.0, "green");
        before.factors = vec![
            factor("seats", 30.0, "40 of 50"),
            factor("nps", 20.0, "nps 40"),
            factor("tickets", 15.0, "2 open"),
            factor("logins", 5.0, "daily"),
        ];
        let mut now = snap("2026-02-01", 42.0, "red");
        // -18, -8, -2 and +0.02 (below the 0.05 that rounds to nothing).
        now.factors = vec![
            factor("seats", 12.0, "15 of 50"),
            factor("nps", 12.0, "nps 10"),
            factor("tickets", 13.0, "4 open"),
            factor("logins", 5.02, "daily"),
        ];
        let rules = [rule(Condition::BandEntered {
            bands: bands(&["red"]),
        })];
        let got = fired(
            &rules,
            &[before.clone(), now.clone()],
            &PluginInfo::default(),
        );
        let d = &got[0].detail;
        assert_eq!((d.score, d.band.as_str()), (42.0, "red"));
        assert_eq!(
            (d.score_before, d.band_before.as_deref()),
            (Some(70.0), Some("green"))
        );
        assert_eq!(d.since, Some(before.as_of));
        let moved: Vec<(&str, f64)> = d
            .moved
            .iter()
            .map(|m| (m.factor.as_str(), m.change))
            .collect();
        assert_eq!(moved, [("seats", -18.0), ("nps", -8.0), ("tickets", -2.0)]);
        assert_eq!(
            d.moved[0].summary,
            "seats -18.0 points: 15 of 50 (was 40 of 50)"
        );
        // A new account: nothing before, nothing moved.
        let got = fired(&rules, &[now], &PluginInfo::default());
        assert_eq!(got[0].detail.score_before, None);
        assert!(got[0].detail.moved.is_empty());
    }
}
