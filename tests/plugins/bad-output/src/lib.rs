//! Implements the real contract but answers badly: a batch containing account
//! `short` gets columns of the wrong length; account `over` gets a score of 150;
//! `far-day` a milestone reached on day i32::MAX, `far-prediction` one predicted
//! for day i32::MIN; `weights` an applied weight of 0.5 for its only factor;
//! `sum` contributions that do not add up to its score; `negative-zero` -0.0.

wit_bindgen::generate!({ path: "../../../wit/since_v0.1.0", world: "health-rules" });

use exports::headway::rules::rules::Guest;
use headway::rules::types::{
    AccountBatch, AssessmentBatch, BandInfo, FactorColumn, FactorInfo, MilestoneColumn,
    MilestoneInfo, PluginInfo, TextColumn,
};

struct Sloppy;

fn ids(batch: &AccountBatch) -> Vec<&str> {
    let mut start = 0;
    batch
        .ids
        .ends
        .iter()
        .map(|&end| {
            let id = &batch.ids.data[start..end as usize];
            start = end as usize;
            id
        })
        .collect()
}

impl Guest for Sloppy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "sloppy".into(),
            version: "0.1.0".into(),
            bands: vec![BandInfo {
                name: "all".into(),
                min_score: 0.0,
            }],
            factors: vec![FactorInfo {
                id: "f".into(),
                label: "F".into(),
                weight: 1.0,
            }],
            milestones: vec![MilestoneInfo {
                id: "m".into(),
                name: "M".into(),
                description: String::new(),
                upsell: None,
            }],
        }
    }

    fn assess(batch: AccountBatch) -> AssessmentBatch {
        let ids = ids(&batch);
        let rows = if ids.contains(&"short") {
            ids.len() - 1
        } else {
            ids.len()
        };
        let ids = &ids[..rows];
        let score = |id: &str| match id {
            "over" => 150.0,
            "negative-zero" => -0.0,
            _ => 50.0,
        };
        let factor = FactorColumn {
            values: vec![1.0; rows],
            weights: ids
                .iter()
                .map(|id| if *id == "weights" { 0.5 } else { 1.0 })
                .collect(),
            contributions: ids
                .iter()
                .map(|id| match *id {
                    "sum" => 10.0,
                    "weights" => 25.0,
                    other => score(other),
                })
                .collect(),
            reasons: TextColumn {
                data: String::new(),
                ends: vec![0; rows],
            },
        };
        let milestone = MilestoneColumn {
            progress: vec![0.5; rows],
            reached_on: ids
                .iter()
                .map(|id| (*id == "far-day").then_some(i32::MAX))
                .collect(),
            predicted_on: ids
                .iter()
                .map(|id| (*id == "far-prediction").then_some(i32::MIN))
                .collect(),
            likelihood: vec![None; rows],
        };
        AssessmentBatch {
            scores: ids.iter().map(|id| score(id)).collect(),
            bands: vec![0; rows],
            factors: vec![factor],
            milestones: vec![milestone],
            fit: vec![None; rows],
            errors: vec![],
        }
    }
}

export!(Sloppy);
