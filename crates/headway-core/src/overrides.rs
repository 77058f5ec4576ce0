//! CSM overrides: a person who knows an account better than the data sets one
//! factor's score or the band, for a while, with a reason.
//!
//! The plugin's result is never changed where it is kept: [`apply`] works on a
//! copy when a snapshot is read. The score is recomputed from the factor scores
//! (an overridden factor's contribution is its weight times the new score), the
//! band follows the new score unless the plugin or a band override fixed it, and
//! the overridden factor's reason says who overrode it, until when and why.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::success::Snapshot;
use crate::{Date, PluginInfo};

/// What an override replaces: one factor's score, or the band.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A factor, by id (written `factor:<id>`).
    Factor(String),
    /// The band (written `band`).
    Band,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Factor(id) => write!(f, "factor:{id}"),
            Self::Band => f.write_str("band"),
        }
    }
}

impl FromStr for Target {
    type Err = OverrideError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "band" => Ok(Self::Band),
            Some(("factor", id)) if !id.trim().is_empty() => Ok(Self::Factor(id.to_owned())),
            _ => Err(OverrideError(format!(
                "`{s}` is not an override target: expected `band` or `factor:<id>`"
            ))),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The value an override sets, or a target had: a factor's score (0-100; NaN,
/// JSON `null`, for a factor the plugin skipped) or a band's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    /// A factor's score, 0-100.
    Score(#[serde(deserialize_with = "crate::assessment::null_as_nan")] f64),
    /// A band's name.
    Band(String),
}

/// One override in force from `from` to `until` (both included, as-of days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// The account.
    pub account_id: String,
    /// What it replaces.
    pub target: Target,
    /// What it sets: a score for a factor, a band's name for the band.
    pub value: Setting,
    /// The first as-of day it applies to.
    pub from: Date,
    /// The last as-of day it applies to: after it, it stops applying by itself.
    pub until: Date,
    /// Who set it.
    pub author: String,
    /// Why.
    pub reason: String,
}

impl Override {
    /// Whether it applies to `account`'s snapshot of `day`.
    pub fn applies(&self, account: &str, day: Date) -> bool {
        self.account_id == account && self.from <= day && day <= self.until
    }

    /// The explanation users read where it applies.
    pub fn note(&self) -> String {
        format!(
            "override by {} until {}: {}",
            self.author, self.until, self.reason
        )
    }

    /// Checks it against the build it will apply to: a declared factor with a
    /// score of 0-100, or a declared band; an author, a reason, an expiry not
    /// before its start.
    pub fn validate(&self, info: &PluginInfo) -> Result<(), OverrideError> {
        let fail = |m: String| Err(OverrideError(m));
        signed(&self.author, &self.reason)?;
        if self.until < self.from {
            return fail(format!(
                "the override ends on {} before it starts on {}",
                self.until, self.from
            ));
        }
        match (&self.target, &self.value) {
            (Target::Factor(id), Setting::Score(score)) => {
                if !info.factors.iter().any(|f| &f.id == id) {
                    return fail(format!(
                        "factor `{id}` is not declared by {}; it declares {}",
                        info.name,
                        list(info.factors.iter().map(|f| f.id.as_str()))
                    ));
                }
                if !(0.0..=100.0).contains(score) {
                    return fail(format!("a factor's score is 0-100, got {score}"));
                }
            }
            (Target::Band, Setting::Band(band)) => {
                if !info.bands.iter().any(|b| &b.name == band) {
                    return fail(format!(
                        "band `{band}` is not declared by {}; it declares {}",
                        info.name,
                        list(info.bands.iter().map(|b| b.name.as_str()))
                    ));
                }
            }
            (Target::Factor(_), Setting::Band(_)) => {
                return fail("a factor override sets a score (0-100), not a band".into());
            }
            (Target::Band, Setting::Score(_)) => {
                return fail("a band override sets a band's name, not a score".into());
            }
        }
        Ok(())
    }
}

