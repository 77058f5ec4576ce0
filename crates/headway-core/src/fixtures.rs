//! Golden fixtures: accounts with the result a plugin must give them.
//!
//! One JSON object per line:
//!
//! ```json
//! {"name": "healthy team", "account": { ...an account, as in accounts.jsonl... },
//!  "expect": {"score": 73.08, "tolerance": 0.01, "band": "green",
//!             "milestones": {"team-rollout": 0.9375}, "fit": "ideal"}}
//! {"name": "no seats", "account": { ... }, "expect": {"error": "missing-measure"}}
//! ```
//!
//! Every `expect` key is optional. `error` is the plugin's own error code (or an
//! error kind such as `trap`); a fixture with `error` expects a failure.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Account;
use crate::assessment::{Assessment, Fit};
use crate::input::{InputDefaults, InputError, account_from_value};
use crate::report::AccountError;

/// What a fixture expects.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Expected score.
    pub score: Option<f64>,
    /// Allowed difference from `score` (default 0.01).
    pub tolerance: Option<f64>,
    /// Expected band.
    pub band: Option<String>,
    /// Expected progress per milestone id (within 0.001).
    #[serde(default)]
    pub milestones: BTreeMap<String, f64>,
    /// Expected fit label.
    pub fit: Option<Fit>,
    /// Expected failure: the plugin's error code, or an error kind.
    pub error: Option<String>,
}

/// One golden case.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The case's name.
    pub name: String,
    /// 1-based line in the fixtures file.
    pub line: usize,
    /// The account to assess.
    pub account: Account,
    /// What must come out.
    pub expect: Expectation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    name: String,
    account: serde_json::Value,
    #[serde(default)]
    expect: Expectation,
}

/// Parses a fixtures file; bad lines are errors naming line and field.
pub fn parse_fixtures(source: &str, text: &str) -> (Vec<Fixture>, Vec<InputError>) {
    let mut fixtures = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |field: Option<String>, message: String| InputError {
            source_name: source.to_owned(),
            line: i + 1,
            field,
            account_id: None,
            message,
        };
        let de = &mut serde_json::Deserializer::from_str(line);
        match serde_path_to_error::deserialize::<_, RawFixture>(de) {
            Err(e) => {
                let path = e.path().to_string();
                errors.push(error(
                    (path != ".").then_some(path),
                    e.into_inner().to_string(),
                ));
            }
            Ok(raw) => match account_from_value(raw.account, &InputDefaults::default()) {
                Ok(account) => fixtures.push(Fixture {
                    name: raw.name,
                    line: i + 1,
                    account,
                    expect: raw.expect,
                }),
                Err((field, message)) => {
                    errors.push(error(field.map(|f| format!("account.{f}")), message))
                }
            },
        }
    }
    (fixtures, errors)
}

/// How a result differs from what the fixture expects: one line per mismatch,
/// empty when it passes.
pub fn differences(expect: &Expectation, result: &Result<Assessment, AccountError>) -> Vec<String> {
    let mut diff = Vec::new();
    match (result, &expect.error) {
        (Err(e), Some(wanted)) => {
            if e.code.as_deref() != Some(wanted.as_str()) && e.kind.as_str() != wanted {
                diff.push(format!(
                    "error: expected `{wanted}`, got {}",
                    describe_error(e)
                ));
            }
        }
        (Err(e), None) => diff.push(format!("expected a score, got {}", describe_error(e))),
        (Ok(a), Some(wanted)) => diff.push(format!(
            "expected error `{wanted}`, got score {:.2} ({})",
            a.score, a.band
        )),
        (Ok(a), None) => {
            if let Some(score) = expect.score {
                let tolerance = expect.tolerance.unwrap_or(0.01);
                if (a.score - score).abs() > tolerance {
                    diff.push(format!(
                        "score: expected {score} ± {tolerance}, got {:.4}",
                        a.score
                    ));
                }
            }
            if let Some(band) = &expect.band
                && band != &a.band
            {
                diff.push(format!("band: expected {band}, got {}", a.band));
            }
            for (id, progress) in &expect.milestones {
                match a.milestones.iter().find(|m| &m.id == id) {
                    None => diff.push(format!("milestone `{id}`: not declared by the plugin")),
                    Some(m) if (m.progress - progress).abs() > 0.001 => {
                        diff.push(format!(
                            "milestone `{id}`: expected progress {progress}, got {:.4}",
                            m.progress
                        ));
                    }
                    Some(_) => {}
                }
            }
            if expect.fit.is_some() && expect.fit != a.fit {
                let name = |f: Option<crate::Fit>| f.map_or("none", crate::Fit::as_str);
                diff.push(format!(
                    "fit: expected {}, got {}",
                    name(expect.fit),
                    name(a.fit)
                ));
            }
        }
    }
    diff
}

