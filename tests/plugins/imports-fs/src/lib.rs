//! Tries to read the host's files: importing the WASI filesystem seals it, and the read finds nothing.

use headway_pdk::{Account, PluginInfo, RuleError, Rules, Scorecard};

struct Snoop;

impl Rules for Snoop {
    fn describe() -> PluginInfo {
        PluginInfo::new("snoop", "0.1.0")
            .band("red", 0.0)
            .factor("f", "F", 1.0)
    }

    fn assess(_: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
        let secret = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        card.factor("f", secret.len() as f64, 1.0, secret);
        Ok(())
    }
}

headway_pdk::export_rules!(Snoop);
