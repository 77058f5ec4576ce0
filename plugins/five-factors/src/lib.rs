//! The benchmark rule: five weighted factors over six measures, a reason each,
//! written with the plugin kit as an analyst would. `tests/benches/pandas_score.py`
//! computes the same score with pandas, for the Headway-vs-pandas benchmark.

use headway_pdk::num::{fixed, percent};
use headway_pdk::{Account, PluginInfo, RuleError, Rules, Scorecard, ramp};

/// Seats, engagement, adoption, support load, NPS.
pub struct FiveFactors;

impl Rules for FiveFactors {
    fn describe() -> PluginInfo {
        PluginInfo::new("five-factors", env!("CARGO_PKG_VERSION"))
            .band("red", 0.0)
            .band("yellow", 45.0)
            .band("green", 70.0)
            .reads(&[
                "seats-purchased",
                "seats-active",
                "weekly-active-users",
                "feature-adoption",
                "open-tickets",
                "nps",
            ])
            .factor("seat-utilisation", "Seat utilisation", 0.30)
            .factor("engagement", "Active seats used weekly", 0.20)
            .factor("feature-adoption", "Key feature adoption", 0.20)
            .factor("support-load", "Open tickets per 10 seats", 0.15)
            .factor("nps", "Latest NPS answer", 0.15)
    }

    fn assess(a: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
        let seats = a.require("seats-purchased")?;
        if seats <= 0.0 {
            return Err(RuleError::new(
                "invalid-measure",
                "seats-purchased is not positive",
            ));
        }
        let active = a.measure("seats-active").unwrap_or(0.0);
        let wau = a.measure("weekly-active-users").unwrap_or(0.0);
        let utilisation = active / seats;
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
        let adoption = a.measure("feature-adoption").unwrap_or(0.0);
        card.factor(
            "feature-adoption",
            adoption,
            ramp(adoption, 0.1, 0.7),
            (percent(adoption, 0), " of key features adopted"),
        );
        let tickets = a.measure("open-tickets").unwrap_or(0.0);
        let per_ten = tickets / seats * 10.0;
        card.factor(
            "support-load",
            per_ten,
            ramp(per_ten, 3.0, 0.5),
            (fixed(tickets, 0), " open tickets"),
        );
        match a.measure("nps") {
            Some(nps) => card.factor("nps", nps, nps / 10.0, ("last NPS answer ", fixed(nps, 0))),
            None => card.skip("nps", "no NPS answer yet"),
        }
        Ok(())
    }
}

headway_pdk::export_rules!(FiveFactors);
