//! What a plugin declares about itself and what it returns per account.

use serde::{Deserialize, Serialize};

use crate::Date;

/// A health band such as red / yellow / green.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandInfo {
    /// Name shown to users.
    pub name: String,
    /// Lowest score (0-100) in the band.
    pub min_score: f64,
}

/// A factor of a plugin's health score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorInfo {
    /// Stable id.
    pub id: String,
    /// Human label.
    pub label: String,
    /// Default weight: the share of the 100 points the factor can give.
    pub weight: f64,
}

/// The logical expansion a milestone unlocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upsell {
    /// What is offered.
    pub offer: String,
    /// ARR added per account that takes it.
    pub arr: f64,
    /// Share (0-1) of accounts reaching the milestone expected to take it.
    pub take_rate: f64,
}

/// A Success Milestone declared by a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MilestoneInfo {
    /// Stable id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// What reaching it means for the customer.
    pub description: String,
    /// The upsell it unlocks.
    pub upsell: Option<Upsell>,
}

/// A plugin's self-description (`describe` in the contract).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Bands from lowest to highest.
    pub bands: Vec<BandInfo>,
    /// Factors, in the order results carry them.
    pub factors: Vec<FactorInfo>,
    /// Milestones, in the order customers reach them.
    pub milestones: Vec<MilestoneInfo>,
    /// The input names (measures, histories, outcomes, attributes) the plugin
    /// reads; `None` when it reads everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
}

/// Why a plugin's self-description is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InfoError(String);

impl PluginInfo {
    /// Checks what the host relies on: names present, ids unique, bands ascending
    /// from 0, weights non-negative and summing to 1, take rates within 0-1.
    pub fn validate(&self) -> Result<(), InfoError> {
        let fail = |m: String| Err(InfoError(m));
        if self.name.trim().is_empty() {
            return fail("plugin name is empty".into());
        }
        if self.bands.is_empty() {
            return fail("no bands declared".into());
        }
        if self.bands[0].min_score != 0.0 {
            return fail(format!(
                "the lowest band `{}` must start at 0, starts at {}",
                self.bands[0].name, self.bands[0].min_score
            ));
        }
        if self.bands.len() > usize::from(u8::MAX) {
            return fail(format!("{} bands declared, at most 255", self.bands.len()));
        }
        for w in self.bands.windows(2) {
            if w[1].min_score <= w[0].min_score || w[1].min_score > 100.0 {
                return fail(format!(
                    "band `{}` (from {}) must start above `{}` (from {}) and at most at 100",
                    w[1].name, w[1].min_score, w[0].name, w[0].min_score
                ));
            }
        }
        unique_ids("band", self.bands.iter().map(|b| b.name.as_str()))?;
        unique_ids("factor", self.factors.iter().map(|f| f.id.as_str()))?;
        unique_ids("milestone", self.milestones.iter().map(|m| m.id.as_str()))?;
        if let Some(f) = self
            .factors
            .iter()
            .find(|f| !(f.weight >= 0.0 && f.weight <= 1.0))
        {
            return fail(format!(
                "factor `{}` has weight {}, expected 0-1",
                f.id, f.weight
            ));
        }
        let total: f64 = self.factors.iter().map(|f| f.weight).sum();
        if !self.factors.is_empty() && (total - 1.0).abs() > 1e-6 {
            return fail(format!("factor weights sum to {total}, expected 1"));
        }
        for m in &self.milestones {
            if let Some(u) = &m.upsell
                && !(u.arr >= 0.0 && u.arr.is_finite() && (0.0..=1.0).contains(&u.take_rate))
            {
                return fail(format!(
                    "milestone `{}`: upsell needs arr >= 0 and take rate 0-1, got {} and {}",
                    m.id, u.arr, u.take_rate
                ));
            }
        }
        Ok(())
    }

    /// The band a score falls in: the highest band whose `min_score` it reaches.
    pub fn band_for(&self, score: f64) -> Option<&BandInfo> {
        self.bands.iter().rev().find(|b| score >= b.min_score)
    }
}

fn unique_ids<'a>(what: &str, ids: impl Iterator<Item = &'a str>) -> Result<(), InfoError> {
    let mut seen = std::collections::BTreeSet::new();
    for id in ids {
        if id.trim().is_empty() {
            return Err(InfoError(format!("a {what} has an empty id")));
        }
        if !seen.insert(id) {
            return Err(InfoError(format!("{what} `{id}` declared twice")));
        }
    }
    Ok(())
}

/// How well an account fits the tenant's ideal customer profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fit {
    /// The customer the product is built for.
    Ideal,
    /// Can succeed, with more effort.
    Stretch,
    /// Unlikely to succeed whatever the effort.
    BadFit,
}

impl Fit {
    /// The name as written in output (`bad-fit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ideal => "ideal",
            Self::Stretch => "stretch",
            Self::BadFit => "bad-fit",
        }
    }
}

/// One factor of one account's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorScore {
    /// The factor's id.
    pub name: String,
    /// The raw value the factor looked at; NaN (JSON `null`) where it had none.
    #[serde(deserialize_with = "null_as_nan")]
    pub value: f64,
    /// Weight applied.
    pub weight: f64,
    /// Points (0-100 scale) added to the score.
    pub contribution: f64,
    /// Short human reason.
    pub reason: String,
}

