//! Built against a contract version the host does not know yet (0.9.0).

wit_bindgen::generate!({ path: "wit", world: "health-rules" });

use exports::headway::rules::rules::Guest;
use headway::rules::types::{AccountBatch, AssessmentBatch, PluginInfo};

struct Future;

impl Guest for Future {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "future".into(),
            version: "9.0.0".into(),
            bands: vec![],
            factors: vec![],
            milestones: vec![],
        }
    }

    fn assess(_: AccountBatch) -> AssessmentBatch {
        AssessmentBatch {
            scores: vec![],
            bands: vec![],
            factors: vec![],
            milestones: vec![],
            fit: vec![],
            errors: vec![],
        }
    }
}

export!(Future);
