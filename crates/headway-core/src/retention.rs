//! Revenue and retention metrics from a revenue ledger: NRR, GRR, churn, expansion,
//! renewals, trial conversion, surveys, and the signup-cohort retention matrix.
//!
//! # Definitions and policies
//!
//! - The ledger has one row per change of an account's recurring revenue: `arr` is
//!   the annual recurring revenue *from that date on*; 0 means churned. Rows on the
//!   same day apply in file order (the last one wins).
//! - A period is `[start, end)`. The state "at the start" applies every row dated
//!   before `start`; a row dated on the first day belongs to the period.
//! - Only `paid` revenue counts. Trials are never in churn, NRR or GRR; a trial that
//!   converts is a new logo (not a reactivation).
//! - Movements compare each account's paid ARR at the start and at the end of the
//!   period (changes within a period are netted): start 0 -> end > 0 is **new**
//!   (first time paying) or **reactivation** (paid at some time before); start > 0
//!   -> end 0 is **churn** (a drop to 0 is churn, whatever it is called); otherwise
//!   the difference is **expansion** or **contraction** (discounts and down-sells
//!   included). An account that churns and comes back within one period is netted:
//!   retained, with its expansion or contraction.
//! - NRR = (start ARR + expansion - contraction - churn) / start ARR, over accounts
//!   paying at the start (new logos excluded); GRR = the same without expansion, so
//!   never above 1; NRR = GRR + expansion rate.
//! - Quick ratio = (new + reactivation + expansion) / (churn + contraction).
//! - Renewals: an account is up for renewal in a period when a `term_end` it was
//!   paying under falls in the period; it renewed when it still pays at the end of
//!   the period. Revenue renewal rate caps each account at the ARR up for renewal;
//!   net renewal rate ("net churn" on the renewal base) does not cap, so upgrades
//!   count: (renewals + upgrades) / ARR up for renewal.
//! - A trial ends when a later row makes it paid (converted) or sets its ARR to 0
//!   while still a trial (expired); trial conversion = converted / ended.
//! - NPS is in points (-100..100): % promoters (9-10) - % detractors (0-6). CSAT is
//!   the share of 4-5 answers (1-5 scale); CES the mean answer (1-7).
//! - Every ratio whose denominator is empty is `None` (`null` in JSON): never NaN,
//!   infinity or a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Date;
use crate::input::InputError;

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

/// A survey answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyResponse {
    /// The account.
    pub account_id: String,
    /// The day answered.
    pub date: Date,
    /// Which survey.
    pub kind: SurveyKind,
    /// The answer.
    pub score: f64,
}

/// The three standard surveys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SurveyKind {
    /// Net Promoter Score, 0-10.
    Nps,
    /// Customer satisfaction, 1-5.
    Csat,
    /// Customer effort, 1-7.
    Ces,
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

impl SurveyKind {
    /// `nps`, `csat` or `ces`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nps => "nps",
            Self::Csat => "csat",
            Self::Ces => "ces",
        }
    }

    /// The survey named by [`SurveyKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Nps, Self::Csat, Self::Ces]
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    fn range(self) -> (f64, f64) {
        match self {
            Self::Nps => (0.0, 10.0),
            Self::Csat => (1.0, 5.0),
            Self::Ces => (1.0, 7.0),
        }
    }
}

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
fn add_months(d: Date, months: i32) -> Date {
    let (y, m, _) = d.ymd();
    let index = y * 12 + (m as i32 - 1) + months;
    Date::from_ymd(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1)
        .expect("first of a month exists")
}

/// The ledger, grouped by account, each account's rows in date order (file order
/// within a day).
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    accounts: BTreeMap<String, Vec<LedgerRow>>,
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
fn in_effect(rows: &[LedgerRow], t: Date) -> Option<&LedgerRow> {
    let i = rows.partition_point(|r| r.date < t);
    i.checked_sub(1).map(|i| &rows[i])
}

fn paid_arr(rows: &[LedgerRow], t: Date) -> f64 {
    in_effect(rows, t)
        .filter(|r| r.stage == RevenueStage::Paid)
        .map_or(0.0, |r| r.arr)
}

fn paid_before(rows: &[LedgerRow], t: Date) -> bool {
    rows.iter()
        .take_while(|r| r.date < t)
        .any(|r| r.stage == RevenueStage::Paid && r.arr > 0.0)
}

