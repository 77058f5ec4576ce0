//! Retention metrics per period (and segment): movements, NRR, GRR, churn,
//! renewals, trials, surveys.

use serde::Serialize;

use std::collections::BTreeSet;

use super::{advocacy::*, ledger::*, surveys::*};
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
    /// Paying accounts (at the start, or starting to pay in the period) that
    /// advocated in it.
    pub advocating_accounts: u64,
    /// Advocating / paying accounts.
    pub advocacy_rate: Option<f64>,
    /// Referrals made in the period.
    pub referrals: u64,
    /// Referrals per 100 paying accounts.
    pub referrals_per_100: Option<f64>,
    /// Reference calls taken in the period.
    pub reference_calls: u64,
    /// Case studies in the period.
    pub case_studies: u64,
    /// Reviews written in the period.
    pub reviews: u64,
    /// New logos a referral named.
    pub referred_new_logos: u64,
    /// Their new ARR.
    pub referred_new_arr: f64,
    /// NRR of the accounts paying at the start that came by referral.
    pub referred_nrr: Option<f64>,
    /// NRR of the other accounts paying at the start.
    pub other_nrr: Option<f64>,
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
    advocacy: &[AdvocacyEvent],
    q: &RetentionQuery,
) -> Vec<PeriodMetrics> {
    let dates = || {
        ledger
            .accounts
            .values()
            .flatten()
            .map(|r| r.date)
            .chain(surveys.iter().map(|s| s.date))
            .chain(advocacy.iter().map(|a| a.date))
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
                let mut m = period_metrics(ledger, surveys, advocacy, start, end, Some(segment));
                m.segment = Some(segment.unwrap_or("unknown").to_owned());
                out.push(m);
            }
        } else {
            out.push(period_metrics(ledger, surveys, advocacy, start, end, None));
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
    advocacy: &[AdvocacyEvent],
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
    let in_period = |a: &&AdvocacyEvent| (start..end).contains(&a.date);
    let advocates: BTreeSet<&str> = advocacy
        .iter()
        .filter(in_period)
        .map(|a| a.account_id.as_str())
        .collect();
    let referred: BTreeSet<&str> = advocacy
        .iter()
        .filter(|a| a.kind == AdvocacyKind::Referral && a.date < end)
        .filter_map(|a| a.referred.as_deref())
        .collect();
    // The NRR parts of accounts that came by referral and of the others.
    let (mut by_referral, mut other) = ([0.0; 4], [0.0; 4]);
    let mut paying = BTreeSet::new();
    for (id, rows) in &ledger.accounts {
        if segment.is_some_and(|s| segment_of(rows, end) != s) {
            continue;
        }
        in_segment.push(id.as_str());
        let (s, e) = (paid_arr(rows, start), paid_arr(rows, end));
        m.start_arr += s;
        m.end_arr += e;
        if paid_in(rows, start, end) {
            paying.insert(id.as_str());
        }
        let came_by_referral = referred.contains(id.as_str());
        if s > 0.0 {
            m.start_logos += 1;
            // [start, expansion, contraction, churn] of its side of the split.
            let split = if came_by_referral {
                &mut by_referral
            } else {
                &mut other
            };
            split[0] += s;
            if e == 0.0 {
                m.churned_logos += 1;
                m.churned_arr += s;
                split[3] += s;
            } else if e > s {
                m.expansion_arr += e - s;
                split[1] += e - s;
            } else {
                m.contraction_arr += s - e;
                split[2] += s - e;
            }
        } else if e > 0.0 {
            if paid_before(rows, start) {
                m.reactivated_logos += 1;
                m.reactivation_arr += e;
            } else {
                m.new_logos += 1;
                m.new_arr += e;
                if came_by_referral {
                    m.referred_new_logos += 1;
                    m.referred_new_arr += e;
                }
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

    let nrr = |[s, exp, contr, churn]: [f64; 4]| ratio(s + exp - contr - churn, s);
    m.referred_nrr = nrr(by_referral);
    m.other_nrr = nrr(other);
    m.advocating_accounts = paying.iter().filter(|id| advocates.contains(*id)).count() as u64;
    m.advocacy_rate = ratio(m.advocating_accounts as f64, paying.len() as f64);
    let events = |kind: AdvocacyKind| {
        advocacy
            .iter()
            .filter(in_period)
            .filter(|a| a.kind == kind && paying.contains(&a.account_id.as_str()))
            .count() as u64
    };
    m.referrals = events(AdvocacyKind::Referral);
    m.referrals_per_100 = ratio(m.referrals as f64 * 100.0, paying.len() as f64);
    m.reference_calls = events(AdvocacyKind::ReferenceCall);
    m.case_studies = events(AdvocacyKind::CaseStudy);
    m.reviews = events(AdvocacyKind::Review);

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
