//! `[[alerts]]` in tenant.toml, read into [`AlertRule`]s: one table per rule,
//! `when` naming the condition and only that condition's keys allowed.
//!
//! ```toml
//! [[alerts]]
//! name = "turned-red"
//! when = "band-entered"        # band-entered | band-left | score-dropped | velocity-below
//! bands = ["red"]              # | milestone-reached | expansion-ready | renewal-within
//! segment = "enterprise"       # optional: only these accounts
//! ```

use headway_core::alerts::{AlertRule, Condition};
use serde::{Deserialize, Deserializer, de::Error};

/// The conditions by name, as errors list them.
const KINDS: &str = "band-entered, band-left, score-dropped, velocity-below, \
                     milestone-reached, expansion-ready, renewal-within";

/// What one `[[alerts]]` table may hold; which keys apply depends on `when`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    name: String,
    when: String,
    segment: Option<String>,
    bands: Option<Vec<String>>,
    points: Option<f64>,
    within_days: Option<u32>,
    points_per_30_days: Option<f64>,
    window_days: Option<u32>,
    milestone: Option<String>,
    days: Option<u32>,
}

impl RawAlert {
    /// The keys given besides `name`, `when` and `segment`.
    fn given(&self) -> Vec<&'static str> {
        [
            ("bands", self.bands.is_some()),
            ("points", self.points.is_some()),
            ("within_days", self.within_days.is_some()),
            ("points_per_30_days", self.points_per_30_days.is_some()),
            ("window_days", self.window_days.is_some()),
            ("milestone", self.milestone.is_some()),
            ("days", self.days.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect()
    }

    fn rule(self) -> Result<AlertRule, String> {
        let name = self.name.clone();
        let at = |message: String| format!("alert `{name}`: {message}");
        if name.trim().is_empty() {
            return Err("an alert needs a name".into());
        }
        let (allowed, required): (&[&str], &[&str]) = match self.when.as_str() {
            "band-entered" | "band-left" => (&["bands"], &["bands"]),
            "score-dropped" => (&["points", "within_days"], &["points", "within_days"]),
            "velocity-below" => (
                &["points_per_30_days", "window_days"],
                &["points_per_30_days"],
            ),
            "milestone-reached" => (&["milestone"], &[]),
            "expansion-ready" => (&[], &[]),
            "renewal-within" => (&["days", "bands"], &["days"]),
            other => return Err(at(format!("`when = \"{other}\"` is not one of {KINDS}"))),
        };
        let given = self.given();
        if let Some(extra) = given.iter().find(|k| !allowed.contains(k)) {
            return Err(at(format!("`{extra}` does not apply to {}", self.when)));
        }
        if let Some(missing) = required.iter().find(|k| !given.contains(k)) {
            return Err(at(format!("{} needs `{missing}`", self.when)));
        }
        let bands = self.bands.unwrap_or_default();
        if self.when.starts_with("band-") && bands.is_empty() {
            return Err(at("`bands` is empty: name at least one band".into()));
        }
        let when = match self.when.as_str() {
            "band-entered" => Condition::BandEntered { bands },
            "band-left" => Condition::BandLeft { bands },
            "score-dropped" => {
                let points = self.points.expect("required");
                let within_days = self.within_days.expect("required");
                if !(points > 0.0 && points.is_finite()) || within_days == 0 {
                    return Err(at(
                        "score-dropped needs `points` above 0 and `within_days` of 1 or more"
                            .into(),
                    ));
                }
                Condition::ScoreDropped {
                    points,
                    within_days,
                }
            }
            "velocity-below" => {
                let points_per_30_days = self.points_per_30_days.expect("required");
                let window_days = self.window_days.unwrap_or(90);
                if !points_per_30_days.is_finite() || window_days == 0 {
                    return Err(at(
                        "velocity-below needs a finite `points_per_30_days` and `window_days` of 1 or more"
                            .into(),
                    ));
                }
                Condition::VelocityBelow {
                    points_per_30_days,
                    window_days,
                }
            }
            "milestone-reached" => Condition::MilestoneReached {
                milestone: self.milestone,
            },
            "expansion-ready" => Condition::ExpansionReady,
            _ => Condition::RenewalWithin {
                days: self.days.expect("required"),
                bands,
            },
        };
        Ok(AlertRule {
            name,
            segment: self.segment,
            when,
        })
    }
}

/// `deserialize_with` for `[[alerts]]`: every rule checked, names unique.
pub(crate) fn rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AlertRule>, D::Error> {
    let raw = Vec::<RawAlert>::deserialize(d)?;
    let mut rules: Vec<AlertRule> = Vec::with_capacity(raw.len());
    for r in raw {
        let rule = r.rule().map_err(D::Error::custom)?;
        if rules.iter().any(|seen| seen.name == rule.name) {
            return Err(D::Error::custom(format!(
                "two alerts are named `{}`: names must be unique",
                rule.name
            )));
        }
        rules.push(rule);
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use crate::TenantConfig;
    use headway_core::alerts::Condition;
    use std::path::Path;

    fn parse(alerts: &str) -> Result<Vec<headway_core::alerts::AlertRule>, String> {
        let text = format!("name = \"A\"\nplugin = \"p.wasm\"\n{alerts}");
        TenantConfig::parse(&text, Path::new("t/tenant.toml"), "t")
            .map(|c| c.alerts)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_kind_reads_with_its_keys() {
        let rules = parse(
            r#"
[[alerts]]
name = "turned-red"
when = "band-entered"
bands = ["red"]
segment = "enterprise"
[[alerts]]
name = "slipping"
when = "score-dropped"
points = 10
within_days = 30
[[alerts]]
name = "sliding"
when = "velocity-below"
points_per_30_days = -5.5
[[alerts]]
name = "ready"
when = "expansion-ready"
[[alerts]]
name = "renewal-risk"
when = "renewal-within"
days = 60
bands = ["red", "yellow"]
"#,
        )
        .unwrap();
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0].segment.as_deref(), Some("enterprise"));
        assert_eq!(
            rules[1].when,
            Condition::ScoreDropped {
                points: 10.0,
                within_days: 30
            }
        );
        assert_eq!(
            rules[2].when,
            Condition::VelocityBelow {
                points_per_30_days: -5.5,
                window_days: 90
            }
        );
        assert_eq!(rules[3].when, Condition::ExpansionReady);
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn a_wrong_rule_is_named_with_what_is_wrong() {
        let cases = [
            (
                "name = \"x\"\nwhen = \"band-changed\"",
                "`when = \"band-changed\"` is not one of band-entered",
            ),
            (
                "name = \"x\"\nwhen = \"band-entered\"",
                "alert `x`: band-entered needs `bands`",
            ),
            (
                "name = \"x\"\nwhen = \"band-left\"\nbands = []",
                "`bands` is empty",
            ),
            (
                "name = \"x\"\nwhen = \"expansion-ready\"\ndays = 3",
                "`days` does not apply to expansion-ready",
            ),
            (
                "name = \"x\"\nwhen = \"score-dropped\"\npoints = 10",
                "score-dropped needs `within_days`",
            ),
            (
                "name = \"x\"\nwhen = \"score-dropped\"\npoints = -1\nwithin_days = 3",
                "`points` above 0",
            ),
            (
                "name = \"x\"\nwhen = \"renewal-within\"\nday = 3",
                "unknown field `day`",
            ),
            (
                "name = \"\"\nwhen = \"expansion-ready\"",
                "an alert needs a name",
            ),
        ];
        for (table, expected) in cases {
            let err = parse(&format!("[[alerts]]\n{table}\n")).unwrap_err();
            assert!(
                err.starts_with("`t/tenant.toml`: ") && err.contains(expected),
                "{err}"
            );
        }
        let twice = "[[alerts]]\nname = \"x\"\nwhen = \"expansion-ready\"\n";
        let err = parse(&format!("{twice}{twice}")).unwrap_err();
        assert!(err.contains("two alerts are named `x`"), "{err}");
    }
}