/// Checks that a change to an override (setting or clearing one) says who
/// makes it and why: the audit trail keeps both.
pub fn signed(author: &str, reason: &str) -> Result<(), OverrideError> {
    if author.trim().is_empty() {
        return Err(OverrideError("an override needs an author".into()));
    }
    if reason.trim().is_empty() {
        return Err(OverrideError("an override needs a reason".into()));
    }
    Ok(())
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Why an override cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OverrideError(pub String);

/// An override applied to a snapshot: what the plugin said and what is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// What was replaced.
    pub target: Target,
    /// The plugin's value.
    pub was: Setting,
    /// The value shown.
    pub now: Setting,
    /// "override by <author> until <day>: <reason>".
    pub note: String,
}

/// One change to an account's overrides, as the audit trail keeps it: who, when,
/// why, the override before (none: new) and after (none: cleared).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideChange {
    /// When it was made (RFC 3339, UTC).
    pub at: String,
    /// The account.
    pub account_id: String,
    /// What it changed.
    pub target: Target,
    /// Who made it.
    pub author: String,
    /// Why.
    pub reason: String,
    /// The override before the change.
    pub old: Option<Override>,
    /// The override after it.
    pub new: Option<Override>,
}

/// Applies to `snapshot` (a result of the build that declared `info`) the
/// overrides in force on its day: factor scores first, then the band.
///
/// A factor the plugin skipped (weight 0) takes its declared weight back, shared
/// as the kit shares it: the other factors' weights and contributions shrink in
/// proportion. The score moves by the change of contributions; the band follows
/// the score unless the plugin had fixed a band the score does not fall in.
pub fn apply(snapshot: &mut Snapshot, overrides: &[Override], info: &PluginInfo) {
    let mut in_force: Vec<&Override> = overrides
        .iter()
        .filter(|o| o.applies(&snapshot.account_id, snapshot.as_of))
        .collect();
    if in_force.is_empty() {
        return;
    }
    in_force.sort_by(|a, b| a.target.cmp(&b.target));
    let band_followed_score = info
        .band_for(snapshot.score)
        .is_some_and(|b| b.name == snapshot.band);
    let before: f64 = snapshot.factors.iter().map(|f| f.contribution).sum();
    let mut factors_changed = false;
    for o in &in_force {
        match (&o.target, &o.value) {
            (Target::Factor(id), Setting::Score(score)) => {
                if let Some(applied) = set_factor(snapshot, info, id, *score, o) {
                    snapshot.overrides.push(applied);
                    factors_changed = true;
                }
            }
            (Target::Band, Setting::Band(band)) => {
                snapshot.overrides.push(Applied {
                    target: Target::Band,
                    was: Setting::Band(snapshot.band.clone()),
                    now: Setting::Band(band.clone()),
                    note: o.note(),
                });
                snapshot.band = band.clone();
            }
            // `validate` refuses the other pairs; one read back from elsewhere is ignored.
            _ => {}
        }
    }
    if factors_changed {
        let after: f64 = snapshot.factors.iter().map(|f| f.contribution).sum();
        snapshot.score = (snapshot.score + after - before).clamp(0.0, 100.0);
        let band_fixed = in_force.iter().any(|o| o.target == Target::Band);
        if band_followed_score
            && !band_fixed
            && let Some(band) = info.band_for(snapshot.score)
        {
            snapshot.band = band.name.clone();
        }
    }
}

