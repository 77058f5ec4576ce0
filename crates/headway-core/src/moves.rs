//! What moved an account's score from one snapshot to the next: each factor's
//! change in contribution, largest first, in words. Where the plugin build
//! changed between two snapshots the step is marked instead, so a change of rules
//! is never shown as a change of the customer.

use serde::Serialize;

use crate::success::Snapshot;
use crate::{Date, PluginInfo, PluginRef};

/// One step of an account's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The earlier snapshot's day.
    pub from: Date,
    /// The later snapshot's day.
    pub to: Date,
    /// Score on `from`.
    pub score_before: f64,
    /// Score on `to`.
    pub score_after: f64,
    /// `score_after - score_before`.
    pub change: f64,
    /// Set when the two snapshots come from different builds: the change is
    /// the rules', and no factor is blamed.
    pub build_changed: Option<BuildChange>,
    /// Each factor's change in contribution (they sum to `change`), largest
    /// first; empty when the build changed.
    pub moves: Vec<FactorMove>,
}

/// The rules changed between two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildChange {
    /// The earlier snapshot's build.
    pub from: PluginRef,
    /// The later snapshot's build.
    pub to: PluginRef,
}

/// One factor's part in a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorMove {
    /// The factor's id.
    pub factor: String,
    /// Points it added or took away.
    pub change: f64,
    /// Its reason on the later day.
    pub reason: String,
    /// Its reason on the earlier day.
    pub reason_before: String,
    /// In words: `Seat utilisation -6.2 points: 31 of 57 seats in use (was 44 of 57 seats in use)`.
    pub summary: String,
}

/// The steps of one account's history. Per day the snapshot of `build` is
/// taken, else another build's (shadow builds scoring the same days are not
/// steps); `info` labels `build`'s factors.
pub fn steps(snapshots: &[Snapshot], build: &PluginRef, info: &PluginInfo) -> Vec<Step> {
    let mut days: Vec<&Snapshot> = Vec::new();
    let mut sorted: Vec<&Snapshot> = snapshots.iter().collect();
    sorted.sort_by_key(|s| (s.as_of, s.plugin.digest != build.digest));
    for s in sorted {
        if days.last().is_none_or(|last| last.as_of != s.as_of) {
            days.push(s);
        }
    }
    days.windows(2)
        .map(|pair| step(pair[0], pair[1], build, info))
        .collect()
}

