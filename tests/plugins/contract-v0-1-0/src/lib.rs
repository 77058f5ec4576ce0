//! A plugin built against the frozen contract 0.1.0 (`wit/since_v0.1.0`), as a
//! tenant's plugin would be if it was never rebuilt. It touches every part of the
//! 0.1.0 shape (every input kind, every result column, logs, config, per-account
//! errors) so the test proves the host's adapter carries each of them.
//!
//! Rules: score = the `usage` measure clamped to 0-100 (an account without it
//! fails with `missing-measure`); green from 50; one milestone, `launch`, with
//! progress = score / 100, predicted 30 days after `as-of` unless reached, and a
//! likelihood of 0.25. Trials are a stretch fit, others ideal.

wit_bindgen::generate!({ path: "../../../wit/since_v0.1.0", world: "health-rules" });

use exports::headway::rules::rules::Guest;
use headway::rules::host::{LogLevel, config, log};
use headway::rules::types::{
    AccountBatch, AccountError, AssessmentBatch, BandInfo, FactorColumn, FactorInfo, Fit,
    LifecycleStage, MilestoneColumn, MilestoneInfo, PluginInfo, TextColumn, Upsell,
};

struct Legacy;

fn text(col: &TextColumn, row: usize) -> &str {
    let start = if row == 0 {
        0
    } else {
        col.ends[row - 1] as usize
    };
    &col.data[start..col.ends[row] as usize]
}

impl Guest for Legacy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "legacy-rules".into(),
            version: "1.4.2".into(),
            bands: vec![
                BandInfo {
                    name: "red".into(),
                    min_score: 0.0,
                },
                BandInfo {
                    name: "green".into(),
                    min_score: 50.0,
                },
            ],
            factors: vec![FactorInfo {
                id: "usage".into(),
                label: "Usage".into(),
                weight: 1.0,
            }],
            milestones: vec![MilestoneInfo {
                id: "launch".into(),
                name: "Launch".into(),
                description: "Usage reaches 100".into(),
                upsell: Some(Upsell {
                    offer: "Launch pack".into(),
                    arr: 2_000.0,
                    take_rate: 0.5,
                }),
            }],
        }
    }

    fn assess(batch: AccountBatch) -> AssessmentBatch {
        let rows = batch.ids.ends.len();
        let usage = batch.measures.iter().find(|m| m.name == "usage");
        let region = batch.attributes.iter().find(|a| a.key == "region");
        let launched = batch
            .milestones_reached
            .iter()
            .find(|r| r.milestone == "launch");
        let mut out = AssessmentBatch {
            scores: Vec::new(),
            bands: Vec::new(),
            factors: vec![FactorColumn {
                values: Vec::new(),
                weights: Vec::new(),
                contributions: Vec::new(),
                reasons: TextColumn {
                    data: String::new(),
                    ends: Vec::new(),
                },
            }],
            milestones: vec![MilestoneColumn {
                progress: Vec::new(),
                reached_on: Vec::new(),
                predicted_on: Vec::new(),
                likelihood: Vec::new(),
            }],
            fit: Vec::new(),
            errors: Vec::new(),
        };
        for row in 0..rows {
            let u = usage.map_or(f64::NAN, |c| c.values[row]);
            if u.is_nan() {
                out.errors.push(AccountError {
                    index: row as u32,
                    code: "missing-measure".into(),
                    message: format!("`{}` has no usage", text(&batch.ids, row)),
                });
            }
            let score = if u.is_nan() { 0.0 } else { u.clamp(0.0, 100.0) };
            out.scores.push(score);
            out.bands.push(u8::from(score >= 50.0));
            let f = &mut out.factors[0];
            f.values.push(u);
            f.weights.push(1.0);
            f.contributions.push(score);
            let place = region.map_or("", |c| text(&c.values, row));
            f.reasons
                .data
                .push_str(&format!("usage {score} in {place}"));
            f.reasons.ends.push(f.reasons.data.len() as u32);
            let reached = launched.and_then(|c| c.on[row]);
            let m = &mut out.milestones[0];
            m.progress.push(if reached.is_some() {
                1.0
            } else {
                score / 100.0
            });
            m.reached_on.push(reached);
            m.predicted_on
                .push(reached.is_none().then(|| batch.as_of[row] + 30));
            m.likelihood.push(Some(0.25));
            out.fit.push(Some(match batch.stages[row] {
                LifecycleStage::Trial => Fit::Stretch,
                _ => Fit::Ideal,
            }));
        }
        let greeting = config("greeting").unwrap_or_default();
        log(LogLevel::Warn, &format!("{greeting}: {rows} accounts"));
        out
    }
}

export!(Legacy);
