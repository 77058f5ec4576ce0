//! Retention metrics per period (and segment): movements, NRR, GRR, churn,
//! renewals, trials, surveys.

use serde::Serialize;

use super::{ledger::*, surveys::*};
use crate::Date;

/// Period length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
    /// Calendar years.
    Year,
}

impl PeriodKind {
    fn months(self) -> i32 {
        match self {
            Self::Month => 1,
            Self::Quarter => 3,
            Self::Year => 12,
        }
    }

    /// The first day of the period containing `d`.
    pub fn start_of(self, d: Date) -> Date {
        let (y, m, _) = d.ymd();
        let m0 = (m as i32 - 1) / self.months() * self.months();
        Date::from_ymd(y, m0 as u32 + 1, 1).expect("first of a month exists")
    }

    /// The first day of the next period after the one starting at `start`.
    pub fn next(self, start: Date) -> Date {
        add_months(start, self.months())
    }
}

/// The first day of the month `months` after `d`'s month.
pub(super) fn add_months(d: Date, months: i32) -> Date {
    let (y, m, _) = d.ymd();
    let index = y * 12 + (m as i32 - 1) + months;
    Date::from_ymd(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1)
        .expect("first of a month exists")
}

/// One period's figures. Field names are the JSON keys (documented in the README).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PeriodMetrics {
    /// First day of the period.
    pub period_start: Option<Date>,
    /// Last day of the period (inclusive).
    pub period_end: Option<Date>,
    /// Segment, or null for all accounts.
    pub segment: Option<String>,
    /// Paid ARR at the start.
    pub start_arr: f64,
    /// ARR of first-time paying accounts (trial conversions included).
    pub new_arr: f64,
    /// Increases of accounts paying at the start.
    pub expansion_arr: f64,
    /// Decreases (still paying) of accounts paying at the start.
    pub contraction_arr: f64,
    /// Start ARR of accounts paying nothing at the end.
    pub churned_arr: f64,
    /// ARR of accounts that paid before, stopped, and pay again.
    pub reactivation_arr: f64,
    /// Paid ARR at the end.
    pub end_arr: f64,
    /// Accounts paying at the start.
    pub start_logos: u64,
    /// New paying accounts.
    pub new_logos: u64,
    /// Accounts paying at the start and not at the end.
    pub churned_logos: u64,
    /// Accounts paying again after a churn.
    pub reactivated_logos: u64,
    /// Net revenue retention.
    pub nrr: Option<f64>,
    /// Gross revenue retention.
    pub grr: Option<f64>,
    /// Churned logos / start logos.
    pub logo_churn: Option<f64>,
    /// 1 - logo churn.
    pub logo_retention: Option<f64>,
    /// (contraction + churn) / start ARR.
    pub gross_revenue_churn: Option<f64>,
    /// (contraction + churn - expansion) / start ARR; negative when expansion wins.
    pub net_revenue_churn: Option<f64>,
    /// Expansion / start ARR.
    pub expansion_rate: Option<f64>,
    /// (new + reactivation + expansion) / (churn + contraction).
    pub quick_ratio: Option<f64>,
    /// Accounts up for renewal in the period.
    pub renewals_due: u64,
    /// Renewed / up for renewal, by logo.
    pub renewal_rate_logo: Option<f64>,
    /// Renewed ARR (capped at the ARR due) / ARR due.
    pub renewal_rate_revenue: Option<f64>,
    /// (renewals + upgrades) / ARR due: "net churn" on the renewal base.
    pub net_renewal_rate: Option<f64>,
    /// Trials that ended in the period.
    pub trials_ended: u64,
    /// Converted / ended trials.
    pub trial_conversion: Option<f64>,
    /// NPS in points, -100..100.
    pub nps: Option<f64>,
    /// Share of 4-5 CSAT answers.
    pub csat: Option<f64>,
    /// Mean CES answer.
    pub ces: Option<f64>,
}

/// `num / den`, or `None` when the denominator is empty.
pub(crate) fn ratio(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den)
}

/// What to compute.
#[derive(Debug, Clone)]
pub struct RetentionQuery {
    /// Period length.
    pub period: PeriodKind,
    /// First day to cover (default: the ledger's first row).
    pub from: Option<Date>,
    /// Last day to cover (default: the ledger's last row).
    pub to: Option<Date>,
    /// One row per segment and period, instead of one per period.
    pub by_segment: bool,
}

