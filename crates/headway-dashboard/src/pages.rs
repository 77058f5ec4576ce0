//! Page models: what each template shows, as text ready to print. Numbers are
//! formatted here, once, so a template holds no arithmetic.

use askama::Template;
use headway_core::moves::Step;
use headway_core::success::{Basis, Snapshot};
use headway_core::vector::Direction;
use headway_core::{PluginInfo, money};
use headway_views::{AccountRow, AccountView, BandMix, BookPage, ForecastView, build_label};

use crate::chart::{self, ScorePoint};

/// What every signed-in page shows around its content.
#[derive(Debug, Clone)]
pub struct Nav {
    /// The tenant's id (in every link).
    pub tenant: String,
    /// The tenant's name.
    pub name: String,
    /// The page shown: `portfolio`, `accounts`, `account`.
    pub page: &'static str,
    /// The form token POSTs carry (sign-out, rollback).
    pub csrf: String,
    /// The other tenants the signed-in token opens (the operator's), by id.
    pub others: Vec<String>,
}

impl Nav {
    /// `aria-current` for the page's own link.
    pub fn current(&self, page: &str) -> &'static str {
        if self.page == page { "page" } else { "false" }
    }
}

/// The sign-in form.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignIn {
    /// Why the last try failed.
    pub error: Option<String>,
}

/// A page that says why it has nothing to show (no store, no snapshots).
#[derive(Template)]
#[template(path = "empty.html")]
pub struct Empty {
    /// Around it.
    pub nav: Nav,
    /// The title.
    pub title: String,
    /// What to do.
    pub message: String,
}

/// One band's line on the portfolio.
#[derive(Debug, Clone, PartialEq)]
pub struct BandLine {
    /// The band.
    pub name: String,
    /// Accounts in it.
    pub accounts: usize,
    /// Their ARR.
    pub arr: String,
    /// Share of the book's ARR.
    pub share: String,
}

/// Months of NRR and GRR the portfolio shows.
pub const PORTFOLIO_MONTHS: usize = 12;

/// *Portfolio*: the book by band and direction, and the expansion coming.
#[derive(Template)]
#[template(path = "portfolio.html")]
pub struct Portfolio {
    /// Around it.
    pub nav: Nav,
    /// The build read and the day.
    pub build: String,
    /// The book's day.
    pub as_of: String,
    /// Accounts in the current book.
    pub accounts: usize,
    /// Their ARR.
    pub arr: String,
    /// By band, in the plugin's order (lowest first).
    pub bands: Vec<BandLine>,
    /// Accounts and ARR by band, as bars.
    pub bands_chart: String,
    /// Improving, steady, declining, unknown.
    pub directions: Vec<(&'static str, usize)>,
    /// The forecast's horizon in days.
    pub horizon_days: i32,
    /// Expected expansion ARR within it.
    pub expected_arr: String,
    /// Milestone arrivals within it.
    pub arrivals: usize,
    /// The band mix of every day scored, as stacked columns.
    pub mix_chart: String,
    /// NRR and GRR of the last months: month, NRR, GRR. Empty without a ledger.
    pub months: Vec<(String, String, String)>,
}

impl Portfolio {
    /// From the book's rows, the forecast and band mix of the same build, and
    /// the monthly retention (none without a ledger), whose last
    /// [`PORTFOLIO_MONTHS`] are shown.
    pub fn new(
        nav: Nav,
        info: &PluginInfo,
        rows: &[AccountRow],
        forecast: &ForecastView,
        mix: &[BandMix],
        monthly: &[headway_core::retention::PeriodMetrics],
    ) -> Self {
        let total: f64 = rows.iter().map(|r| r.arr).sum();
        let mut bands: Vec<BandLine> = Vec::new();
        let mut bars = Vec::new();
        let mut names: Vec<&str> = info.bands.iter().map(|b| b.name.as_str()).collect();
        for r in rows {
            if !names.contains(&r.band.as_str()) {
                names.push(&r.band);
            }
        }
        for name in names {
            let of: Vec<&AccountRow> = rows.iter().filter(|r| r.band == name).collect();
            let arr: f64 = of.iter().map(|r| r.arr).sum();
            let share = if total > 0.0 { arr / total } else { 0.0 };
            bars.push((
                name.to_owned(),
                arr,
                format!("{} accounts, {}", of.len(), money(arr)),
            ));
            bands.push(BandLine {
                name: name.to_owned(),
                accounts: of.len(),
                arr: money(arr),
                share: format!("{:.1}%", share * 100.0),
            });
        }
        let count = |d: Option<Direction>| rows.iter().filter(|r| r.direction == d).count();
        Self {
            build: build_label(&forecast.plugin),
            as_of: forecast.forecast.as_of.to_string(),
            accounts: rows.len(),
            arr: money(total),
            bands_chart: chart::bars(&bars, "ARR by band"),
            bands,
            directions: vec![
                ("improving", count(Some(Direction::Improving))),
                ("steady", count(Some(Direction::Steady))),
                ("declining", count(Some(Direction::Declining))),
                ("unknown", count(None)),
            ],
            horizon_days: forecast.forecast.horizon_days,
            expected_arr: money(forecast.forecast.total_expected_arr),
            arrivals: forecast
                .forecast
                .milestones
                .iter()
                .map(|m| m.accounts.len())
                .sum(),
            mix_chart: chart::band_mix(
                &mix.iter()
                    .map(|m| (m.day, m.counts.clone()))
                    .collect::<Vec<_>>(),
                "Accounts by band on each day scored",
            ),
            months: monthly[monthly.len().saturating_sub(PORTFOLIO_MONTHS)..]
                .iter()
                .map(|m| {
                    let month = m.period_start.map_or_else(|| "-".into(), |d| d.to_string());
                    (month, share(m.nrr), share(m.grr))
                })
                .collect(),
            nav,
        }
    }
}

/// One row of the accounts table, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountLine {
    /// The account (the link).
    pub id: String,
    /// Score, one decimal.
    pub score: String,
    /// Band.
    pub band: String,
    /// Points per 30 days, signed.
    pub velocity: String,
    /// Improving, steady, declining or `-`.
    pub direction: String,
    /// Next milestone and when it is expected.
    pub next: String,
    /// ARR.
    pub arr: String,
    /// Renewal day or `-`.
    pub renewal: String,
}