fn describe_error(e: &AccountError) -> String {
    match &e.code {
        Some(code) => format!("error `{code}`: {}", e.message),
        None => format!("{} error: {}", e.kind.as_str(), e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ErrorKind;
    use crate::{FactorScore, MilestoneProgress};

    const ACCOUNT: &str =
        r#"{"id":"a","stage":"active","arr":1,"start_date":"2026-01-01","as_of":"2026-11-01"}"#;

    fn assessment(score: f64, band: &str) -> Assessment {
        Assessment {
            score,
            band: band.into(),
            factors: vec![FactorScore {
                name: "f".into(),
                value: 1.0,
                weight: 1.0,
                contribution: score,
                reason: String::new(),
            }],
            milestones: vec![MilestoneProgress {
                id: "m".into(),
                progress: 0.5,
                reached_on: None,
                predicted_on: None,
                likelihood: None,
            }],
            fit: Some(Fit::Ideal),
        }
    }

    #[test]
    fn parses_and_names_bad_lines() {
        let text = format!(
            "{{\"name\":\"ok\",\"account\":{ACCOUNT},\"expect\":{{\"score\":50,\"band\":\"red\"}}}}\n\
             {{\"name\":\"typo\",\"account\":{ACCOUNT},\"expect\":{{\"scor\":50}}}}\n\
             {{\"name\":\"bad account\",\"account\":{}}}\n",
            ACCOUNT.replace("\"arr\":1", "\"arr\":-1")
        );
        let (fixtures, errors) = parse_fixtures("f.jsonl", &text);
        assert_eq!(fixtures.len(), 1);
        assert_eq!(fixtures[0].expect.score, Some(50.0));
        let fields: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(fields, [(2, Some("expect.scor")), (3, Some("account.arr"))]);
    }

    #[test]
    fn differences_cover_every_expectation() {
        let expect = Expectation {
            score: Some(60.0),
            tolerance: Some(0.5),
            band: Some("green".into()),
            milestones: BTreeMap::from([("m".into(), 0.5), ("ghost".into(), 1.0)]),
            fit: Some(Fit::Stretch),
            error: None,
        };
        let diff = differences(&expect, &Ok(assessment(60.4, "yellow")));
        assert_eq!(
            diff,
            [
                "band: expected green, got yellow",
                "milestone `ghost`: not declared by the plugin",
                "fit: expected stretch, got ideal",
            ]
        );
        assert_eq!(
            differences(&expect, &Ok(assessment(61.0, "green")))[0],
            "score: expected 60 ± 0.5, got 61.0000"
        );
    }

    #[test]
    fn expected_errors_match_code_or_kind() {
        let rule = Err(AccountError {
            code: Some("missing-measure".into()),
            ..AccountError::new(ErrorKind::Rule, "no seats")
        });
        let trap = Err(AccountError::new(ErrorKind::Trap, "boom"));
        let want = |e: &str| Expectation {
            error: Some(e.into()),
            ..Expectation::default()
        };
        assert!(differences(&want("missing-measure"), &rule).is_empty());
        assert!(differences(&want("trap"), &trap).is_empty());
        assert_eq!(
            differences(&want("trap"), &rule),
            ["error: expected `trap`, got error `missing-measure`: no seats"]
        );
        assert_eq!(
            differences(&Expectation::default(), &trap),
            ["expected a score, got trap error: boom"]
        );
        assert_eq!(
            differences(&want("x"), &Ok(assessment(5.0, "red"))),
            ["expected error `x`, got score 5.00 (red)"]
        );
    }
}