/// Metrics per period (and per segment when asked), in time order.
pub fn retention(
    ledger: &Ledger,
    surveys: &[SurveyResponse],
    q: &RetentionQuery,
) -> Vec<PeriodMetrics> {
    let dates = || {
        ledger
            .accounts
            .values()
            .flatten()
            .map(|r| r.date)
            .chain(surveys.iter().map(|s| s.date))
    };
    let (Some(first), Some(last)) = (
        q.from.or_else(|| dates().min()),
        q.to.or_else(|| dates().max()),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut start = q.period.start_of(first);
    while start <= last {
        let end = q.period.next(start);
        if q.by_segment {
            let mut segments: Vec<Option<&str>> = ledger
                .accounts
                .values()
                .map(|rows| segment_of(rows, end))
                .collect();
            segments.sort();
            segments.dedup();
            for segment in segments {
                let mut m = period_metrics(ledger, surveys, start, end, Some(segment));
                m.segment = Some(segment.unwrap_or("unknown").to_owned());
                out.push(m);
            }
        } else {
            out.push(period_metrics(ledger, surveys, start, end, None));
        }
        start = end;
    }
    out
}

/// One period, for all accounts (`segment` None) or those of one segment
/// (`Some(None)` = accounts without a segment).
pub(super) fn period_metrics(
    ledger: &Ledger,
    surveys: &[SurveyResponse],
    start: Date,
    end: Date,
    segment: Option<Option<&str>>,
) -> PeriodMetrics {
    let mut m = PeriodMetrics {
        period_start: Some(start),
        period_end: Some(end.add_days(-1)),
        ..PeriodMetrics::default()
    };
    let (mut renewed, mut due_arr, mut renewed_arr, mut net_renewed_arr) = (0u64, 0.0, 0.0, 0.0);
    let (mut converted, mut in_segment) = (0u64, Vec::new());
    for (id, rows) in &ledger.accounts {
        if segment.is_some_and(|s| segment_of(rows, end) != s) {
            continue;
        }
        in_segment.push(id.as_str());
        let (s, e) = (paid_arr(rows, start), paid_arr(rows, end));
        m.start_arr += s;
        m.end_arr += e;
        if s > 0.0 {
            m.start_logos += 1;
            if e == 0.0 {
                m.churned_logos += 1;
                m.churned_arr += s;
            } else if e > s {
                m.expansion_arr += e - s;
            } else {
                m.contraction_arr += s - e;
            }
        } else if e > 0.0 {
            if paid_before(rows, start) {
                m.reactivated_logos += 1;
                m.reactivation_arr += e;
            } else {
                m.new_logos += 1;
                m.new_arr += e;
            }
        }

        // Renewals: each distinct contract end in the period the account paid under.
        let mut ends: Vec<Date> = rows
            .iter()
            .filter_map(|r| r.term_end)
            .filter(|t| (start..end).contains(t))
            .collect();
        ends.dedup();
        for t in ends {
            let due = paid_arr(rows, t);
            if due > 0.0 && in_effect(rows, t).and_then(|r| r.term_end) == Some(t) {
                m.renewals_due += 1;
                due_arr += due;
                if e > 0.0 {
                    renewed += 1;
                    renewed_arr += e.min(due);
                }
                net_renewed_arr += e;
            }
        }

        // Trials ending in the period.
        for pair in rows.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            if before.stage != RevenueStage::Trial || !(start..end).contains(&after.date) {
                continue;
            }
            if after.stage == RevenueStage::Paid && after.arr > 0.0 {
                m.trials_ended += 1;
                converted += 1;
            } else if after.arr == 0.0 {
                m.trials_ended += 1;
            }
        }
    }

    m.nrr = ratio(
        m.start_arr + m.expansion_arr - m.contraction_arr - m.churned_arr,
        m.start_arr,
    );
    m.grr = ratio(m.start_arr - m.contraction_arr - m.churned_arr, m.start_arr);
    m.logo_churn = ratio(m.churned_logos as f64, m.start_logos as f64);
    m.logo_retention = m.logo_churn.map(|c| 1.0 - c);
    m.gross_revenue_churn = ratio(m.contraction_arr + m.churned_arr, m.start_arr);
    m.net_revenue_churn = ratio(
        m.contraction_arr + m.churned_arr - m.expansion_arr,
        m.start_arr,
    );
    m.expansion_rate = ratio(m.expansion_arr, m.start_arr);
    m.quick_ratio = ratio(
        m.new_arr + m.reactivation_arr + m.expansion_arr,
        m.churned_arr + m.contraction_arr,
    );
    m.renewal_rate_logo = ratio(renewed as f64, m.renewals_due as f64);
    m.renewal_rate_revenue = ratio(renewed_arr, due_arr);
    m.net_renewal_rate = ratio(net_renewed_arr, due_arr);
    m.trial_conversion = ratio(converted as f64, m.trials_ended as f64);

    let answers = |kind: SurveyKind| -> Vec<f64> {
        surveys
            .iter()
            .filter(|r| r.kind == kind && (start..end).contains(&r.date))
            .filter(|r| segment.is_none() || in_segment.contains(&r.account_id.as_str()))
            .map(|r| r.score)
            .collect()
    };
    let share = |xs: &[f64], keep: fn(f64) -> bool| {
        ratio(
            xs.iter().filter(|x| keep(**x)).count() as f64,
            xs.len() as f64,
        )
    };
    let nps = answers(SurveyKind::Nps);
    m.nps = share(&nps, |x| x >= 9.0)
        .zip(share(&nps, |x| x <= 6.0))
        .map(|(p, d)| (p - d) * 100.0);
    m.csat = share(&answers(SurveyKind::Csat), |x| x >= 4.0);
    let ces = answers(SurveyKind::Ces);
    m.ces = ratio(ces.iter().sum(), ces.len() as f64);
    m
}