impl From<&AccountRow> for AccountLine {
    fn from(r: &AccountRow) -> Self {
        let next = match (&r.next_milestone, r.next_milestone_on) {
            (Some(m), Some(on)) => format!("{m} by {on}"),
            (Some(m), None) => m.clone(),
            (None, _) => "all reached".into(),
        };
        Self {
            id: r.account_id.clone(),
            score: format!("{:.1}", r.score),
            band: r.band.clone(),
            velocity: r
                .velocity
                .map_or_else(|| "-".into(), |v| format!("{v:+.1}")),
            direction: r.direction.map_or("-", |d| d.as_str()).to_owned(),
            next,
            arr: money(r.arr),
            renewal: r.renewal_date.map_or_else(|| "-".into(), |d| d.to_string()),
        }
    }
}

/// The accounts table's filters and sort, as the query string holds them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// `q`: part of an account id.
    pub search: String,
    /// `band`.
    pub band: String,
    /// `direction`.
    pub direction: String,
    /// `segment`.
    pub segment: String,
    /// `sort`: score, velocity, arr, renewal, id.
    pub sort: String,
    /// `order`: asc or desc.
    pub order: String,
}

/// *Accounts*: the book, filtered and sorted, a page at a time.
#[derive(Template)]
#[template(path = "accounts.html")]
pub struct Accounts {
    /// Around it.
    pub nav: Nav,
    /// The filters in force.
    pub filters: Filters,
    /// The bands to filter by.
    pub bands: Vec<String>,
    /// Accounts that match.
    pub matching: usize,
    /// This page.
    pub rows: Vec<AccountLine>,
    /// The query string of the next page, if any.
    pub next: Option<String>,
}

impl Accounts {
    /// The page of the book; `next_query` links the following one.
    pub fn new(
        nav: Nav,
        info: &PluginInfo,
        filters: Filters,
        page: &BookPage,
        next_query: Option<String>,
    ) -> Self {
        Self {
            nav,
            filters,
            bands: info.bands.iter().map(|b| b.name.clone()).collect(),
            matching: page.matching,
            rows: page.accounts.iter().map(AccountLine::from).collect(),
            next: next_query,
        }
    }

