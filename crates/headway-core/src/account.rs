//! A tenant's customer account: the input of every rule.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Date;

/// Where an account is in its relationship with the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LifecycleStage {
    /// On a free trial; not paying yet. Trials never count in churn or retention.
    Trial,
    /// Paying, being onboarded.
    Onboarding,
    /// Paying and live.
    Active,
    /// Up for renewal or in negotiation.
    Renewing,
    /// No longer a customer.
    Churned,
}

impl LifecycleStage {
    /// Every stage, in lifecycle order.
    pub const ALL: [LifecycleStage; 5] = [
        Self::Trial,
        Self::Onboarding,
        Self::Active,
        Self::Renewing,
        Self::Churned,
    ];

    /// The stage's name as written in input files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trial => "trial",
            Self::Onboarding => "onboarding",
            Self::Active => "active",
            Self::Renewing => "renewing",
            Self::Churned => "churned",
        }
    }
}

/// One point of a measure's history; written `["YYYY-MM-DD", value]` in files.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(Date, f64)", into = "(Date, f64)")]
pub struct Point {
    /// The day the value was observed.
    pub date: Date,
    /// The value.
    pub value: f64,
}

/// A customer-defined outcome KPI: how the customer itself measures success
/// (OTIF, DIFOT, cost per click, time to market ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeKpi {
    /// The KPI's name, e.g. `otif`.
    pub name: String,
    /// The latest value.
    pub value: f64,
    /// The customer's target, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// True when higher is better (OTIF); false when lower is (cost per click).
    #[serde(default = "yes")]
    pub higher_is_better: bool,
}

impl From<(Date, f64)> for Point {
    fn from((date, value): (Date, f64)) -> Self {
        Self { date, value }
    }
}

impl From<Point> for (Date, f64) {
    fn from(p: Point) -> Self {
        (p.date, p.value)
    }
}

fn yes() -> bool {
    true
}

/// One customer account of a tenant, as of one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    /// Stable id, unique within a tenant.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Segment (smb, mid-market, enterprise ...); empty when unknown.
    pub segment: String,
    /// Plan or tier; empty when unknown.
    pub plan: String,
    /// Lifecycle stage.
    pub stage: LifecycleStage,
    /// Annual recurring revenue in the tenant's currency.
    pub arr: f64,
    /// When the account started (trial or contract).
    pub start_date: Date,
    /// Next renewal, if the account has a contract end.
    pub renewal_date: Option<Date>,
    /// The day this data describes: the rule's "today".
    pub as_of: Date,
    /// Current measures by name.
    pub measures: BTreeMap<String, f64>,
    /// Measure histories by name, each sorted by date.
    pub history: BTreeMap<String, Vec<Point>>,
    /// Customer-defined outcome KPIs.
    pub outcomes: Vec<OutcomeKpi>,
    /// Free-form attributes.
    pub attributes: BTreeMap<String, String>,
    /// Milestones already reached, by milestone id.
    pub milestones_reached: BTreeMap<String, Date>,
}
