//! Health of a B2B SaaS account: are the seats it bought in use, do people come
//! back every week, is usage growing, are the key features adopted, is support
//! quiet, would they recommend us? Milestones follow the path from first value to
//! power usage, each with the expansion it makes natural.

use headway_pdk::num::{change, fixed, percent};
use headway_pdk::{Account, Fit, Milestone, PluginInfo, RuleError, Rules, Scorecard, ramp};

/// The SaaS tenant's rules.
pub struct SaasHealth;

impl Rules for SaasHealth {
    fn describe() -> PluginInfo {
        PluginInfo::new("saas-health", env!("CARGO_PKG_VERSION"))
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
            .factor("seat-utilisation", "Seat utilisation", 0.25)
            .factor("engagement", "Active seats used weekly", 0.20)
            .factor("usage-trend", "Weekly users, 90-day trend", 0.15)
            .factor("feature-adoption", "Key feature adoption", 0.20)
            .factor("support-load", "Open support tickets", 0.10)
            .factor("nps", "Latest NPS answer", 0.10)
            .milestone(
                Milestone::new("first-value", "First value")
                    .description("Five people use the product every week"),
            )
            .milestone(
                Milestone::new("team-rollout", "Team rollout")
                    .description("80% of purchased seats in use")
                    .upsell("Seat pack (+25 seats)", 6_000.0, 0.35),
            )
            .milestone(
                Milestone::new("power-usage", "Power usage")
                    .description("70% of key features adopted, 60% of active seats used weekly")
                    .upsell("Enterprise tier", 18_000.0, 0.25),
            )
    }

    fn assess(a: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
        let seats = a.require("seats-purchased")?;
        if seats <= 0.0 {
            return Err(RuleError::new(
                "invalid-measure",
                format!("seats-purchased is {seats}"),
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
        match usage_trend(a, wau) {
            Some(ratio) => card.factor(
                "usage-trend",
                ratio,
                ramp(ratio, 0.7, 1.2),
                ("weekly users ", change(ratio - 1.0, 0), " over 90 days"),
            ),
            None => card.skip("usage-trend", "under 90 days of usage history"),
        }
        let adoption = a.measure("feature-adoption").unwrap_or(0.0);
        card.factor(
            "feature-adoption",
            adoption,
            ramp(adoption, 0.1, 0.7),
            (percent(adoption, 0), " of key features adopted"),
        );
        let tickets = a.measure("open-tickets").unwrap_or(0.0);
        let per_ten_seats = tickets / seats * 10.0;
        card.factor(
            "support-load",
            tickets,
            ramp(per_ten_seats, 3.0, 0.5),
            (
                fixed(tickets, 0),
                " open tickets (",
                fixed(per_ten_seats, 1),
                " per 10 seats)",
            ),
        );
        match a.measure("nps") {
            Some(nps) => {
                card.factor("nps", nps, nps / 10.0, ("last NPS answer ", fixed(nps, 0)));
                // A strong detractor is a risk whatever the usage says.
                if nps <= 3.0 {
                    card.band("red");
                }
            }
            None => card.skip("nps", "no NPS answer yet"),
        }

        card.milestone("first-value", wau / 5.0);
        card.milestone("team-rollout", utilisation / 0.8);
        card.milestone("power-usage", (adoption / 0.7).min(engagement / 0.6));
        card.fit(if seats < 3.0 {
            Fit::BadFit
        } else if seats >= 20.0 && matches!(a.segment(), "mid-market" | "enterprise") {
            Fit::Ideal
        } else {
            Fit::Stretch
        });
        Ok(())
    }
}

/// Weekly users now against the last reading at least 90 days old.
fn usage_trend(a: &Account, wau_now: f64) -> Option<f64> {
    let cutoff = a.as_of().add_days(-90);
    let (_, past) = a
        .history("weekly-active-users")
        .filter(|(day, _)| *day <= cutoff)
        .last()?;
    (past > 0.0).then(|| wau_now / past)
}

headway_pdk::export_rules!(SaasHealth);