/// Sets factor `id`'s score to `score` points, rescaling the others when it had
/// been skipped. `None` when the snapshot has no such factor.
fn set_factor(
    snapshot: &mut Snapshot,
    info: &PluginInfo,
    id: &str,
    score: f64,
    o: &Override,
) -> Option<Applied> {
    let at = snapshot.factors.iter().position(|f| f.name == id)?;
    let factor = &snapshot.factors[at];
    let was = if factor.weight > 0.0 {
        factor.contribution / factor.weight
    } else {
        f64::NAN
    };
    if factor.weight <= 0.0 {
        let declared = |name: &str| {
            info.factors
                .iter()
                .find(|f| f.id == name)
                .map_or(0.0, |f| f.weight)
        };
        let counted: f64 = snapshot
            .factors
            .iter()
            .filter(|f| f.weight > 0.0)
            .map(|f| declared(&f.name))
            .sum();
        let own = declared(id);
        let weight = if own > 0.0 {
            own / (counted + own)
        } else {
            0.0
        };
        for f in &mut snapshot.factors {
            f.weight *= 1.0 - weight;
            f.contribution *= 1.0 - weight;
        }
        snapshot.factors[at].weight = weight;
    }
    let factor = &mut snapshot.factors[at];
    factor.contribution = factor.weight * score;
    factor.reason = o.note();
    Some(Applied {
        target: o.target.clone(),
        was: Setting::Score(was),
        now: Setting::Score(score),
        note: o.note(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BandInfo, FactorInfo, FactorScore, PluginRef};

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// Adoption and support weigh 0.25 each, NPS 0.5; red from 0, yellow from
    /// 50, green from 75.
    fn info() -> PluginInfo {
        let band = |name: &str, min_score| BandInfo {
            name: name.into(),
            min_score,
        };
        let factor = |id: &str, weight| FactorInfo {
            id: id.into(),
            label: id.into(),
            weight,
        };
        PluginInfo {
            name: "rules".into(),
            version: "1".into(),
            bands: vec![band("red", 0.0), band("yellow", 50.0), band("green", 75.0)],
            factors: vec![
                factor("adoption", 0.25),
                factor("support", 0.25),
                factor("nps", 0.5),
            ],
            milestones: vec![],
            reads: None,
        }
    }

    fn factor(name: &str, weight: f64, contribution: f64) -> FactorScore {
        FactorScore {
            name: name.into(),
            value: 1.0,
            weight,
            contribution,
            reason: format!("{name} as measured"),
        }
    }

    /// Adoption 40 (10 points), support 80 (20 points), NPS 50 (25 points): 55, yellow.
    fn snap(day: &str) -> Snapshot {
        Snapshot {
            tenant: "t".into(),
            account_id: "acme".into(),
            as_of: d(day),
            arr: 1000.0,
            segment: String::new(),
            renewal_date: None,
            score: 55.0,
            band: "yellow".into(),
            factors: vec![
                factor("adoption", 0.25, 10.0),
                factor("support", 0.25, 20.0),
                factor("nps", 0.5, 25.0),
            ],
            milestones: vec![],
            plugin: PluginRef {
                name: "rules".into(),
                version: "1".into(),
                digest: "sha256:1".into(),
            },
            overrides: vec![],
        }
    }

    fn set(target: &str, value: Setting, from: &str, until: &str) -> Override {
        Override {
            account_id: "acme".into(),
            target: target.parse().unwrap(),
            value,
            from: d(from),
            until: d(until),
            author: "dana".into(),
            reason: "exec sponsor confirmed the rollout".into(),
        }
    }

    fn applied(day: &str, overrides: &[Override]) -> Snapshot {
        let mut s = snap(day);
        apply(&mut s, overrides, &info());
        s
    }

    #[test]
    fn a_factor_override_moves_the_score_by_weight_times_the_change() {
        // Adoption 40 -> 80 at weight 0.25: 10 points more, 55 -> 65, still yellow.
        let o = set(
            "factor:adoption",
            Setting::Score(80.0),
            "2026-10-01",
            "2026-10-31",
        );
        let s = applied("2026-10-15", std::slice::from_ref(&o));
        assert_eq!(s.score, 65.0);
        assert_eq!(s.band, "yellow");
        assert_eq!(s.factors[0].contribution, 20.0);
        assert_eq!(s.factors[0].weight, 0.25);
        assert_eq!(s.factors[0].value, 1.0, "the measured value is kept");
        assert_eq!(
            s.factors[0].reason,
            "override by dana until 2026-10-31: exec sponsor confirmed the rollout"
        );
        assert_eq!(s.factors[1], snap("2026-10-15").factors[1]);
        assert_eq!(
            s.overrides,
            vec![Applied {
                target: Target::Factor("adoption".into()),
                was: Setting::Score(40.0),
                now: Setting::Score(80.0),
                note: o.note(),
            }]
        );
    }

    #[test]
    fn the_band_follows_the_recomputed_score() {
        // NPS 50 -> 100 at weight 0.5: 25 points more, 55 -> 80: green.
        let o = set(
            "factor:nps",
            Setting::Score(100.0),
            "2026-10-01",
            "2026-10-31",
        );
        let s = applied("2026-10-01", std::slice::from_ref(&o));
        assert_eq!((s.score, s.band.as_str()), (80.0, "green"));
        // Down to 0: 55 - 25 = 30, red.
        let o = Override {
            value: Setting::Score(0.0),
            ..o
        };
        let s = applied("2026-10-01", &[o]);
        assert_eq!((s.score, s.band.as_str()), (30.0, "red"));
    }

    #[test]
    fn a_band_the_plugin_fixed_stays() {
        // The plugin said red at 55 (a critical signal): a factor override keeps it.
        let mut s = snap("2026-10-01");
        s.band = "red".into();
        let o = set(
            "factor:nps",
            Setting::Score(100.0),
            "2026-10-01",
            "2026-10-31",
        );
        apply(&mut s, &[o], &info());
        assert_eq!((s.score, s.band.as_str()), (80.0, "red"));
    }

    #[test]
    fn a_band_override_sets_the_band_and_leaves_the_score() {
        let band = set(
            "band",
            Setting::Band("green".into()),
            "2026-10-01",
            "2026-10-31",
        );
        let s = applied("2026-10-01", std::slice::from_ref(&band));
        assert_eq!((s.score, s.band.as_str()), (55.0, "green"));
        assert_eq!(s.overrides[0].was, Setting::Band("yellow".into()));
        // With a factor override too the band override wins over the new score's band.
        let nps = set(
            "factor:nps",
            Setting::Score(0.0),
            "2026-10-01",
            "2026-10-31",
        );
        let s = applied("2026-10-01", &[band, nps]);
        assert_eq!((s.score, s.band.as_str()), (30.0, "green"));
        let order: Vec<String> = s.overrides.iter().map(|a| a.target.to_string()).collect();
        assert_eq!(order, ["factor:nps", "band"]);
    }

    #[test]
    fn an_override_applies_from_its_first_to_its_last_day_only() {
        let o = set(
            "factor:adoption",
            Setting::Score(80.0),
            "2026-10-01",
            "2026-10-31",
        );
        for (day, score) in [
            ("2026-09-30", 55.0),
            ("2026-10-01", 65.0),
            ("2026-10-31", 65.0),
            ("2026-11-01", 55.0),
        ] {
            let s = applied(day, std::slice::from_ref(&o));
            assert_eq!(s.score, score, "{day}");
            assert_eq!(s.overrides.is_empty(), score == 55.0, "{day}");
        }
        let other = Override {
            account_id: "globex".into(),
            ..o
        };
        assert_eq!(applied("2026-10-15", &[other]), snap("2026-10-15"));
    }

    #[test]
    fn a_skipped_factor_takes_its_weight_back_as_the_kit_shares_it() {
        // NPS skipped: adoption and support share the weight, 0.5 each:
        // adoption 40 -> 20 points, support 80 -> 40 points: 60.
        let mut s = snap("2026-10-01");
        s.score = 60.0;
        s.factors = vec![
            factor("adoption", 0.5, 20.0),
            factor("support", 0.5, 40.0),
            FactorScore {
                value: f64::NAN,
                ..factor("nps", 0.0, 0.0)
            },
        ];
        // NPS set to 50: back to weights 0.25 / 0.25 / 0.5, the result of the
        // plugin had it scored 50: 10 + 20 + 25 = 55.
        let o = set(
            "factor:nps",
            Setting::Score(50.0),
            "2026-10-01",
            "2026-10-31",
        );
        apply(&mut s, &[o], &info());
        let weights: Vec<f64> = s.factors.iter().map(|f| f.weight).collect();
        let points: Vec<f64> = s.factors.iter().map(|f| f.contribution).collect();
        assert_eq!(weights, [0.25, 0.25, 0.5]);
        assert_eq!(points, [10.0, 20.0, 25.0]);
        assert_eq!((s.score, s.band.as_str()), (55.0, "yellow"));
        assert!(matches!(s.overrides[0].was, Setting::Score(w) if w.is_nan()));
    }

    #[test]
    fn a_factor_the_build_lacks_is_left_alone() {
        let o = set(
            "factor:usage",
            Setting::Score(80.0),
            "2026-10-01",
            "2026-10-31",
        );
        assert_eq!(applied("2026-10-01", &[o]), snap("2026-10-01"));
    }

    #[test]
    fn targets_are_written_band_or_factor_id() {
        assert_eq!("band".parse::<Target>().unwrap(), Target::Band);
        assert_eq!(
            "factor:nps".parse::<Target>().unwrap(),
            Target::Factor("nps".into())
        );
        for bad in ["", "nps", "factor:", "factor: ", "bands", "score:nps"] {
            let e = bad.parse::<Target>().unwrap_err();
            assert!(
                e.to_string().contains("expected `band` or `factor:<id>`"),
                "{bad}"
            );
        }
        let o = set(
            "factor:nps",
            Setting::Score(50.0),
            "2026-10-01",
            "2026-10-31",
        );
        let text = serde_json::to_string(&o).unwrap();
        assert!(
            text.contains(r#""target":"factor:nps","value":50.0"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Override>(&text).unwrap(), o);
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let ok = set(
            "factor:nps",
            Setting::Score(50.0),
            "2026-10-01",
            "2026-10-31",
        );
        assert_eq!(ok.validate(&info()), Ok(()));
        let cases = [
            (
                set(
                    "factor:usage",
                    Setting::Score(50.0),
                    "2026-10-01",
                    "2026-10-31",
                ),
                "factor `usage` is not declared by rules; it declares `adoption`, `support`, `nps`",
            ),
            (
                set(
                    "factor:nps",
                    Setting::Score(100.5),
                    "2026-10-01",
                    "2026-10-31",
                ),
                "a factor's score is 0-100, got 100.5",
            ),
            (
                set(
                    "factor:nps",
                    Setting::Score(f64::NAN),
                    "2026-10-01",
                    "2026-10-31",
                ),
                "a factor's score is 0-100, got NaN",
            ),
            (
                set(
                    "band",
                    Setting::Band("blue".into()),
                    "2026-10-01",
                    "2026-10-31",
                ),
                "band `blue` is not declared by rules; it declares `red`, `yellow`, `green`",
            ),
            (
                set("band", Setting::Score(50.0), "2026-10-01", "2026-10-31"),
                "a band override sets a band's name, not a score",
            ),
            (
                set(
                    "factor:nps",
                    Setting::Band("red".into()),
                    "2026-10-01",
                    "2026-10-31",
                ),
                "a factor override sets a score (0-100), not a band",
            ),
            (
                set(
                    "factor:nps",
                    Setting::Score(50.0),
                    "2026-10-31",
                    "2026-10-30",
                ),
                "the override ends on 2026-10-30 before it starts on 2026-10-31",
            ),
            (
                Override {
                    author: " ".into(),
                    ..ok.clone()
                },
                "an override needs an author",
            ),
            (
                Override {
                    reason: String::new(),
                    ..ok.clone()
                },
                "an override needs a reason",
            ),
        ];
        for (o, message) in cases {
            assert_eq!(o.validate(&info()).unwrap_err().to_string(), message);
        }
    }
}
