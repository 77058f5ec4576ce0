//! The signup-cohort matrix: of the accounts that first paid in a month, the
//! share (of logos and of ARR) still paying k months later.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ledger::*, metrics::*};
use crate::Date;

/// One signup cohort's retention, month by month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortRow {
    /// First day of the month the accounts first paid.
    pub cohort: Date,
    /// Accounts in the cohort.
    pub accounts: u64,
    /// Paid ARR of the cohort at the end of its first month.
    pub start_arr: f64,
    /// `logo[k]`: share of the cohort paying at the end of month k (0 = signup month).
    pub logo: Vec<Option<f64>>,
    /// `revenue[k]`: the cohort's paid ARR at the end of month k / `start_arr`.
    pub revenue: Vec<Option<f64>>,
}

/// [`cohorts`] of the months from `from` (default: all) up to `to` (default:
/// the ledger's last day): what `headway retention --cohorts` shows.
pub fn cohorts_between(ledger: &Ledger, from: Option<Date>, to: Option<Date>) -> Vec<CohortRow> {
    let last = to
        .or_else(|| ledger.last_date())
        .unwrap_or(Date::from_days(0));
    let mut rows = cohorts(ledger, last);
    if let Some(from) = from {
        rows.retain(|r| r.cohort >= PeriodKind::Month.start_of(from));
    }
    rows
}

/// The signup-cohort matrix: for each month in which accounts first paid, the share
/// of those accounts (and of their ARR) still paying k months later, up to `last`.
pub fn cohorts(ledger: &Ledger, last: Date) -> Vec<CohortRow> {
    let mut by_month: BTreeMap<Date, Vec<&[LedgerRow]>> = BTreeMap::new();
    for rows in ledger.accounts.values() {
        if let Some(first) = rows
            .iter()
            .find(|r| r.stage == RevenueStage::Paid && r.arr > 0.0)
        {
            by_month
                .entry(PeriodKind::Month.start_of(first.date))
                .or_default()
                .push(rows);
        }
    }
    by_month
        .into_iter()
        .map(|(cohort, members)| {
            let month_end = |k: i32| add_months(cohort, k + 1);
            let start_arr: f64 = members
                .iter()
                .map(|rows| paid_arr(rows, month_end(0)))
                .sum();
            let (mut logo, mut revenue) = (Vec::new(), Vec::new());
            let mut k = 0;
            while month_end(k).add_days(-1) <= last {
                let paying = members
                    .iter()
                    .filter(|rows| paid_arr(rows, month_end(k)) > 0.0)
                    .count();
                let arr: f64 = members
                    .iter()
                    .map(|rows| paid_arr(rows, month_end(k)))
                    .sum();
                logo.push(ratio(paying as f64, members.len() as f64));
                revenue.push(ratio(arr, start_arr));
                k += 1;
            }
            CohortRow {
                cohort,
                accounts: members.len() as u64,
                start_arr,
                logo,
                revenue,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Parsing
