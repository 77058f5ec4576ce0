//! Implements the real contract but answers badly: a batch containing account
//! `short` gets columns of the wrong length; account `over` gets a score of 150.

wit_bindgen::generate!({ path: "../../../wit/since_v0.1.0", world: "health-rules" });

use exports::headway::rules::rules::Guest;
use headway::rules::types::{AccountBatch, AssessmentBatch, BandInfo, PluginInfo};

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
            factors: vec![],
            milestones: vec![],
        }
    }

    fn assess(batch: AccountBatch) -> AssessmentBatch {
        let ids = ids(&batch);
        let rows = if ids.contains(&"short") {
            ids.len() - 1
        } else {
            ids.len()
        };
        AssessmentBatch {
            scores: ids
                .iter()
                .take(rows)
                .map(|id| if *id == "over" { 150.0 } else { 50.0 })
                .collect(),
            bands: vec![0; rows],
            factors: vec![],
            milestones: vec![],
            fit: vec![None; rows],
            errors: vec![],
        }
    }
}

export!(Sloppy);
