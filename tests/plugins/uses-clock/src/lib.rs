//! Reads the wall clock and a random seed (through std's `HashMap`): loads only
//! for a tenant granted the `clock` and `random` capabilities.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use headway_pdk::{Account, PluginInfo, RuleError, Rules, Scorecard};

struct Clocked;

impl Rules for Clocked {
    fn describe() -> PluginInfo {
        PluginInfo::new("clocked", "0.1.0").band("red", 0.0).factor(
            "now",
            "Seconds since 1970",
            1.0,
        )
    }

    fn assess(_: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // A std HashMap seeds its hasher from the host's randomness.
        let mut seen = HashMap::new();
        seen.insert(now, ());
        card.factor("now", now as f64, 1.0, format_args!("{} keys", seen.len()));
        Ok(())
    }
}

headway_pdk::export_rules!(Clocked);
