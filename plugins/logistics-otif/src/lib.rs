//! Health of a logistics customer, judged the way the customer judges itself: on
//! time in full (OTIF), delivered in full on time (DIFOT) and claims, each against
//! the customer's own target. Milestones follow the path from connected to a
//! multi-site network.

use std::sync::OnceLock;

use headway_pdk::num::{fixed, percent};
use headway_pdk::{
    Account, Fit, Milestone, Outcome, PluginInfo, RuleError, Rules, Scorecard, ramp,
};

/// The logistics tenant's rules.
pub struct LogisticsOtif;

/// Months of OTIF on target that make the "reliable" milestone.
const RELIABLE_MONTHS: usize = 3;

/// Targets for customers that have not set their own, from the tenant's config
/// (`default-otif-target` ...). Read once per instance: host calls are not free.
fn default_target(kpi: &str) -> Option<f64> {
    static DEFAULTS: OnceLock<[(&str, Option<f64>); 3]> = OnceLock::new();
    let read = |key: &str| headway_pdk::config(key).and_then(|v| v.parse().ok());
    DEFAULTS
        .get_or_init(|| {
            [
                ("otif", read("default-otif-target")),
                ("difot", read("default-difot-target")),
                ("claims-rate", read("default-claims-target")),
            ]
        })
        .iter()
        .find(|(k, _)| *k == kpi)
        .and_then(|(_, v)| *v)
}

fn with_target<'a>(o: Outcome<'a>) -> Outcome<'a> {
    Outcome {
        target: o.target.or_else(|| default_target(o.name)),
        ..o
    }
}

impl Rules for LogisticsOtif {
    fn describe() -> PluginInfo {
        PluginInfo::new("logistics-otif", env!("CARGO_PKG_VERSION"))
            .band("at-risk", 0.0)
            .band("watch", 55.0)
            .band("healthy", 80.0)
            .reads(&[
                "otif",
                "difot",
                "claims-rate",
                "shipments-30d",
                "committed-shipments-30d",
                "shipments-total",
                "sites-live",
            ])
            .factor("otif", "OTIF vs target", 0.35)
            .factor("difot", "DIFOT vs target", 0.25)
            .factor("claims", "Claims rate vs target", 0.15)
            .factor("otif-trend", "OTIF, 90-day trend", 0.15)
            .factor("volume", "Shipments vs commitment", 0.10)
            .milestone(
                Milestone::new("connected", "Connected")
                    .description("First 500 shipments through the platform"),
            )
            .milestone(
                Milestone::new("otif-on-target-3m", "Reliable")
                    .description("OTIF on target three months running")
                    .upsell("Control tower module", 12_000.0, 0.40),
            )
            .milestone(
                Milestone::new("network-expansion", "Network")
                    .description("Five sites live on the platform")
                    .upsell("Multi-site bundle", 20_000.0, 0.30),
            )
    }

    fn assess(a: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
        let otif = a
            .outcome("otif")
            .map(with_target)
            .ok_or_else(|| RuleError::new("missing-outcome", "account does not report `otif`"))?;
        let otif_target = otif.target.ok_or_else(|| {
            RuleError::new(
                "missing-target",
                "no OTIF target, and no default-otif-target configured",
            )
        })?;
        kpi_factor(card, "otif", "OTIF", otif, 0.85);
        match a.outcome("difot").map(with_target) {
            Some(difot) if difot.target.is_some() => {
                kpi_factor(card, "difot", "DIFOT", difot, 0.85)
            }
            _ => card.skip("difot", "DIFOT not reported"),
        }
        match a.outcome("claims-rate").map(with_target) {
            Some(
                c @ Outcome {
                    target: Some(t), ..
                },
            ) => card.factor(
                "claims",
                c.value,
                ramp(c.value / t, 3.0, 1.0),
                (
                    "claims ",
                    percent(c.value, 1),
                    " of shipments (target ",
                    percent(t, 1),
                    ")",
                ),
            ),
            _ => card.skip("claims", "claims not reported"),
        }

        let history: Vec<f64> = a.history("otif").map(|(_, v)| v).collect();
        let cutoff = a.as_of().add_days(-90);
        match a.history("otif").filter(|(d, _)| *d <= cutoff).last() {
            Some((_, past)) => {
                let delta = otif.value - past;
                card.factor(
                    "otif-trend",
                    delta,
                    ramp(delta, -0.05, 0.05),
                    (
                        "OTIF ",
                        fixed(delta * 100.0, 1).signed(),
                        " points over 90 days",
                    ),
                );
            }
            None => card.skip("otif-trend", "under 90 days of OTIF history"),
        }

        let shipped = a.measure("shipments-30d").unwrap_or(0.0);
        let committed = a.require("committed-shipments-30d")?;
        let volume = if committed > 0.0 {
            shipped / committed
        } else {
            1.0
        };
        card.factor(
            "volume",
            volume,
            ramp(volume, 0.5, 1.0),
            (
                fixed(shipped, 0),
                " shipments in 30 days of ",
                fixed(committed, 0),
                " committed",
            ),
        );

        card.milestone(
            "connected",
            a.measure("shipments-total").unwrap_or(0.0) / 500.0,
        );
        // Consecutive months on target, this month included, counting back.
        let months = std::iter::once(otif.value)
            .chain(history.iter().rev().copied())
            .take_while(|v| *v >= otif_target)
            .count()
            .min(RELIABLE_MONTHS);
        let mark = card.milestone("otif-on-target-3m", months as f64 / RELIABLE_MONTHS as f64);
        if (1..RELIABLE_MONTHS).contains(&months) {
            // Still on target: the run completes after the missing months.
            mark.predicted(a.as_of().add_days(30 * (RELIABLE_MONTHS - months) as i32));
        }
        card.milestone(
            "network-expansion",
            a.measure("sites-live").unwrap_or(0.0) / 5.0,
        );
        card.fit(if committed < 50.0 {
            Fit::BadFit
        } else if a.segment() == "enterprise" {
            Fit::Ideal
        } else {
            Fit::Stretch
        });
        Ok(())
    }
}

/// A higher-is-better KPI against its target: full marks on target, none at
/// `floor` of target.
fn kpi_factor(card: &mut Scorecard, id: &str, label: &str, kpi: Outcome, floor: f64) {
    let target = kpi.target.unwrap_or(f64::NAN);
    let attainment = kpi.attainment().unwrap_or(0.0);
    card.factor(
        id,
        kpi.value,
        ramp(attainment, floor, 1.0),
        (
            label,
            " ",
            percent(kpi.value, 1),
            " vs target ",
            percent(target, 1),
        ),
    );
}

headway_pdk::export_rules!(LogisticsOtif);
