//! A simpler cut of the SaaS tenant's rules: seats in use and weekly engagement,
//! nothing else. Scored beside `saas-health` on the same history (shadow scoring),
//! `headway backtest` shows what the richer rules add.

use headway_pdk::num::{fixed, percent};
use headway_pdk::{Account, Milestone, PluginInfo, RuleError, Rules, Scorecard, ramp};

struct SaasSeats;

impl Rules for SaasSeats {
    fn describe() -> PluginInfo {
        PluginInfo::new("saas-seats", env!("CARGO_PKG_VERSION"))
            .band("red", 0.0)
            .band("yellow", 45.0)
            .band("green", 70.0)
            .reads(&["seats-purchased", "seats-active", "weekly-active-users"])
            .factor("seat-utilisation", "Seat utilisation", 0.6)
            .factor("engagement", "Active seats used weekly", 0.4)
            .milestone(
                Milestone::new("team-rollout", "Team rollout")
                    .description("80% of purchased seats in use")
                    .upsell("Seat pack (+25 seats)", 6_000.0, 0.35),
            )
    }

    fn assess(a: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
        let seats = a.require("seats-purchased")?;
        let active = a.measure("seats-active").unwrap_or(0.0);
        let wau = a.measure("weekly-active-users").unwrap_or(0.0);
        let utilisation = if seats > 0.0 { active / seats } else { 0.0 };
        card.factor(
            "seat-utilisation",
            utilisation,
            ramp(utilisation, 0.3, 0.9),
            (fixed(active, 0), " of ", fixed(seats, 0), " seats in use"),
        );
        let engagement = if active > 0.0 { wau / active } else { 0.0 };
        card.factor(
            "engagement",
            engagement,
            ramp(engagement, 0.2, 0.8),
            (percent(engagement, 0), " of active seats used weekly"),
        );
        card.milestone("team-rollout", (utilisation / 0.8).min(1.0));
        Ok(())
    }
}

headway_pdk::export_rules!(SaasSeats);