/// JSON has no NaN: serde_json writes it as `null`; read that back as NaN.
pub(crate) fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl FactorScore {
    /// Points the factor could have given but did not: what holds the score back.
    pub fn shortfall(&self) -> f64 {
        self.weight * 100.0 - self.contribution
    }
}

/// The factor with the largest shortfall; ties go to the factor listed first.
pub fn top_factor(factors: &[FactorScore]) -> Option<&FactorScore> {
    factors
        .iter()
        .enumerate()
        .max_by(|(ia, a), (ib, b)| a.shortfall().total_cmp(&b.shortfall()).then(ib.cmp(ia)))
        .map(|(_, f)| f)
}

/// One account's progress toward one milestone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MilestoneProgress {
    /// The milestone's id.
    pub id: String,
    /// 0-1; 1 means reached.
    pub progress: f64,
    /// When reached.
    pub reached_on: Option<Date>,
    /// The plugin's predicted date, if it made one.
    pub predicted_on: Option<Date>,
    /// The plugin's upsell likelihood (0-1), if it estimated one.
    pub likelihood: Option<f64>,
}

/// What a plugin concluded about one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// Health score 0-100.
    pub score: f64,
    /// The band's name.
    pub band: String,
    /// Every factor, in the plugin's declared order.
    pub factors: Vec<FactorScore>,
    /// Progress toward every milestone, in the plugin's declared order.
    pub milestones: Vec<MilestoneProgress>,
    /// Fit, when judged.
    pub fit: Option<Fit>,
}

impl Assessment {
    /// The factor that holds the score back most (largest shortfall); ties go to the
    /// factor declared first. `None` without factors.
    pub fn top_factor(&self) -> Option<&FactorScore> {
        top_factor(&self.factors)
    }

    /// The first milestone, in declared order, that is not reached yet.
    pub fn next_milestone(&self) -> Option<&MilestoneProgress> {
        self.milestones.iter().find(|m| m.progress < 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PluginInfo {
        PluginInfo {
            name: "p".into(),
            version: "1.0.0".into(),
            bands: vec![
                BandInfo {
                    name: "red".into(),
                    min_score: 0.0,
                },
                BandInfo {
                    name: "yellow".into(),
                    min_score: 50.0,
                },
                BandInfo {
                    name: "green".into(),
                    min_score: 75.0,
                },
            ],
            factors: vec![
                FactorInfo {
                    id: "a".into(),
                    label: "A".into(),
                    weight: 0.6,
                },
                FactorInfo {
                    id: "b".into(),
                    label: "B".into(),
                    weight: 0.4,
                },
            ],
            milestones: vec![MilestoneInfo {
                id: "m".into(),
                name: "M".into(),
                description: String::new(),
                upsell: Some(Upsell {
                    offer: "o".into(),
                    arr: 1000.0,
                    take_rate: 0.9,
                }),
            }],
            reads: None,
        }
    }

    #[test]
    fn valid_info_passes_and_bands_resolve_at_boundaries() {
        let i = info();
        i.validate().unwrap();
        assert_eq!(i.band_for(0.0).unwrap().name, "red");
        assert_eq!(i.band_for(49.999).unwrap().name, "red");
        assert_eq!(i.band_for(50.0).unwrap().name, "yellow");
        assert_eq!(i.band_for(75.0).unwrap().name, "green");
        assert_eq!(i.band_for(100.0).unwrap().name, "green");
        assert!(i.band_for(-1.0).is_none());
    }

    #[test]
    fn invalid_info_is_named() {
        type Mutation = fn(&mut PluginInfo);
        let cases: [(Mutation, &str); 6] = [
            (|i| i.bands.clear(), "no bands"),
            (|i| i.bands[0].min_score = 10.0, "must start at 0"),
            (|i| i.bands[2].min_score = 40.0, "band `green`"),
            (|i| i.factors[1].weight = 0.5, "sum to 1.1"),
            (
                |i| i.factors[1].id = "a".into(),
                "factor `a` declared twice",
            ),
            (
                |i| i.milestones[0].upsell.as_mut().unwrap().take_rate = 1.5,
                "take rate 0-1",
            ),
        ];
        for (mutate, expected) in cases {
            let mut i = info();
            mutate(&mut i);
            let err = i.validate().unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }

    fn factor(name: &str, weight: f64, contribution: f64) -> FactorScore {
        FactorScore {
            name: name.into(),
            value: 0.0,
            weight,
            contribution,
            reason: String::new(),
        }
    }

    #[test]
    fn top_factor_is_largest_shortfall_first_declared_on_tie() {
        let mut a = Assessment {
            score: 0.0,
            band: "red".into(),
            // shortfalls: 30-20=10, 50-30=20, 20-0=20
            factors: vec![
                factor("x", 0.3, 20.0),
                factor("y", 0.5, 30.0),
                factor("z", 0.2, 0.0),
            ],
            milestones: vec![],
            fit: None,
        };
        assert_eq!(a.top_factor().unwrap().name, "y");
        a.factors.clear();
        assert!(a.top_factor().is_none());
    }

    #[test]
    fn next_milestone_skips_reached() {
        let m = |id: &str, progress| MilestoneProgress {
            id: id.into(),
            progress,
            reached_on: None,
            predicted_on: None,
            likelihood: None,
        };
        let a = Assessment {
            score: 0.0,
            band: String::new(),
            factors: vec![],
            milestones: vec![m("one", 1.0), m("two", 0.4), m("three", 0.0)],
            fit: None,
        };
        assert_eq!(a.next_milestone().unwrap().id, "two");
    }
}