    /// A column header's link: sorts by `key`, flipping the order when it is
    /// the sort in force.
    pub fn sort_link(&self, key: &str) -> String {
        let order = if self.filters.sort == key && self.filters.order != "desc" {
            "desc"
        } else {
            "asc"
        };
        let mut query = vec![("sort", key), ("order", order)];
        for (name, value) in [
            ("q", &self.filters.search),
            ("band", &self.filters.band),
            ("direction", &self.filters.direction),
            ("segment", &self.filters.segment),
        ] {
            if !value.is_empty() {
                query.push((name, value));
            }
        }
        format!("?{}", encode_query(&query))
    }

    /// `aria-sort` of a column header.
    pub fn aria_sort(&self, key: &str) -> &'static str {
        match (self.filters.sort == key, self.filters.order.as_str()) {
            (false, _) => "none",
            (true, "desc") => "descending",
            (true, _) => "ascending",
        }
    }
}

/// `name=value&...`, each part percent-encoded.
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes all but unreserved characters (RFC 3986).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One factor of the latest score.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorLine {
    /// Its label (its id when the build has none).
    pub name: String,
    /// The measured value.
    pub value: String,
    /// Its weight, as a percentage.
    pub weight: String,
    /// Points it contributes.
    pub contribution: String,
    /// Why.
    pub reason: String,
}

/// One milestone's course.
#[derive(Debug, Clone, PartialEq)]
pub struct MilestoneLine {
    /// Its name.
    pub name: String,
    /// Progress, as a percentage.
    pub progress: String,
    /// Progress 0-100, for the meter.
    pub percent: f64,
    /// Reached or expected when, and on what basis.
    pub when: String,
    /// The upsell it unlocks, if any.
    pub upsell: String,
}

/// *Account*: the score over time, its factors, what moved, the milestones.
#[derive(Template)]
#[template(path = "account.html")]
pub struct Account {
    /// Around it.
    pub nav: Nav,
    /// The account.
    pub id: String,
    /// The build read.
    pub build: String,
    /// The latest snapshot's day, score and band.
    pub as_of: String,
    /// Score, one decimal.
    pub score: String,
    /// Band.
    pub band: String,
    /// Velocity and direction, in words.
    pub course: String,
    /// Score history as SVG.
    pub chart: String,
    /// The latest score's factors.
    pub factors: Vec<FactorLine>,
    /// Overrides in force on the latest snapshot, in words.
    pub overrides: Vec<String>,
    /// The latest step, in words, and its movers.
    pub moved: Option<(String, Vec<String>)>,
    /// The milestones.
    pub milestones: Vec<MilestoneLine>,
}