/// The account's segment as of `t`: the latest row before `t` that names one, else
/// the first that does.
fn segment_of(rows: &[LedgerRow], t: Date) -> Option<&str> {
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
fn period_metrics(
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    account_id: String,
    date: Date,
    arr: f64,
    #[serde(default)]
    stage: Option<RevenueStage>,
    #[serde(default)]
    segment: Option<String>,
    #[serde(default)]
    term_end: Option<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSurvey {
    account_id: String,
    date: Date,
    kind: SurveyKind,
    score: f64,
}

fn input_error(source: &str, line: usize, field: Option<&str>, message: String) -> InputError {
    InputError {
        source_name: source.to_owned(),
        line,
        field: field.map(str::to_owned),
        account_id: None,
        message,
    }
}

/// Reads records from CSV (header row; extra columns ignored; empty cells missing)
/// or JSON Lines (same keys), by `csv`. Every bad row is an error naming source,
/// line and field; none is dropped silently.
fn read_records<T: for<'de> Deserialize<'de> + Known>(
    source: &str,
    text: &str,
    csv_format: bool,
) -> (Vec<(usize, T)>, Vec<InputError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    if csv_format {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => return (rows, vec![input_error(source, 1, None, e.to_string())]),
        };
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    errors.push(input_error(source, line, None, e.to_string()));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line() as usize);
            // Through JSON so that both formats share one definition of a row.
            let mut object = serde_json::Map::new();
            for (h, v) in headers.iter().zip(record.iter()) {
                if v.is_empty() || !T::knows(h) {
                    continue;
                }
                let value = match v.parse::<f64>() {
                    Ok(x) if h == "arr" || h == "score" => serde_json::json!(x),
                    _ => serde_json::Value::String(v.to_owned()),
                };
                object.insert(h.to_owned(), value);
            }
            match serde_path_to_error::deserialize::<_, T>(serde_json::Value::Object(object)) {
                Ok(row) => rows.push((line, row)),
                Err(e) => {
                    let field = e.path().to_string();
                    errors.push(input_error(
                        source,
                        line,
                        (field != ".").then_some(field.as_str()),
                        e.into_inner().to_string(),
                    ));
                }
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let de = &mut serde_json::Deserializer::from_str(line);
            match serde_path_to_error::deserialize::<_, T>(de) {
                Ok(row) => rows.push((i + 1, row)),
                Err(e) => {
                    let field = e.path().to_string();
                    errors.push(input_error(
                        source,
                        i + 1,
                        (field != ".").then_some(field.as_str()),
                        e.into_inner().to_string(),
                    ));
                }
            }
        }
    }
    (rows, errors)
}

/// Which CSV columns a record type reads (others are ignored).
trait Known {
    fn knows(column: &str) -> bool;
}

impl Known for RawRow {
    fn knows(column: &str) -> bool {
        matches!(
            column,
            "account_id" | "date" | "arr" | "stage" | "segment" | "term_end"
        )
    }
}

impl Known for RawSurvey {
    fn knows(column: &str) -> bool {
        matches!(column, "account_id" | "date" | "kind" | "score")
    }
}