/// The step from `before` to `after`, labelled by `build`'s declaration `info`.
pub(crate) fn step(
    before: &Snapshot,
    after: &Snapshot,
    build: &PluginRef,
    info: &PluginInfo,
) -> Step {
    let same_build = before.plugin.digest == after.plugin.digest;
    let label = |id: &str| -> String {
        let declared = (after.plugin.digest == build.digest)
            .then(|| info.factors.iter().find(|f| f.id == id))
            .flatten();
        declared.map_or_else(|| id.to_owned(), |f| f.label.clone())
    };
    let mut moves = Vec::new();
    if same_build {
        for now in &after.factors {
            let was = before.factors.iter().find(|f| f.name == now.name);
            let change = now.contribution - was.map_or(0.0, |f| f.contribution);
            let reason_before = was.map(|f| f.reason.clone()).unwrap_or_default();
            // A plugin may shift weight between factors (one without data gives
            // its share to the others): say so, or the move looks unexplained.
            let reweighted = match was {
                Some(w) if (w.weight - now.weight).abs() > 1e-9 => {
                    format!("; weight {} -> {}", percent(w.weight), percent(now.weight))
                }
                _ => String::new(),
            };
            let was_text = if reason_before.is_empty() {
                "not scored"
            } else {
                &reason_before
            };
            moves.push(FactorMove {
                summary: format!(
                    "{} {:+.1} points: {} (was {was_text}{reweighted})",
                    label(&now.name),
                    change,
                    now.reason,
                ),
                factor: now.name.clone(),
                change,
                reason: now.reason.clone(),
                reason_before,
            });
        }
        // A factor the later snapshot no longer has gave all its points back.
        for gone in before
            .factors
            .iter()
            .filter(|f| !after.factors.iter().any(|n| n.name == f.name))
        {
            moves.push(FactorMove {
                summary: format!(
                    "{} {:+.1} points: not scored (was {})",
                    label(&gone.name),
                    -gone.contribution,
                    gone.reason
                ),
                factor: gone.name.clone(),
                change: -gone.contribution,
                reason: String::new(),
                reason_before: gone.reason.clone(),
            });
        }
        moves.sort_by(|a, b| b.change.abs().total_cmp(&a.change.abs()));
    }
    Step {
        from: before.as_of,
        to: after.as_of,
        score_before: before.score,
        score_after: after.score,
        change: after.score - before.score,
        build_changed: (!same_build).then(|| BuildChange {
            from: before.plugin.clone(),
            to: after.plugin.clone(),
        }),
        moves,
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FactorInfo, FactorScore};

    fn plugin(digest: &str) -> PluginRef {
        PluginRef {
            name: "p".into(),
            version: digest.into(),
            digest: digest.into(),
        }
    }

    fn info() -> PluginInfo {
        PluginInfo {
            name: "p".into(),
            version: "1".into(),
            factors: vec![
                FactorInfo {
                    id: "seats".into(),
                    label: "Seat utilisation".into(),
                    weight: 0.6,
                },
                FactorInfo {
                    id: "nps".into(),
                    label: "NPS".into(),
                    weight: 0.4,
                },
            ],
            ..PluginInfo::default()
        }
    }

    fn factor(name: &str, contribution: f64, reason: &str) -> FactorScore {
        FactorScore {
            name: name.into(),
            value: 0.0,
            weight: 0.5,
            contribution,
            reason: reason.into(),
        }
    }

    fn snap(day: &str, digest: &str, factors: Vec<FactorScore>) -> Snapshot {
        Snapshot {
            tenant: "t".into(),
            account_id: "a".into(),
            as_of: day.parse().unwrap(),
            arr: 0.0,
            segment: String::new(),
            renewal_date: None,
            score: factors.iter().map(|f| f.contribution).sum(),
            band: "b".into(),
            factors,
            milestones: vec![],
            plugin: plugin(digest),
            overrides: Vec::new(),
        }
    }

    #[test]
    fn factor_moves_sum_to_the_score_change_largest_first() {
        let history = [
            snap(
                "2026-10-01",
                "v1",
                vec![
                    factor("seats", 46.3, "44 of 57 seats in use"),
                    factor("nps", 20.0, "NPS 30"),
                ],
            ),
            snap(
                "2026-11-01",
                "v1",
                vec![
                    factor("seats", 40.1, "31 of 57 seats in use"),
                    factor("nps", 21.5, "NPS 40"),
                ],
            ),
        ];
        let steps = steps(&history, &plugin("v1"), &info());
        assert_eq!(steps.len(), 1);
        let s = &steps[0];
        // 61.6 - 66.3 = -4.7: seats -6.2, NPS +1.5.
        assert!((s.change - -4.7).abs() < 1e-9, "{}", s.change);
        let total: f64 = s.moves.iter().map(|m| m.change).sum();
        assert!((total - s.change).abs() < 1e-12);
        assert_eq!(s.moves[0].factor, "seats");
        assert_eq!(
            s.moves[0].summary,
            "Seat utilisation -6.2 points: 31 of 57 seats in use (was 44 of 57 seats in use)"
        );
        assert_eq!(s.moves[1].summary, "NPS +1.5 points: NPS 40 (was NPS 30)");
        assert!(s.build_changed.is_none());
    }

    #[test]
    fn a_new_build_is_marked_not_blamed_on_the_customer() {
        let history = [
            snap("2026-09-01", "v1", vec![factor("seats", 50.0, "x")]),
            snap("2026-10-01", "v1", vec![factor("seats", 52.0, "y")]),
            // Shadow scoring of the same day by v2: not a step.
            snap("2026-10-01", "v2", vec![factor("seats", 70.0, "z")]),
            snap("2026-11-01", "v2", vec![factor("seats", 71.0, "w")]),
        ];
        let steps = steps(&history, &plugin("v1"), &info());
        let days: Vec<(String, bool)> = steps
            .iter()
            .map(|s| (s.to.to_string(), s.build_changed.is_some()))
            .collect();
        assert_eq!(
            days,
            [
                ("2026-10-01".to_owned(), false),
                ("2026-11-01".to_owned(), true)
            ]
        );
        // v1's 52 on 2026-10-01, then v2's 71: marked, nothing blamed.
        assert_eq!((steps[1].score_before, steps[1].score_after), (52.0, 71.0));
        assert!(steps[1].moves.is_empty());
        assert_eq!(steps[1].build_changed.as_ref().unwrap().to.digest, "v2");
    }

    #[test]
    fn a_factor_that_appears_or_goes_counts_all_its_points() {
        let history = [
            snap(
                "2026-10-01",
                "v1",
                vec![factor("seats", 40.0, "a"), factor("nps", 10.0, "b")],
            ),
            snap(
                "2026-11-01",
                "v1",
                vec![FactorScore {
                    weight: 1.0,
                    ..factor("seats", 45.0, "c")
                }],
            ),
        ];
        let s = &steps(&history, &plugin("v1"), &info())[0];
        let total: f64 = s.moves.iter().map(|m| m.change).sum();
        assert_eq!((s.change, total), (-5.0, -5.0));
        assert_eq!(s.moves[0].summary, "NPS -10.0 points: not scored (was b)");
        assert_eq!(
            s.moves[1].summary,
            "Seat utilisation +5.0 points: c (was a; weight 50% -> 100%)"
        );
        assert!(steps(&history[..1], &plugin("v1"), &info()).is_empty());
        assert!(steps(&[], &plugin("v1"), &info()).is_empty());
    }
}
