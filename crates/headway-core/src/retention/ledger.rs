//! The revenue ledger: one row per change of an account's ARR, grouped by
//! account, and what an account paid on any day.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Date;

/// Whether a ledger row is a trial or paid revenue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RevenueStage {
    /// Free trial: never counted as revenue.
    Trial,
    /// Paid.
    #[default]
    Paid,
}

/// One change of an account's recurring revenue.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    /// The account.
    pub account_id: String,
    /// The day the change takes effect.
    pub date: Date,
    /// ARR from this day on; 0 = churned (or trial expired).
    pub arr: f64,
    /// Trial or paid.
    pub stage: RevenueStage,
    /// Segment, if given.
    pub segment: Option<String>,
    /// Contract end, for renewals.
    pub term_end: Option<Date>,
}

impl RevenueStage {
    /// `trial` or `paid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trial => "trial",
            Self::Paid => "paid",
        }
    }

    /// The stage named by [`RevenueStage::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Trial, Self::Paid]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// The ledger, grouped by account, each account's rows in date order (file order
/// within a day).
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub(super) accounts: BTreeMap<String, Vec<LedgerRow>>,
}

impl Ledger {
    /// Groups rows by account.
    pub fn new(rows: Vec<LedgerRow>) -> Self {
        let mut accounts: BTreeMap<String, Vec<LedgerRow>> = BTreeMap::new();
        for row in rows {
            accounts
                .entry(row.account_id.clone())
                .or_default()
                .push(row);
        }
        for rows in accounts.values_mut() {
            rows.sort_by_key(|r| r.date); // stable: same-day rows keep file order
        }
        Self { accounts }
    }

    /// The last row's date.
    pub fn last_date(&self) -> Option<Date> {
        self.accounts.values().flatten().map(|r| r.date).max()
    }

    /// The paid ARR of `account` on day `t`, changes dated `t` included.
    pub fn arr_on(&self, account: &str, t: Date) -> f64 {
        self.accounts
            .get(account)
            .map_or(0.0, |rows| paid_arr(rows, t.add_days(1)))
    }

    /// What became of a paying account's ARR after day `from`, up to `to` included:
    /// whether it dropped to 0 (churn) and whether it rose above its ARR on `from`
    /// (expansion). Both false for an account not paying on `from`.
    pub fn movement(&self, account: &str, from: Date, to: Date) -> Movement {
        let start = self.arr_on(account, from);
        let mut m = Movement::default();
        if start <= 0.0 {
            return m;
        }
        let rows = self.accounts.get(account).map_or(&[][..], Vec::as_slice);
        for r in rows.iter().filter(|r| r.date > from && r.date <= to) {
            let arr = if r.stage == RevenueStage::Paid {
                r.arr
            } else {
                0.0
            };
            m.churned |= arr <= 0.0;
            m.expanded |= arr > start;
        }
        m
    }
}

/// What happened to an account's ARR over a window (see [`Ledger::movement`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Movement {
    /// ARR dropped to 0.
    pub churned: bool,
    /// ARR rose above where it started.
    pub expanded: bool,
}

/// The row in effect just before `t` (every row dated before `t` applied).
pub(super) fn in_effect(rows: &[LedgerRow], t: Date) -> Option<&LedgerRow> {
    let i = rows.partition_point(|r| r.date < t);
    i.checked_sub(1).map(|i| &rows[i])
}

pub(super) fn paid_arr(rows: &[LedgerRow], t: Date) -> f64 {
    in_effect(rows, t)
        .filter(|r| r.stage == RevenueStage::Paid)
        .map_or(0.0, |r| r.arr)
}

pub(super) fn paid_before(rows: &[LedgerRow], t: Date) -> bool {
    rows.iter()
        .take_while(|r| r.date < t)
        .any(|r| r.stage == RevenueStage::Paid && r.arr > 0.0)
}

/// Whether the account paid at some time in `[start, end)`.
pub(super) fn paid_in(rows: &[LedgerRow], start: Date, end: Date) -> bool {
    paid_arr(rows, start) > 0.0
        || rows
            .iter()
            .any(|r| (start..end).contains(&r.date) && r.stage == RevenueStage::Paid && r.arr > 0.0)
}

/// The account's segment as of `t`: the latest row before `t` that names one, else
/// the first that does.
pub(super) fn segment_of(rows: &[LedgerRow], t: Date) -> Option<&str> {
    let known = rows
        .iter()
        .filter_map(|r| r.segment.as_deref().map(|s| (r.date, s)));
    known
        .clone()
        .rfind(|(d, _)| *d < t)
        .or_else(|| known.clone().next())
        .map(|(_, s)| s)
}

/// The largest ARR a ledger row may carry: a thousand trillion. Sums of ten
/// million such rows stay exact enough and never reach infinity (`1e308` in a
/// ledger used to print `inf` and `NaN%`).
pub const MAX_ARR: f64 = 1e15;