/// Parses a revenue ledger (CSV with a header, or JSON Lines). With `mrr`, the `arr`
/// column holds monthly revenue and is multiplied by 12.
pub fn parse_ledger(
    source: &str,
    text: &str,
    csv_format: bool,
    mrr: bool,
) -> Result<Vec<LedgerRow>, Vec<InputError>> {
    let (rows, mut errors) = read_records::<RawRow>(source, text, csv_format);
    let mut out = Vec::with_capacity(rows.len());
    for (line, r) in rows {
        if r.account_id.trim().is_empty() {
            errors.push(input_error(
                source,
                line,
                Some("account_id"),
                "must not be empty".into(),
            ));
        } else if !(r.arr.is_finite() && r.arr >= 0.0) {
            errors.push(input_error(
                source,
                line,
                Some("arr"),
                format!("must be >= 0, got {}", r.arr),
            ));
        } else if r.arr > MAX_ARR {
            errors.push(input_error(
                source,
                line,
                Some("arr"),
                format!("{:e} is past the largest ARR accepted ({MAX_ARR:e})", r.arr),
            ));
        } else {
            out.push(LedgerRow {
                account_id: r.account_id,
                date: r.date,
                arr: if mrr { r.arr * 12.0 } else { r.arr },
                stage: r.stage.unwrap_or_default(),
                segment: r.segment.filter(|s| !s.is_empty()),
                term_end: r.term_end,
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Parses survey responses (CSV with a header, or JSON Lines): `account_id`,
/// `date`, `kind` (`nps`, `csat`, `ces`), `score` within the kind's scale.
pub fn parse_surveys(
    source: &str,
    text: &str,
    csv_format: bool,
) -> Result<Vec<SurveyResponse>, Vec<InputError>> {
    let (rows, mut errors) = read_records::<RawSurvey>(source, text, csv_format);
    let mut out = Vec::with_capacity(rows.len());
    for (line, r) in rows {
        let (low, high) = r.kind.range();
        if !(low..=high).contains(&r.score) {
            errors.push(input_error(
                source,
                line,
                Some("score"),
                format!("{} is outside {low}-{high} for {:?}", r.score, r.kind),
            ));
        } else {
            out.push(SurveyResponse {
                account_id: r.account_id,
                date: r.date,
                kind: r.kind,
                score: r.score,
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn paid(id: &str, date: &str, arr: f64) -> LedgerRow {
        LedgerRow {
            account_id: id.into(),
            date: d(date),
            arr,
            stage: RevenueStage::Paid,
            segment: None,
            term_end: None,
        }
    }

    #[test]
    fn movement_after_a_day() {
        let ledger = Ledger::new(vec![
            paid("up", "2026-01-01", 100.0),
            paid("up", "2026-03-01", 150.0),
            paid("gone", "2026-01-01", 100.0),
            paid("gone", "2026-02-10", 0.0),
            trial("t", "2026-01-01", 0.0),
            paid("down", "2026-01-01", 100.0),
            paid("down", "2026-02-01", 60.0),
        ]);
        let (from, to) = (d("2026-01-31"), d("2026-03-01"));
        let m = |id| ledger.movement(id, from, to);
        assert_eq!(
            m("up"),
            Movement {
                churned: false,
                expanded: true
            },
            "last day included"
        );
        assert_eq!(
            m("gone"),
            Movement {
                churned: true,
                expanded: false
            }
        );
        assert_eq!(m("down"), Movement::default(), "contraction is neither");
        assert_eq!(m("t"), Movement::default(), "not paying on `from`");
        assert_eq!(m("unknown"), Movement::default());
        // A change on `from` itself is already in the starting ARR.
        assert_eq!(ledger.arr_on("up", d("2026-03-01")), 150.0);
        assert_eq!(ledger.arr_on("up", d("2026-02-28")), 100.0);
        assert!(
            !ledger
                .movement("up", d("2026-03-01"), d("2026-04-01"))
                .expanded
        );
    }

    fn trial(id: &str, date: &str, arr: f64) -> LedgerRow {
        LedgerRow {
            stage: RevenueStage::Trial,
            ..paid(id, date, arr)
        }
    }

    fn due(row: LedgerRow, term_end: &str) -> LedgerRow {
        LedgerRow {
            term_end: Some(d(term_end)),
            ..row
        }
    }

    fn month(ledger: Vec<LedgerRow>, surveys: &[SurveyResponse], first_day: &str) -> PeriodMetrics {
        let q = RetentionQuery {
            period: PeriodKind::Month,
            from: Some(d(first_day)),
            to: Some(d(first_day)),
            by_segment: false,
        };
        let mut all = retention(&Ledger::new(ledger), surveys, &q);
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[track_caller]
    fn close(a: Option<f64>, b: f64) {
        let a = a.expect("defined");
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn seeds_example_1000_to_1500_is_150_percent() {
        let m = month(
            vec![
                paid("a", "2026-01-01", 1000.0),
                paid("a", "2026-02-10", 1500.0),
            ],
            &[],
            "2026-02-01",
        );
        assert_eq!(
            (m.start_arr, m.expansion_arr, m.end_arr),
            (1000.0, 500.0, 1500.0)
        );
        close(m.nrr, 1.5);
        close(m.grr, 1.0);
        close(m.expansion_rate, 0.5);
        close(m.net_revenue_churn, -0.5);
        close(m.gross_revenue_churn, 0.0);
        assert_eq!(
            m.quick_ratio, None,
            "nothing lost: the quick ratio is not defined"
        );
    }

    fn march_book() -> Vec<LedgerRow> {
        vec![
            due(paid("a", "2026-01-01", 1000.0), "2026-03-05"),
            paid("a", "2026-03-05", 1200.0),
            due(paid("b", "2026-01-01", 2000.0), "2026-03-10"),
            paid("b", "2026-03-10", 1500.0),
            due(paid("c", "2026-01-01", 3000.0), "2026-03-20"),
            paid("c", "2026-03-20", 0.0),
            due(paid("d", "2026-01-01", 4000.0), "2026-03-31"),
            paid("e", "2026-03-15", 500.0),
            paid("f", "2025-12-01", 1000.0),
            paid("f", "2026-01-15", 0.0),
            paid("f", "2026-03-03", 800.0),
            trial("g", "2026-02-20", 600.0),
            paid("g", "2026-03-25", 600.0),
            trial("h", "2026-03-02", 0.0),
            trial("h", "2026-03-16", 0.0),
        ]
    }

    fn survey(kind: SurveyKind, date: &str, score: f64) -> SurveyResponse {
        SurveyResponse {
            account_id: "a".into(),
            date: d(date),
            kind,
            score,
        }
    }

    #[test]
    fn a_month_with_every_movement() {
        let mut surveys: Vec<SurveyResponse> = [10.0, 9.0, 8.0, 6.0, 3.0]
            .iter()
            .map(|s| survey(SurveyKind::Nps, "2026-03-09", *s))
            .collect();
        surveys.push(survey(SurveyKind::Nps, "2026-02-28", 0.0)); // February: not counted
        surveys.extend(
            [5.0, 4.0, 3.0, 1.0]
                .iter()
                .map(|s| survey(SurveyKind::Csat, "2026-03-09", *s)),
        );
        surveys.extend(
            [2.0, 3.0, 7.0]
                .iter()
                .map(|s| survey(SurveyKind::Ces, "2026-03-31", *s)),
        );
        let m = month(march_book(), &surveys, "2026-03-01");

        assert_eq!(m.period_start, Some(d("2026-03-01")));
        assert_eq!(m.period_end, Some(d("2026-03-31")));
        // a, b, c, d pay at the start; f had churned; g is a trial.
        assert_eq!(m.start_arr, 10_000.0);
        assert_eq!(m.expansion_arr, 200.0);
        assert_eq!(m.contraction_arr, 500.0);
        assert_eq!(m.churned_arr, 3_000.0);
        assert_eq!(m.new_arr, 1_100.0, "e, and g's trial conversion");
        assert_eq!(m.reactivation_arr, 800.0);
        assert_eq!(m.end_arr, 8_600.0);
        assert_eq!(
            (
                m.start_logos,
                m.new_logos,
                m.churned_logos,
                m.reactivated_logos
            ),
            (4, 2, 1, 1)
        );
        close(m.nrr, 0.67);
        close(m.grr, 0.65);
        close(m.expansion_rate, 0.02);
        close(m.logo_churn, 0.25);
        close(m.logo_retention, 0.75);
        close(m.gross_revenue_churn, 0.35);
        close(m.net_revenue_churn, 0.33);
        close(m.quick_ratio, 2_100.0 / 3_500.0);
        // Renewals: a (1000 -> 1200), b (2000 -> 1500), c (3000 -> gone), d (4000 kept).
        assert_eq!(m.renewals_due, 4);
        close(m.renewal_rate_logo, 0.75);
        close(m.renewal_rate_revenue, 6_500.0 / 10_000.0);
        close(m.net_renewal_rate, 6_700.0 / 10_000.0);
        // g converted, h expired.
        assert_eq!(m.trials_ended, 2);
        close(m.trial_conversion, 0.5);
        close(m.nps, 0.0); // 2 promoters, 2 detractors of 5
        close(m.csat, 0.5);
        close(m.ces, 4.0);
    }

    #[test]
    fn empty_ledger_and_empty_denominators() {
        let q = RetentionQuery {
            period: PeriodKind::Month,
            from: None,
            to: None,
            by_segment: false,
        };
        assert!(retention(&Ledger::default(), &[], &q).is_empty());

        // Only a new account: nothing at the start, so no ratio is defined.
        let m = month(vec![paid("a", "2026-03-10", 100.0)], &[], "2026-03-01");
        assert_eq!(m.new_arr, 100.0);
        for ratio in [
            m.nrr,
            m.grr,
            m.logo_churn,
            m.logo_retention,
            m.gross_revenue_churn,
            m.net_revenue_churn,
            m.expansion_rate,
            m.quick_ratio,
            m.renewal_rate_logo,
            m.renewal_rate_revenue,
            m.net_renewal_rate,
            m.trial_conversion,
            m.nps,
            m.csat,
            m.ces,
        ] {
            assert_eq!(ratio, None);
        }
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["nrr"], serde_json::Value::Null);
        assert_eq!(json["segment"], serde_json::Value::Null);
    }

    #[test]
    fn single_account_quiet_month() {
        let m = month(vec![paid("a", "2025-06-01", 1200.0)], &[], "2026-03-01");
        assert_eq!((m.start_arr, m.end_arr, m.start_logos), (1200.0, 1200.0, 1));
        close(m.nrr, 1.0);
        close(m.grr, 1.0);
        close(m.logo_churn, 0.0);
    }

    #[test]
    fn a_change_on_the_first_day_belongs_to_that_period() {
        let ledger = vec![
            paid("a", "2026-01-15", 1000.0),
            paid("a", "2026-02-01", 1500.0),
        ];
        let jan = month(ledger.clone(), &[], "2026-01-01");
        assert_eq!((jan.new_arr, jan.end_arr), (1000.0, 1000.0));
        let feb = month(ledger, &[], "2026-02-01");
        assert_eq!((feb.start_arr, feb.expansion_arr), (1000.0, 500.0));
    }

    #[test]
    fn churn_and_return_within_a_period_is_netted() {
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-02-05", 0.0),
            paid("a", "2026-02-20", 1200.0),
        ];
        let m = month(ledger, &[], "2026-02-01");
        assert_eq!(
            (
                m.churned_logos,
                m.churned_arr,
                m.expansion_arr,
                m.reactivation_arr
            ),
            (0, 0.0, 200.0, 0.0)
        );
    }

    #[test]
    fn churn_then_return_in_a_later_period_is_reactivation_not_new() {
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-02-05", 0.0),
            paid("a", "2026-03-20", 900.0),
        ];
        let feb = month(ledger.clone(), &[], "2026-02-01");
        assert_eq!((feb.churned_logos, feb.churned_arr), (1, 1000.0));
        let mar = month(ledger, &[], "2026-03-01");
        assert_eq!(
            (mar.new_arr, mar.reactivation_arr, mar.reactivated_logos),
            (0.0, 900.0, 1)
        );
    }

    #[test]
    fn downgrade_to_zero_is_churn_downgrade_to_one_is_contraction() {
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-02-10", 0.0),
            paid("b", "2026-01-01", 1000.0),
            paid("b", "2026-02-10", 1.0),
        ];
        let m = month(ledger, &[], "2026-02-01");
        assert_eq!(
            (m.churned_arr, m.churned_logos, m.contraction_arr),
            (1000.0, 1, 999.0)
        );
    }

    #[test]
    fn trials_never_count_in_revenue_metrics() {
        let ledger = vec![
            trial("t", "2026-01-10", 5000.0),
            trial("t", "2026-02-10", 0.0),
            paid("a", "2026-01-01", 100.0),
        ];
        let m = month(ledger, &[], "2026-02-01");
        assert_eq!(
            (m.start_arr, m.churned_arr, m.churned_logos),
            (100.0, 0.0, 0)
        );
        close(m.nrr, 1.0);
        assert_eq!(m.trials_ended, 1);
        close(m.trial_conversion, 0.0);
    }

    #[test]
    fn same_day_rows_apply_in_file_order() {
        let ledger = vec![
            paid("a", "2026-01-01", 1000.0),
            paid("a", "2026-02-03", 700.0),
            paid("a", "2026-02-03", 1100.0),
        ];
        let m = month(ledger, &[], "2026-02-01");
        assert_eq!((m.end_arr, m.expansion_arr), (1100.0, 100.0));
    }

    #[test]
    fn quarters_and_years() {
        assert_eq!(
            PeriodKind::Quarter.start_of(d("2026-05-17")),
            d("2026-04-01")
        );
        assert_eq!(PeriodKind::Quarter.next(d("2026-10-01")), d("2027-01-01"));
        assert_eq!(PeriodKind::Year.start_of(d("2026-05-17")), d("2026-01-01"));
        assert_eq!(PeriodKind::Month.next(d("2026-12-01")), d("2027-01-01"));
        let q = RetentionQuery {
            period: PeriodKind::Quarter,
            from: None,
            to: None,
            by_segment: false,
        };
        let all = retention(&Ledger::new(march_book()), &[], &q);
        let starts: Vec<String> = all
            .iter()
            .map(|m| m.period_start.unwrap().to_string())
            .collect();
        assert_eq!(starts, ["2025-10-01", "2026-01-01"]);
        assert_eq!(all[1].period_end, Some(d("2026-03-31")));
        // f paid before Q1; its January churn and March return net out within Q1.
        assert_eq!(
            (
                all[1].start_arr,
                all[1].churned_logos,
                all[1].contraction_arr
            ),
            (1000.0, 0, 200.0)
        );
    }

    #[test]
    fn segments_add_up_to_the_total() {
        let mut book = march_book();
        for (i, row) in book.iter_mut().enumerate() {
            row.segment = Some(
                if row.account_id.as_str() < "d" {
                    "smb"
                } else {
                    "enterprise"
                }
                .to_owned(),
            );
            if i % 3 == 0 {
                row.segment = None; // only some rows name it; the latest known applies
            }
        }
        let q = |by_segment| RetentionQuery {
            period: PeriodKind::Month,
            from: Some(d("2026-03-01")),
            to: Some(d("2026-03-01")),
            by_segment,
        };
        let ledger = Ledger::new(book);
        let total = &retention(&ledger, &[], &q(false))[0];
        let parts = retention(&ledger, &[], &q(true));
        assert_eq!(
            parts
                .iter()
                .map(|m| m.segment.clone().unwrap())
                .collect::<Vec<_>>(),
            ["unknown", "enterprise", "smb"]
        );
        let sum = |f: fn(&PeriodMetrics) -> f64| parts.iter().map(f).sum::<f64>();
        assert_eq!(sum(|m| m.start_arr), total.start_arr);
        assert_eq!(sum(|m| m.end_arr), total.end_arr);
        assert_eq!(sum(|m| m.expansion_arr), total.expansion_arr);
        assert_eq!(sum(|m| m.churned_arr), total.churned_arr);
        assert_eq!(sum(|m| m.new_arr), total.new_arr);
    }

    #[test]
    fn cohort_matrix() {
        let ledger = Ledger::new(vec![
            paid("a", "2026-01-05", 1000.0),
            paid("b", "2026-01-20", 1000.0),
            paid("b", "2026-02-10", 0.0),
            paid("a", "2026-03-02", 1500.0),
            paid("c", "2026-02-01", 300.0),
        ]);
        let rows = cohorts(&ledger, d("2026-03-31"));
        assert_eq!(rows.len(), 2);
        let jan = &rows[0];
        assert_eq!(
            (jan.cohort, jan.accounts, jan.start_arr),
            (d("2026-01-01"), 2, 2000.0)
        );
        assert_eq!(jan.logo, [Some(1.0), Some(0.5), Some(0.5)]);
        assert_eq!(jan.revenue, [Some(1.0), Some(0.5), Some(0.75)]);
        assert_eq!(
            rows[1].logo,
            [Some(1.0), Some(1.0)],
            "February cohort: two months observed"
        );
    }

    #[test]
    fn ledger_csv_and_jsonl_with_errors_named() {
        let csv = "account_id,date,arr,stage,segment,term_end,note\n\
                   a,2026-01-01,100,paid,smb,2026-12-31,extra column ignored\n\
                   b,2026-01-01,,trial,,,\n\
                   c,2026-13-01,5,,,,\n\
                   d,2026-01-01,-5,,,,\n";
        let errors = parse_ledger("l.csv", csv, true, false).unwrap_err();
        let got: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            got,
            [(3, None), (4, Some("date")), (5, Some("arr"))],
            "every bad row, in line order"
        );
        assert!(
            errors[0].to_string().contains("missing field `arr`"),
            "{}",
            errors[0]
        );

        let good = "account_id,date,arr,stage\na,2026-01-01,100,\nb,2026-02-01,50,trial\n";
        let rows = parse_ledger("l.csv", good, true, true).unwrap();
        assert_eq!(rows[0].arr, 1200.0, "--mrr multiplies by 12");
        assert_eq!(rows[0].stage, RevenueStage::Paid);
        assert_eq!(rows[1].stage, RevenueStage::Trial);

        let neg = parse_ledger(
            "l.jsonl",
            r#"{"account_id":"d","date":"2026-01-01","arr":-5}"#,
            false,
            false,
        )
        .unwrap_err();
        assert_eq!(
            neg[0].to_string(),
            "l.jsonl:1: field `arr`: must be >= 0, got -5"
        );
        let huge = parse_ledger(
            "l.csv",
            "account_id,date,arr\nh,2026-01-01,1e308\n",
            true,
            false,
        )
        .unwrap_err();
        assert_eq!(
            huge[0].to_string(),
            "l.csv:2: field `arr`: 1e308 is past the largest ARR accepted (1e15)"
        );
        let jsonl = r#"{"account_id":"a","date":"2026-01-01","arr":100,"stage":"trial","term_end":"2026-06-30"}"#;
        let rows = parse_ledger("l.jsonl", jsonl, false, false).unwrap();
        assert_eq!(
            (rows[0].stage, rows[0].term_end),
            (RevenueStage::Trial, Some(d("2026-06-30")))
        );
    }

    #[test]
    fn surveys_check_their_scale() {
        let text = "account_id,date,kind,score\na,2026-01-01,nps,10\na,2026-01-01,csat,6\na,2026-01-01,mood,3\n";
        let errors = parse_surveys("s.csv", text, true).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].to_string(),
            "s.csv:3: field `score`: 6 is outside 1-5 for Csat"
        );
        assert_eq!(
            (errors[1].line, errors[1].field.as_deref()),
            (4, Some("kind")),
            "{}",
            errors[1]
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn ledger() -> impl Strategy<Value = Vec<LedgerRow>> {
        let row = (
            0..6usize,
            0..365i32,
            prop::sample::select(vec![0.0, 100.0, 250.0, 1000.0]),
            any::<bool>(),
            0..3usize,
        );
        prop::collection::vec(row, 0..40).prop_map(|rows| {
            rows.into_iter()
                .map(|(account, day, arr, trial, segment)| LedgerRow {
                    account_id: format!("acct-{account}"),
                    date: Date::from_ymd(2026, 1, 1).unwrap().add_days(day),
                    arr,
                    stage: if trial && day % 5 == 0 {
                        RevenueStage::Trial
                    } else {
                        RevenueStage::Paid
                    },
                    segment: [None, Some("a"), Some("b")][segment].map(str::to_owned),
                    term_end: None,
                })
                .collect()
        })
    }

    fn query(by_segment: bool) -> RetentionQuery {
        let (from, to) = (Date::from_ymd(2026, 1, 1), Date::from_ymd(2026, 12, 31));
        RetentionQuery {
            period: PeriodKind::Month,
            from,
            to,
            by_segment,
        }
    }

    proptest! {
        #[test]
        fn retention_identities_hold(rows in ledger()) {
            let ledger = Ledger::new(rows);
            let months = retention(&ledger, &[], &query(false));
            prop_assert_eq!(months.len(), 12);
            for m in &months {
                if let (Some(nrr), Some(grr), Some(exp)) = (m.nrr, m.grr, m.expansion_rate) {
                    prop_assert!((nrr - (grr + exp)).abs() < 1e-9, "NRR = GRR + expansion rate");
                    prop_assert!((0.0..=1.0).contains(&grr), "0 <= GRR <= 1, got {}", grr);
                } else {
                    prop_assert_eq!(m.start_arr, 0.0);
                }
                let walk = m.start_arr + m.new_arr + m.reactivation_arr + m.expansion_arr - m.contraction_arr - m.churned_arr;
                prop_assert!((walk - m.end_arr).abs() < 1e-6, "ARR walk");
            }
            for pair in months.windows(2) {
                prop_assert_eq!(pair[0].end_arr, pair[1].start_arr);
                prop_assert_eq!(
                    pair[0].start_logos + pair[0].new_logos + pair[0].reactivated_logos - pair[0].churned_logos,
                    pair[1].start_logos,
                    "logo counts add up"
                );
            }
        }

        #[test]
        fn segments_sum_to_the_total(rows in ledger()) {
            let ledger = Ledger::new(rows);
            let totals = retention(&ledger, &[], &query(false));
            let parts = retention(&ledger, &[], &query(true));
            for total in &totals {
                let mine = parts.iter().filter(|p| p.period_start == total.period_start);
                let (mut start, mut end, mut churn, mut logos) = (0.0, 0.0, 0.0, 0);
                for p in mine {
                    start += p.start_arr;
                    end += p.end_arr;
                    churn += p.churned_arr;
                    logos += p.start_logos;
                }
                prop_assert_eq!((start, end, churn, logos), (total.start_arr, total.end_arr, total.churned_arr, total.start_logos));
            }
        }
    }
}