impl Account {
    /// From the account's view (the build read is `view.build`).
    pub fn new(nav: Nav, info: &PluginInfo, view: &AccountView) -> Self {
        let mine: Vec<&Snapshot> = view.by_build().collect();
        let mut points = Vec::new();
        let mut previous: Option<&Snapshot> = None;
        for s in &view.snapshots {
            if s.plugin.digest == view.build.digest {
                let build_change =
                    previous
                        .filter(|p| p.plugin.digest != s.plugin.digest)
                        .map(|p| {
                            format!(
                                "rules changed: {} -> {}",
                                build_label(&p.plugin),
                                build_label(&s.plugin)
                            )
                        });
                points.push(ScorePoint {
                    day: s.as_of,
                    score: s.score,
                    band: s.band.clone(),
                    build_change,
                });
            }
            previous = Some(s);
        }
        let bands: Vec<(String, f64)> = info
            .bands
            .iter()
            .map(|b| (b.name.clone(), b.min_score))
            .collect();
        let latest = mine.last().copied();
        let label = |id: &str| {
            info.factors
                .iter()
                .find(|f| f.id == id)
                .map_or_else(|| id.to_owned(), |f| f.label.clone())
        };
        let factors = latest
            .map(|s| {
                s.factors
                    .iter()
                    .map(|f| FactorLine {
                        name: label(&f.name),
                        value: format!("{}", f.value),
                        weight: format!("{:.0}%", f.weight * 100.0),
                        contribution: format!("{:.1}", f.contribution),
                        reason: f.reason.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let milestones = view
            .vector
            .iter()
            .flat_map(|v| &v.milestones)
            .map(|m| {
                let declared = info.milestones.iter().find(|d| d.id == m.id);
                let when = match (m.basis, m.expected_on) {
                    (Basis::Reached, Some(d)) => format!("reached {d}"),
                    (Basis::Plugin, Some(d)) => format!("expected {d} (the plugin's prediction)"),
                    (Basis::Trend, Some(d)) => format!("expected {d} (progress trend)"),
                    _ => "expected date unknown".into(),
                };
                let upsell =
                    declared
                        .and_then(|d| d.upsell.as_ref())
                        .map_or_else(String::new, |u| {
                            let likely = m.likelihood.map_or_else(String::new, |l| {
                                format!(", likelihood {:.0}%", l * 100.0)
                            });
                            format!("{} (+{} ARR{likely})", u.offer, money(u.arr))
                        });
                MilestoneLine {
                    name: declared.map_or_else(|| m.id.clone(), |d| d.name.clone()),
                    progress: format!("{:.0}%", m.progress * 100.0),
                    percent: (m.progress * 100.0).clamp(0.0, 100.0),
                    when,
                    upsell,
                }
            })
            .collect();
        let course = view.vector.as_ref().map_or_else(
            || "too little history for a trend".into(),
            |v| match (v.velocity, v.direction) {
                (Some(speed), Some(d)) => {
                    format!("{}, {speed:+.1} points per 30 days", d.as_str())
                }
                _ => "too little history for a trend".into(),
            },
        );
        Self {
            id: view.account_id.clone(),
            build: build_label(&view.build),
            as_of: latest.map_or_else(String::new, |s| s.as_of.to_string()),
            score: latest.map_or_else(String::new, |s| format!("{:.1}", s.score)),
            band: latest.map_or_else(String::new, |s| s.band.clone()),
            chart: chart::score_history(
                &points,
                &bands,
                &format!("Score of {} over time", view.account_id),
            ),
            factors,
            overrides: latest
                .map(|s| {
                    s.overrides
                        .iter()
                        .map(|o| format!("{}: {}", o.target, o.note))
                        .collect()
                })
                .unwrap_or_default(),
            moved: view.steps.last().map(moved),
            milestones,
            course,
            nav,
        }
    }
}

/// The latest step in words, and its factors' moves.
fn moved(step: &Step) -> (String, Vec<String>) {
    let head = format!("{} -> {}: {:+.1} points", step.from, step.to, step.change);
    match &step.build_changed {
        Some(_) => (
            format!("{head}; the rules changed, not the customer"),
            Vec::new(),
        ),
        None => (
            head,
            step.moves
                .iter()
                .filter(|m| m.change.abs() >= 0.05)
                .take(5)
                .map(|m| m.summary.clone())
                .collect(),
        ),
    }
}

/// A moment given in seconds since the Unix epoch, as `2026-11-01 09:30:00 UTC`.
pub fn utc(seconds: u64) -> String {
    let days = i32::try_from(seconds / 86_400).unwrap_or(i32::MAX);
    let rest = seconds % 86_400;
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        headway_core::Date::from_days(days),
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// One reload of the tenant's files, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ReloadLine {
    /// When.
    pub at: String,
    /// `loaded`, `failed`, `restored`, `rolled-back`.
    pub outcome: String,
    /// The build's version, if one loaded.
    pub version: String,
    /// Why it failed.
    pub error: String,
}

/// *Rules*: the build serving, what it declares, its reloads, rollback.
#[derive(Template)]
#[template(path = "rules.html")]
pub struct Rules {
    /// Around it.
    pub nav: Nav,
    /// The build serving, as people read it.
    pub serving: String,
    /// The contract version it was built against.
    pub contract: String,
    /// What a rollback would bring back.
    pub previous: Option<String>,
    /// The last reload's error, while it lasts.
    pub last_error: Option<String>,
    /// Bands and where each starts.
    pub bands: Vec<(String, String)>,
    /// Factors: label, id, weight.
    pub factors: Vec<(String, String, String)>,
    /// Milestones: name, description, upsell.
    pub milestones: Vec<(String, String, String)>,
    /// Reloads, newest first.
    pub reloads: Vec<ReloadLine>,
    /// What the last action did (a rollback), or why it did not.
    pub notice: Option<String>,
}

impl Rules {
    /// From the serving build's declaration and the tenant's status.
    pub fn new(
        nav: Nav,
        info: &PluginInfo,
        serving: String,
        contract: String,
        previous: Option<String>,
        last_error: Option<String>,
        mut reloads: Vec<ReloadLine>,
    ) -> Self {
        reloads.reverse();
        Self {
            nav,
            serving,
            contract,
            previous,
            last_error,
            bands: info
                .bands
                .iter()
                .map(|b| (b.name.clone(), format!("{}", b.min_score)))
                .collect(),
            factors: info
                .factors
                .iter()
                .map(|f| {
                    (
                        f.label.clone(),
                        f.id.clone(),
                        format!("{:.0}%", f.weight * 100.0),
                    )
                })
                .collect(),
            milestones: info
                .milestones
                .iter()
                .map(|m| {
                    let upsell = m.upsell.as_ref().map_or_else(String::new, |u| {
                        format!(
                            "{}: +{} ARR, {:.0}% take it",
                            u.offer,
                            money(u.arr),
                            u.take_rate * 100.0
                        )
                    });
                    (m.name.clone(), m.description.clone(), upsell)
                })
                .collect(),
            reloads,
            notice: None,
        }
    }
}

/// One milestone's cohort in the forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortLine {
    /// The milestone.
    pub milestone: String,
    /// Accounts expected to reach it.
    pub arrivals: usize,
    /// The upsell and its ARR per account.
    pub upsell: String,
    /// Take rate.
    pub take_rate: String,
    /// Expected ARR.
    pub expected_arr: String,
    /// The arriving accounts, soonest first.
    pub accounts: Vec<String>,
}

/// *Forecast*: who reaches a milestone within the horizon, and the expansion.
#[derive(Template)]
#[template(path = "forecast.html")]
pub struct ForecastPage {
    /// Around it.
    pub nav: Nav,
    /// The build read.
    pub build: String,
    /// From which day.
    pub as_of: String,
    /// Horizon, in days.
    pub horizon_days: i32,
    /// Expected expansion ARR in it.
    pub total: String,
    /// One cohort per milestone, in the plugin's order.
    pub cohorts: Vec<CohortLine>,
    /// Where the expected days of milestones not yet reached come from.
    pub basis: String,
}

impl ForecastPage {
    /// From the forecast view.
    pub fn new(nav: Nav, view: &ForecastView) -> Self {
        let f = &view.forecast;
        let e = view.expected_from;
        Self {
            nav,
            build: build_label(&view.plugin),
            as_of: f.as_of.to_string(),
            horizon_days: f.horizon_days,
            total: money(f.total_expected_arr),
            cohorts: f
                .milestones
                .iter()
                .map(|m| CohortLine {
                    milestone: m.milestone.clone(),
                    arrivals: m.arrivals,
                    upsell: m.upsell.as_ref().map_or_else(
                        || "-".into(),
                        |u| format!("{u} (+{} ARR each)", money(m.upsell_arr)),
                    ),
                    take_rate: format!("{:.0}%", m.take_rate * 100.0),
                    expected_arr: money(m.expected_arr),
                    accounts: m.accounts.clone(),
                })
                .collect(),
            basis: format!(
                "Expected days of milestones not yet reached: {} from the plugin's prediction, {} from the progress trend, {} unknown.",
                e.plugin, e.trend, e.unknown
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_read_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_793_525_405), "2026-11-01 09:30:05 UTC");
    }

    #[test]
    fn the_advocacy_table_shows_only_with_advocacy() {
        let nav = Nav {
            tenant: "t".into(),
            name: "T".into(),
            page: "retention",
            csrf: String::new(),
            others: vec![],
        };
        let mut m = headway_core::retention::PeriodMetrics {
            start_arr: 1000.0,
            ..Default::default()
        };
        let quiet = Retention::new(nav.clone(), "month", std::slice::from_ref(&m), &[]);
        assert!(!quiet.render().unwrap().contains("id=\"advocacy\""));
        m.advocating_accounts = 2;
        m.advocacy_rate = Some(0.4);
        m.referrals_per_100 = Some(20.0);
        m.referred_new_arr = 800.0;
        m.referred_nrr = Some(0.0);
        m.other_nrr = Some(3200.0 / 3000.0);
        let page = Retention::new(nav, "month", &[m], &[]).render().unwrap();
        assert!(page.contains("id=\"advocacy\""), "{page}");
        for cell in ["2 (40.0%)", "20.0", "800", "0.0%", "106.7%"] {
            assert!(page.contains(&format!(">{cell}<")), "{cell} in {page}");
        }
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            encode_query(&[("q", "a b&c"), ("band", "ré")]),
            "q=a%20b%26c&band=r%C3%A9"
        );
    }
}

/// A share as `97.5%`, or `-`.
fn share(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// A number with one decimal, or `-`.
fn one(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

/// One period of retention, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodLine {
    /// `2026-01-01 - 2026-03-31`.
    pub period: String,
    /// ARR at the start and at the end.
    pub start_arr: String,
    /// ARR at the end.
    pub end_arr: String,
    /// Net revenue retention.
    pub nrr: String,
    /// Gross revenue retention.
    pub grr: String,
    /// Logo churn.
    pub logo_churn: String,
    /// (new + expansion + reactivation) / (contraction + churn).
    pub quick_ratio: String,
    /// NPS, CSAT, CES of the period's answers.
    pub nps: String,
    /// CSAT.
    pub csat: String,
    /// CES.
    pub ces: String,
    /// Paying accounts that advocated, and their share.
    pub advocating: String,
    /// Referrals per 100 paying accounts.
    pub referrals_per_100: String,
    /// New ARR that came by referral.
    pub referred_arr: String,
    /// NRR of referred accounts.
    pub referred_nrr: String,
    /// NRR of the others.
    pub other_nrr: String,
}

/// One signup cohort's row of the heat map: cells as (shown, heat 0-10).
#[derive(Debug, Clone, PartialEq)]
pub struct CohortHeat {
    /// The cohort's month.
    pub cohort: String,
    /// Accounts in it.
    pub accounts: u64,
    /// Share still paying k months later; heat is the share in tenths.
    pub cells: Vec<(String, u8)>,
}

/// *Retention*: NRR, GRR, logo churn and quick ratio by period, the survey
/// scores, and the signup-cohort matrix as a heat map.
#[derive(Template)]
#[template(path = "retention.html")]
pub struct Retention {
    /// Around it.
    pub nav: Nav,
    /// `month`, `quarter` or `year`.
    pub period: String,
    /// One line per period, oldest first.
    pub periods: Vec<PeriodLine>,
    /// Whether the tenant uploaded advocacy events (then a table shows them).
    pub advocacy: bool,
    /// Months since signup the matrix spans.
    pub months: Vec<usize>,
    /// The cohorts, oldest first.
    pub cohorts: Vec<CohortHeat>,
}

impl Retention {
    /// From the metrics and cohorts `GET .../retention` answers with.
    pub fn new(
        nav: Nav,
        period: &str,
        metrics: &[headway_core::retention::PeriodMetrics],
        cohorts: &[headway_core::retention::CohortRow],
    ) -> Self {
        let day = |d: Option<headway_core::Date>| d.map_or_else(|| "-".into(), |d| d.to_string());
        let width = cohorts.iter().map(|c| c.logo.len()).max().unwrap_or(0);
        Self {
            nav,
            period: period.to_owned(),
            periods: metrics
                .iter()
                .map(|m| PeriodLine {
                    period: format!("{} - {}", day(m.period_start), day(m.period_end)),
                    start_arr: money(m.start_arr),
                    end_arr: money(m.end_arr),
                    nrr: share(m.nrr),
                    grr: share(m.grr),
                    logo_churn: share(m.logo_churn),
                    quick_ratio: m
                        .quick_ratio
                        .map_or_else(|| "-".into(), |q| format!("{q:.2}")),
                    nps: one(m.nps),
                    csat: one(m.csat),
                    ces: one(m.ces),
                    advocating: format!("{} ({})", m.advocating_accounts, share(m.advocacy_rate)),
                    referrals_per_100: one(m.referrals_per_100),
                    referred_arr: money(m.referred_new_arr),
                    referred_nrr: share(m.referred_nrr),
                    other_nrr: share(m.other_nrr),
                })
                .collect(),
            advocacy: metrics
                .iter()
                .any(|m| m.advocating_accounts + m.referrals + m.referred_new_logos > 0),
            months: (0..width).collect(),
            cohorts: cohorts
                .iter()
                .map(|c| CohortHeat {
                    cohort: c.cohort.to_string(),
                    accounts: c.accounts,
                    cells: (0..width)
                        .map(|k| match c.logo.get(k).copied().flatten() {
                            Some(v) => (
                                format!("{:.0}%", v * 100.0),
                                (v.clamp(0.0, 1.0) * 10.0).round() as u8,
                            ),
                            None => (String::new(), 0),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
