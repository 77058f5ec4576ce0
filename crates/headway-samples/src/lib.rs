//! Deterministic sample books of business for the example tenants.
//!
//! Every account has a hidden "true health" that drives its measures, with noise,
//! so the example plugins' scores are plausible and spread across bands. A fixed
//! seed gives byte-identical files on every machine (the PRNG is SplitMix64, written
//! here so no dependency upgrade can change the data).

use std::collections::BTreeMap;

use headway_core::retention::{
    AdvocacyEvent, AdvocacyKind, LedgerRow, RevenueStage, SurveyKind, SurveyResponse,
};
use headway_core::{Account, Date, LifecycleStage, OutcomeKpi, Point};

/// The seed of the checked-in sample files.
pub const DEFAULT_SEED: u64 = 42;
/// The as-of date of the checked-in sample files.
pub const AS_OF: (i32, u32, u32) = (2026, 11, 1);

/// Which example tenant to generate accounts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Book {
    /// A B2B SaaS product (plugin `saas-health`).
    Saas,
    /// A logistics provider judged on OTIF/DIFOT (plugin `logistics-otif`).
    Logistics,
}

/// SplitMix64: tiny, fast, and fixed forever.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    fn int(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next_u64() % (high - low + 1) as u64) as i64
    }

    /// Roughly normal noise (sum of uniforms), mean 0, standard deviation `sd`.
    fn noise(&mut self, sd: f64) -> f64 {
        (self.unit() + self.unit() + self.unit() - 1.5) * 2.0 * sd
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next_u64() as usize % items.len()]
    }
}

/// `x` or 0, never -0.0 (`f64::max` may return either zero, and the JSON differs).
fn non_negative(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

const FIRST: [&str; 24] = [
    "Acme",
    "Northwind",
    "Bluebird",
    "Summit",
    "Harbor",
    "Copper",
    "Lumen",
    "Granite",
    "Cedar",
    "Atlas",
    "Beacon",
    "Falcon",
    "Juniper",
    "Meridian",
    "Orchid",
    "Pioneer",
    "Quarry",
    "Riverton",
    "Sterling",
    "Tidewater",
    "Vantage",
    "Willow",
    "Zenith",
    "Keystone",
];

fn company(rng: &mut Rng, kinds: &[&str]) -> String {
    format!("{} {}", rng.pick(&FIRST), rng.pick(kinds))
}

/// `count` accounts of `book`, as of [`AS_OF`], from `seed`.
pub fn generate(book: Book, count: usize, seed: u64) -> Vec<Account> {
    accounts(book, seed).take(count).collect()
}

/// The same accounts as [`generate`], one at a time, without end: for books too
/// large to hold (`generate(b, n, s)` is the first `n`).
pub fn accounts(book: Book, seed: u64) -> impl Iterator<Item = Account> {
    let mut rng = Rng(seed ^ book as u64);
    let (y, m, d) = AS_OF;
    let as_of = Date::from_ymd(y, m, d).expect("AS_OF is a real date");
    (1..).map(move |i| match book {
        Book::Saas => saas_account(&mut rng, i, as_of),
        Book::Logistics => logistics_account(&mut rng, i, as_of),
    })
}

/// Writes the accounts with only what a measures-only rule reads: id, stage, ARR,
/// dates and current measures (about 200 bytes a line), for benchmarks at scale.
pub fn write_measures_jsonl(
    mut out: impl std::io::Write,
    accounts: impl IntoIterator<Item = Account>,
) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        id: &'a str,
        stage: LifecycleStage,
        arr: f64,
        start_date: Date,
        as_of: Date,
        measures: &'a BTreeMap<String, f64>,
    }
    for a in accounts {
        let line = Line {
            id: &a.id,
            stage: a.stage,
            arr: a.arr,
            start_date: a.start_date,
            as_of: a.as_of,
            measures: &a.measures,
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Fields shared by both books: stage, dates, hidden health and its drift.
struct Basics {
    stage: LifecycleStage,
    start: Date,
    renewal: Option<Date>,
    /// Hidden true health, 0-1.
    health: f64,
    /// Yearly change of the measures that follow health, e.g. -0.2 = falling 20%/year.
    drift: f64,
}

fn basics(rng: &mut Rng, as_of: Date) -> Basics {
    let roll = rng.unit();
    let stage = match roll {
        r if r < 0.05 => LifecycleStage::Trial,
        r if r < 0.15 => LifecycleStage::Onboarding,
        r if r < 0.90 => LifecycleStage::Active,
        _ => LifecycleStage::Renewing,
    };
    let tenure = match stage {
        LifecycleStage::Trial => rng.int(3, 28),
        LifecycleStage::Onboarding => rng.int(20, 90),
        _ => rng.int(120, 1_500),
    } as i32;
    let start = as_of.add_days(-tenure);
    let renewal = (stage != LifecycleStage::Trial).then(|| {
        let mut r = start.add_days(365);
        while r <= as_of {
            r = r.add_days(365);
        }
        if stage == LifecycleStage::Renewing {
            r = as_of.add_days(rng.int(5, 60) as i32);
        }
        r
    });
    // Average of two uniforms: most accounts middling, few extreme.
    let health = (rng.unit() + rng.unit()) / 2.0;
    let drift = rng.range(-0.35, 0.35) + (health - 0.5) * 0.3;
    Basics {
        stage,
        start,
        renewal,
        health,
        drift,
    }
}

/// Monthly points over the last year (or since start), following `now` back in time
/// by `drift`.
fn monthly_history(
    rng: &mut Rng,
    b: &Basics,
    as_of: Date,
    now: f64,
    sd: f64,
    places: i32,
    cap: Option<f64>,
) -> Vec<Point> {
    (1..=12)
        .rev()
        .map(|months_ago| (months_ago, as_of.add_days(-30 * months_ago)))
        .filter(|(_, date)| *date >= b.start)
        .map(|(months_ago, date)| {
            let past = now * (1.0 - b.drift * f64::from(months_ago) / 12.0) + rng.noise(sd);
            let past = non_negative(cap.map_or(past, |c| past.min(c)));
            Point {
                date,
                value: round(past, places),
            }
        })
        .collect()
}

fn saas_account(rng: &mut Rng, i: usize, as_of: Date) -> Account {
    let b = basics(rng, as_of);
    let h = b.health;
    let (segment, seats, plan, price) = match rng.unit() {
        r if r < 0.55 => ("smb", rng.int(2, 30), "starter", 240.0),
        r if r < 0.85 => ("mid-market", rng.int(25, 150), "team", 420.0),
        _ => ("enterprise", rng.int(100, 800), "business", 600.0),
    };
    let seats = seats as f64;
    let utilisation = (0.15 + 0.85 * h + rng.noise(0.08)).clamp(0.02, 1.0);
    let active = (seats * utilisation).round().max(1.0);
    let engagement = (0.1 + 0.8 * h + rng.noise(0.1)).clamp(0.0, 1.0);
    let wau = (active * engagement).round();
    let adoption = round((0.05 + 0.75 * h + rng.noise(0.08)).clamp(0.0, 1.0), 2);
    let tickets = non_negative(((1.0 - h) * seats / 10.0 * 2.5 + rng.noise(1.0)).round());

    let mut measures = BTreeMap::from([
        ("seats-purchased".to_owned(), seats),
        ("seats-active".to_owned(), active),
        ("weekly-active-users".to_owned(), wau),
        ("feature-adoption".to_owned(), adoption),
        ("open-tickets".to_owned(), tickets),
    ]);
    if rng.chance(0.8) {
        let nps = non_negative((10.0 * h + 1.5 + rng.noise(1.5)).round()).min(10.0);
        measures.insert("nps".to_owned(), nps);
    }
    let history = BTreeMap::from([(
        "weekly-active-users".to_owned(),
        monthly_history(rng, &b, as_of, wau, wau * 0.05 + 0.5, 0, None),
    )]);

    let mut milestones_reached = BTreeMap::new();
    let tenure = as_of.days_since(b.start);
    if wau >= 5.0 {
        milestones_reached.insert(
            "first-value".to_owned(),
            b.start.add_days((tenure / 6).max(1)),
        );
    }
    if utilisation >= 0.8 && b.stage != LifecycleStage::Trial {
        milestones_reached.insert(
            "team-rollout".to_owned(),
            b.start.add_days((tenure * 2 / 3).max(1)),
        );
    }

    let arr = if b.stage == LifecycleStage::Trial {
        0.0
    } else {
        seats * price
    };
    Account {
        id: format!("saas-{i:04}"),
        name: company(
            rng,
            &[
                "Analytics",
                "Labs",
                "Software",
                "Health",
                "Media",
                "Retail",
                "Bank",
            ],
        ),
        segment: segment.to_owned(),
        plan: plan.to_owned(),
        stage: b.stage,
        arr,
        start_date: b.start,
        renewal_date: b.renewal,
        as_of,
        measures,
        history,
        outcomes: Vec::new(),
        attributes: BTreeMap::from([
            (
                "region".to_owned(),
                rng.pick(&["amer", "emea", "apac"]).to_owned(),
            ),
            (
                "csm".to_owned(),
                rng.pick(&["ana", "ben", "chloe", "dev", "eli"]).to_owned(),
            ),
        ]),
        milestones_reached,
    }
}

fn logistics_account(rng: &mut Rng, i: usize, as_of: Date) -> Account {
    let b = basics(rng, as_of);
    let h = b.health;
    let (segment, committed, sites_max) = match rng.unit() {
        r if r < 0.5 => ("regional", rng.int(30, 600), 2),
        r if r < 0.85 => ("national", rng.int(500, 5_000), 5),
        _ => ("enterprise", rng.int(4_000, 20_000), 9),
    };
    let committed = committed as f64;
    let shipped = non_negative((committed * (0.45 + 0.65 * h + rng.noise(0.08))).round());
    let tenure_months = f64::from(as_of.days_since(b.start)) / 30.0;
    let shipments_total = (shipped * tenure_months.max(0.3)).round();
    let sites = (1.0 + (sites_max as f64 - 1.0) * (h + rng.noise(0.15)).clamp(0.0, 1.0)).round();

    // 20% of customers have not set a target; the tenant's configured default applies.
    let otif_target = rng.chance(0.8).then(|| {
        rng.pick(&["0.9", "0.95", "0.95", "0.97"])
            .parse::<f64>()
            .unwrap_or(0.95)
    });
    let otif_base = otif_target.unwrap_or(0.95);
    let otif = round((otif_base * (0.88 + 0.2 * h) + rng.noise(0.01)).min(1.0), 3);
    let mut outcomes = vec![OutcomeKpi {
        name: "otif".to_owned(),
        value: otif,
        target: otif_target,
        higher_is_better: true,
    }];
    if rng.chance(0.9) {
        outcomes.push(OutcomeKpi {
            name: "difot".to_owned(),
            value: round((0.92 * (0.85 + 0.2 * h) + rng.noise(0.015)).min(1.0), 3),
            target: Some(0.92),
            higher_is_better: true,
        });
    }
    if rng.chance(0.85) {
        outcomes.push(OutcomeKpi {
            name: "claims-rate".to_owned(),
            value: round(
                non_negative(0.004 + (1.0 - h) * 0.025 + rng.noise(0.002)),
                4,
            ),
            target: Some(0.01),
            higher_is_better: false,
        });
    }
    // OTIF history drifts much less than usage: a few points a year.
    let quiet = Basics {
        drift: b.drift * 0.1,
        ..b
    };
    let history = BTreeMap::from([(
        "otif".to_owned(),
        monthly_history(rng, &quiet, as_of, otif, 0.01, 3, Some(1.0)),
    )]);
    let measures = BTreeMap::from([
        ("shipments-30d".to_owned(), shipped),
        ("committed-shipments-30d".to_owned(), committed),
        ("shipments-total".to_owned(), shipments_total),
        ("sites-live".to_owned(), sites),
    ]);
    let mut milestones_reached = BTreeMap::new();
    if shipments_total >= 500.0 {
        let days = as_of.days_since(b.start);
        milestones_reached.insert("connected".to_owned(), b.start.add_days((days / 5).max(1)));
    }
    Account {
        id: format!("log-{i:04}"),
        name: company(
            rng,
            &[
                "Freight",
                "Logistics",
                "Foods",
                "Pharma",
                "Retail",
                "Parts",
                "Wholesale",
            ],
        ),
        segment: segment.to_owned(),
        plan: if segment == "enterprise" {
            "control"
        } else {
            "connect"
        }
        .to_owned(),
        stage: b.stage,
        arr: if b.stage == LifecycleStage::Trial {
            0.0
        } else {
            round(committed * 12.0 * 2.5, 0)
        },
        start_date: b.start,
        renewal_date: b.renewal,
        as_of,
        measures,
        history,
        outcomes,
        attributes: BTreeMap::from([(
            "mode".to_owned(),
            rng.pick(&["road", "road", "ocean", "air"]).to_owned(),
        )]),
        milestones_reached,
    }
}

/// The revenue ledger behind a book: a year of changes for its accounts, plus the
/// former customers who churned during that year (they are no longer in the book).
/// Accounts that grew show an expansion, shrinking ones a contraction; some recent
/// customers converted from a trial; every paid row carries its contract end.
pub fn ledger(book: Book, accounts: &[Account], seed: u64) -> Vec<LedgerRow> {
    let mut rng = Rng(seed ^ 0x1ED6E5 ^ book as u64);
    let Some(as_of) = accounts.first().map(|a| a.as_of) else {
        return Vec::new();
    };
    let window_start = as_of.add_days(-365);
    let row = |a: &Account, date: Date, arr: f64, stage: RevenueStage| LedgerRow {
        account_id: a.id.clone(),
        date,
        arr,
        stage,
        segment: Some(a.segment.clone()),
        term_end: (stage == RevenueStage::Paid && arr > 0.0)
            .then(|| next_anniversary(a.start_date, date)),
    };
    let mut rows = Vec::new();
    for a in accounts {
        if a.stage == LifecycleStage::Trial {
            rows.push(row(a, a.start_date, 0.0, RevenueStage::Trial));
            continue;
        }
        if as_of.days_since(a.start_date) < 365 && rng.chance(0.4) {
            rows.push(row(a, a.start_date.add_days(-14), 0.0, RevenueStage::Trial));
        }
        // Where it was a year ago (or at its start): growth shows as expansion.
        // Accounts whose usage grew tend to have bought more, with much noise.
        let change = (0.6 * momentum(book, a) + rng.range(-0.25, 0.35)).clamp(-0.3, 0.5);
        let earlier = if change.abs() < 0.1 {
            a.arr
        } else {
            (a.arr / (1.0 + change) / 10.0).round() * 10.0
        };
        rows.push(row(a, a.start_date, earlier, RevenueStage::Paid));
        if earlier != a.arr {
            let from = a.start_date.max(window_start).add_days(1);
            let random_day =
                from.add_days(rng.int(0, i64::from(as_of.days_since(from) - 1).max(0)) as i32);
            // An expansion mostly follows a milestone reached in the year (the upsell
            // it unlocks), two to eight weeks later.
            let after_milestone = a
                .milestones_reached
                .values()
                .filter(|d| **d >= from)
                .max()
                .map(|d| d.add_days(rng.int(14, 56) as i32))
                .filter(|d| *d < as_of && earlier < a.arr);
            rows.push(row(
                a,
                after_milestone.unwrap_or(random_day),
                a.arr,
                RevenueStage::Paid,
            ));
        }
    }
    for f in former_customers(book, accounts, seed) {
        rows.push(row(
            &f.account,
            f.account.start_date,
            f.arr,
            RevenueStage::Paid,
        ));
        rows.push(LedgerRow {
            term_end: None,
            ..row(&f.account, f.left, 0.0, RevenueStage::Paid)
        });
    }
    let prefix = former_prefix(book);
    // Trials that expired without converting.
    for i in 1..=accounts.len() / 20 {
        let start = as_of.add_days(-(rng.int(20, 360) as i32));
        let id = format!("{prefix}-trial-{i:03}");
        let segment = accounts[rng.int(0, accounts.len() as i64 - 1) as usize]
            .segment
            .clone();
        for date in [start, start.add_days(14)] {
            rows.push(LedgerRow {
                account_id: id.clone(),
                date,
                arr: 0.0,
                stage: RevenueStage::Trial,
                segment: Some(segment.clone()),
                term_end: None,
            });
        }
    }
    rows.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    rows
}

fn former_prefix(book: Book) -> &'static str {
    match book {
        Book::Saas => "saas-former",
        Book::Logistics => "log-former",
    }
}

/// The series that carries an account's health over time in each book.
fn main_series(book: Book) -> &'static str {
    match book {
        Book::Saas => "weekly-active-users",
        Book::Logistics => "otif",
    }
}

/// How an account's main series moved over its history: last / first - 1.
fn momentum(book: Book, a: &Account) -> f64 {
    let points = a
        .history
        .get(main_series(book))
        .map_or(&[][..], Vec::as_slice);
    match (points.first(), points.last()) {
        (Some(first), Some(last)) if first.value > 0.0 => {
            let change = last.value / first.value - 1.0;
            // OTIF moves a few points a year where usage moves tens of percent.
            if book == Book::Logistics {
                change * 10.0
            } else {
                change
            }
        }
        _ => 0.0,
    }
}

/// How well an account is doing today, 0-1 (seat use, or OTIF against target).
fn vitality(book: Book, a: &Account) -> f64 {
    match book {
        Book::Saas => {
            let seats = a.measures.get("seats-purchased").copied().unwrap_or(0.0);
            let active = a.measures.get("seats-active").copied().unwrap_or(0.0);
            if seats > 0.0 { active / seats } else { 0.0 }
        }
        Book::Logistics => a
            .outcomes
            .iter()
            .find(|o| o.name == "otif")
            .map_or(0.0, |o| o.value / o.target.unwrap_or(0.95)),
    }
}

/// A customer who left during the year: what it looked like on the day it left.
struct Former {
    account: Account,
    arr: f64,
    left: Date,
}

/// The former customers behind a book: one per ten accounts. Each looks like the
/// weakest of three accounts of the book (so weak health precedes churn, with
/// noise), on the day it left.
fn former_customers(book: Book, accounts: &[Account], seed: u64) -> Vec<Former> {
    let mut rng = Rng(seed ^ 0xF0_43E4 ^ book as u64);
    let Some(as_of) = accounts.first().map(|a| a.as_of) else {
        return Vec::new();
    };
    let window_start = as_of.add_days(-365);
    let paying: Vec<&Account> = accounts.iter().filter(|a| a.arr > 0.0).collect();
    (1..=accounts.len() / 10)
        .map(|i| {
            let template = (0..3)
                .map(|_| paying[rng.int(0, paying.len() as i64 - 1) as usize])
                .min_by(|a, b| vitality(book, a).total_cmp(&vitality(book, b)))
                .expect("three picks");
            let tenure = rng.int(60, 1_400) as i32;
            let start = as_of.add_days(-tenure);
            let left = if tenure > 400 {
                // Did not renew: left at a contract end within the year.
                let mut left =
                    next_anniversary(start, window_start.add_days(rng.int(0, 330) as i32));
                while left > as_of {
                    left = left.add_days(-365);
                }
                left
            } else {
                // Left early in its first contract (cancelled, or did not pay).
                start.add_days(rng.int(30, i64::from(tenure) - 1) as i32)
            };
            // The template's data describe it on `as_of`; move them to `left`.
            let shift = left.days_since(as_of);
            let mut account = Account {
                id: format!("{}-{i:03}", former_prefix(book)),
                start_date: start,
                as_of: left,
                stage: LifecycleStage::Active,
                renewal_date: Some(next_anniversary(start, left)),
                ..template.clone()
            };
            for p in account.history.values_mut().flatten() {
                p.date = p.date.add_days(shift);
            }
            for points in account.history.values_mut() {
                points.retain(|p| p.date >= start);
            }
            account.milestones_reached.retain(|_, d| {
                *d = d.add_days(shift);
                *d >= start
            });
            Former {
                arr: (template.arr.max(1_000.0) / 10.0).round() * 10.0,
                account,
                left,
            }
        })
        .collect()
}

/// The as-of days of the demo history: the first of each of the twelve months up
/// to [`AS_OF`].
pub fn history_days() -> Vec<Date> {
    let (y, m, _) = AS_OF;
    (0..12)
        .rev()
        .map(|back| {
            let index = y * 12 + (m as i32 - 1) - back;
            Date::from_ymd(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1)
                .expect("first of a month")
        })
        .collect()
}

/// Twelve months of the book, as each month's scoring run would have seen it: on
/// each of [`history_days`], every account paying that day (current customers,
/// and former ones until they left), its measures rewound along its own history;
/// the last day is `accounts` itself. Consistent with [`ledger`] (ARR, start,
/// churn) and ordered by day, then id: score it in one run to fill a history store.
pub fn monthly_books(book: Book, accounts: &[Account], seed: u64) -> Vec<Account> {
    let ledger = headway_core::retention::Ledger::new(ledger(book, accounts, seed));
    let formers = former_customers(book, accounts, seed);
    let mut rng = Rng(seed ^ 0x415_7041 ^ book as u64);
    let days = history_days();
    let mut out = Vec::new();
    for &day in &days[..days.len() - 1] {
        let mut month: Vec<Account> = Vec::new();
        for a in accounts {
            let arr = ledger.arr_on(&a.id, day);
            if arr > 0.0 && a.start_date <= day {
                month.push(rewind(book, a, day, arr, 1.0, &mut rng));
            }
        }
        for f in &formers {
            let arr = ledger.arr_on(&f.account.id, day);
            if arr > 0.0 && day < f.left {
                // Churners were healthier before they slid: 4% per month back.
                let months_before = f64::from(f.left.days_since(day)) / 30.0;
                let lift = 1.0 + 0.04 * months_before;
                month.push(rewind(book, &f.account, day, arr, lift, &mut rng));
            }
        }
        month.sort_by(|a, b| a.id.cmp(&b.id));
        out.extend(month);
    }
    out.extend(accounts.iter().cloned());
    out
}

/// `a` as it looked on `day` (before `a.as_of`), paying `arr`: the main series
/// read at `day`, the measures that follow health scaled with it (times `lift`),
/// later history and milestones dropped.
fn rewind(book: Book, a: &Account, day: Date, arr: f64, lift: f64, rng: &mut Rng) -> Account {
    let series = main_series(book);
    let points = a.history.get(series).map_or(&[][..], Vec::as_slice);
    let now = points.last().map(|p| p.value);
    let then = points
        .iter()
        .rfind(|p| p.date <= day)
        .or(points.first())
        .map(|p| p.value);
    let ratio = match (then, now) {
        (Some(then), Some(now)) if now > 0.0 => then / now,
        _ => 1.0,
    } * lift
        * (1.0 + rng.noise(0.03));
    let ratio = ratio.clamp(0.2, 3.0);
    let mut b = a.clone();
    b.as_of = day;
    b.arr = arr;
    let tenure = day.days_since(a.start_date);
    b.renewal_date = Some(next_anniversary(a.start_date, day));
    b.stage = if tenure < 90 {
        LifecycleStage::Onboarding
    } else if b.renewal_date.is_some_and(|r| r.days_since(day) <= 45) {
        LifecycleStage::Renewing
    } else {
        LifecycleStage::Active
    };
    for points in b.history.values_mut() {
        points.retain(|p| p.date <= day);
    }
    b.milestones_reached.retain(|_, d| *d <= day);
    let m = &mut b.measures;
    let scale = |m: &mut BTreeMap<String, f64>, key: &str, f: &dyn Fn(f64) -> f64| {
        if let Some(v) = m.get_mut(key) {
            *v = non_negative(f(*v));
        }
    };
    match book {
        Book::Saas => {
            let seats = m.get("seats-purchased").copied().unwrap_or(0.0);
            scale(m, "seats-active", &|v| {
                (v * ratio).round().min(seats).max(1.0)
            });
            let active = m.get("seats-active").copied().unwrap_or(0.0);
            scale(m, "weekly-active-users", &|v| {
                (v * ratio).round().min(active)
            });
            scale(m, "feature-adoption", &|v| {
                round((v * ratio.sqrt()).min(1.0), 2)
            });
            scale(m, "open-tickets", &|v| (v / ratio).round());
        }
        Book::Logistics => {
            let otif_lift = 1.0 + (ratio - 1.0) * 0.3;
            for o in &mut b.outcomes {
                o.value = match o.name.as_str() {
                    "otif" => round((then.unwrap_or(o.value) * lift.powf(0.3)).min(1.0), 3),
                    "claims-rate" => round(o.value / otif_lift, 4),
                    _ => round((o.value * otif_lift).min(1.0), 3),
                };
            }
            let months = f64::from(tenure.max(9)) / 30.0;
            scale(m, "shipments-30d", &|v| (v * ratio).round());
            let shipped = m.get("shipments-30d").copied().unwrap_or(0.0);
            scale(m, "shipments-total", &|_| (shipped * months).round());
        }
    }
    b
}

/// The first anniversary of `start` after `date`.
fn next_anniversary(start: Date, date: Date) -> Date {
    let mut t = start.add_days(365);
    while t <= date {
        t = t.add_days(365);
    }
    t
}

/// Survey answers for a book over its last quarter: each account's NPS answer where
/// it has one, and a CSAT answer (1-5) that follows its health signals.
pub fn surveys(accounts: &[Account], seed: u64) -> Vec<SurveyResponse> {
    let mut rng = Rng(seed ^ 0x5EED5);
    let mut out = Vec::new();
    for a in accounts {
        let date = a.as_of.add_days(-(rng.int(1, 90) as i32));
        if let Some(nps) = a.measures.get("nps") {
            out.push(SurveyResponse {
                account_id: a.id.clone(),
                date,
                kind: SurveyKind::Nps,
                score: *nps,
            });
        }
        let signal = satisfaction(a);
        let csat = (2.5 + 3.0 * signal + rng.noise(0.8))
            .round()
            .clamp(1.0, 5.0);
        out.push(SurveyResponse {
            account_id: a.id.clone(),
            date,
            kind: SurveyKind::Csat,
            score: csat,
        });
    }
    out.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    out
}

/// How much an account gets out of the product, about 0-1: its feature
/// adoption (SaaS) or how far its OTIF clears 80% (logistics). Surveys and
/// advocacy follow it.
fn satisfaction(a: &Account) -> f64 {
    a.measures
        .get("feature-adoption")
        .copied()
        .or_else(|| {
            a.outcomes
                .iter()
                .find(|o| o.name == "otif")
                .map(|o| (o.value - 0.8) * 5.0)
        })
        .unwrap_or(0.5)
}

/// A year of advocacy behind a book: the accounts that get most out of the
/// product review it, take reference calls and join case studies; about a third
/// of the year's new logos came by a referral from a paying account, named.
pub fn advocacy(book: Book, accounts: &[Account], seed: u64) -> Vec<AdvocacyEvent> {
    let mut rng = Rng(seed ^ 0xAD_70CA7E);
    let Some(as_of) = accounts.first().map(|a| a.as_of) else {
        return Vec::new();
    };
    let ledger = ledger(book, accounts, seed);
    let mut first_paid: BTreeMap<&str, Date> = BTreeMap::new();
    for r in ledger
        .iter()
        .filter(|r| r.stage == RevenueStage::Paid && r.arr > 0.0)
    {
        first_paid.entry(r.account_id.as_str()).or_insert(r.date);
    }
    let window_start = as_of.add_days(-365);
    let event = |a: &Account, date: Date, kind, referred: Option<String>| AdvocacyEvent {
        account_id: a.id.clone(),
        date,
        kind,
        referred,
    };
    let mut out = Vec::new();
    let mut advocates = Vec::new();
    for a in accounts {
        let signal = satisfaction(a);
        if signal < 0.55 {
            continue;
        }
        advocates.push(a);
        for (kind, p) in [
            (AdvocacyKind::Review, 0.25),
            (AdvocacyKind::ReferenceCall, 0.12),
            (AdvocacyKind::CaseStudy, 0.04),
        ] {
            if rng.chance(p) {
                out.push(event(
                    a,
                    as_of.add_days(-(rng.int(1, 364) as i32)),
                    kind,
                    None,
                ));
            }
        }
    }
    for (id, day) in &first_paid {
        if *day < window_start || !rng.chance(0.35) {
            continue;
        }
        let referred_on = day.add_days(-(rng.int(10, 60) as i32));
        let paying: Vec<&&Account> = advocates
            .iter()
            .filter(|a| {
                a.id != *id
                    && first_paid
                        .get(a.id.as_str())
                        .is_some_and(|d| *d < referred_on)
            })
            .collect();
        if !paying.is_empty() {
            let by = paying[rng.int(0, paying.len() as i64 - 1) as usize];
            out.push(event(
                by,
                referred_on,
                AdvocacyKind::Referral,
                Some((*id).to_owned()),
            ));
        }
    }
    out.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    out
}

/// Advocacy events as CSV (`account_id,date,kind,referred`).
pub fn advocacy_csv(rows: &[AdvocacyEvent]) -> String {
    let mut out = String::from("account_id,date,kind,referred\n");
    for r in rows {
        let referred = r.referred.as_deref().unwrap_or("");
        out.push_str(&format!(
            "{},{},{},{referred}\n",
            r.account_id,
            r.date,
            r.kind.as_str()
        ));
    }
    out
}

/// The ledger as CSV (`account_id,date,arr,stage,segment,term_end`).
pub fn ledger_csv(rows: &[LedgerRow]) -> String {
    let mut out = String::from("account_id,date,arr,stage,segment,term_end\n");
    for r in rows {
        let stage = match r.stage {
            RevenueStage::Trial => "trial",
            RevenueStage::Paid => "paid",
        };
        let term_end = r.term_end.map(|d| d.to_string()).unwrap_or_default();
        let segment = r.segment.as_deref().unwrap_or("");
        out.push_str(&format!(
            "{},{},{},{stage},{segment},{term_end}\n",
            r.account_id, r.date, r.arr
        ));
    }
    out
}

/// Survey answers as CSV (`account_id,date,kind,score`).
pub fn surveys_csv(rows: &[SurveyResponse]) -> String {
    let mut out = String::from("account_id,date,kind,score\n");
    for r in rows {
        let kind = match r.kind {
            SurveyKind::Nps => "nps",
            SurveyKind::Csat => "csat",
            SurveyKind::Ces => "ces",
        };
        out.push_str(&format!("{},{},{kind},{}\n", r.account_id, r.date, r.score));
    }
    out
}

/// Accounts as JSON Lines, one per line, each ending in a newline.
pub fn to_jsonl(accounts: &[Account]) -> String {
    let mut out = Vec::new();
    write_jsonl(&mut out, accounts).expect("writing to memory");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Writes accounts as JSON Lines.
pub fn write_jsonl<'a>(
    mut out: impl std::io::Write,
    accounts: impl IntoIterator<Item = &'a Account>,
) -> std::io::Result<()> {
    for a in accounts {
        serde_json::to_writer(&mut out, a)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use headway_core::{InputDefaults, parse_jsonl};

    #[test]
    fn ledger_is_consistent_with_the_book() {
        use headway_core::retention::{
            Ledger, PeriodKind, RetentionQuery, parse_ledger, retention,
        };
        let accounts = generate(Book::Saas, 500, DEFAULT_SEED);
        let rows = ledger(Book::Saas, &accounts, DEFAULT_SEED);
        assert_eq!(
            parse_ledger("gen", &ledger_csv(&rows), true, false).unwrap(),
            rows,
            "CSV round trip"
        );
        // At the as-of date, every paying account pays exactly its ARR in the book.
        let as_of = accounts[0].as_of;
        for a in accounts.iter().filter(|a| a.stage != LifecycleStage::Trial) {
            let last = rows
                .iter()
                .rfind(|r| r.account_id == a.id && r.date <= as_of)
                .unwrap();
            assert_eq!(last.arr, a.arr, "{}", a.id);
        }
        let q = RetentionQuery {
            period: PeriodKind::Year,
            from: Some(as_of.add_days(-364)),
            to: Some(as_of),
            by_segment: false,
        };
        let year = &retention(
            &Ledger::new(rows),
            &surveys(&accounts, DEFAULT_SEED),
            &[],
            &q,
        );
        assert!(
            year.iter()
                .any(|m| m.churned_logos > 0 && m.expansion_arr > 0.0 && m.contraction_arr > 0.0)
        );
    }

    #[test]
    fn monthly_books_agree_with_the_ledger() {
        use headway_core::retention::Ledger;
        for book in [Book::Saas, Book::Logistics] {
            let accounts = generate(book, 200, DEFAULT_SEED);
            let months = monthly_books(book, &accounts, DEFAULT_SEED);
            let ledger = Ledger::new(ledger(book, &accounts, DEFAULT_SEED));
            let days = history_days();
            assert_eq!(days.len(), 12);
            assert_eq!(
                (days[0].to_string(), days[11].to_string()),
                ("2025-12-01".into(), "2026-11-01".into())
            );
            // The last month is the book itself.
            assert_eq!(&months[months.len() - accounts.len()..], &accounts[..]);
            let mut formers = 0;
            for a in &months[..months.len() - accounts.len()] {
                assert!(days.contains(&a.as_of), "{} {}", a.id, a.as_of);
                assert_eq!(
                    a.arr,
                    ledger.arr_on(&a.id, a.as_of),
                    "{} pays its ledger ARR",
                    a.id
                );
                assert!(a.arr > 0.0 && a.start_date <= a.as_of);
                assert!(
                    a.history.values().flatten().all(|p| p.date <= a.as_of),
                    "{}",
                    a.id
                );
                assert!(
                    a.milestones_reached.values().all(|d| *d <= a.as_of),
                    "{}",
                    a.id
                );
                formers += usize::from(a.id.contains("former"));
            }
            assert!(
                formers > 50,
                "former customers appear before they left: {formers}"
            );
            // Each former customer churns in the ledger after its last snapshot.
            let last_seen = months
                .iter()
                .filter(|a| a.id.contains("former"))
                .map(|a| (&a.id, a.as_of))
                .max_by_key(|(_, d)| *d)
                .unwrap();
            assert_eq!(ledger.arr_on(last_seen.0, last_seen.1.add_days(40)), 0.0);
        }
    }

    #[test]
    fn same_seed_same_book_different_seed_different_book() {
        let a = to_jsonl(&generate(Book::Saas, 50, 7));
        assert_eq!(a, to_jsonl(&generate(Book::Saas, 50, 7)));
        assert_ne!(a, to_jsonl(&generate(Book::Saas, 50, 8)));
    }

    #[test]
    fn no_negative_zero_whatever_the_optimisation_level() {
        // f64::max/clamp may keep -0.0, and debug and release builds differ on it:
        // the checked-in files would then depend on how the generator was built.
        for book in [Book::Saas, Book::Logistics] {
            assert!(!to_jsonl(&generate(book, 1_000, DEFAULT_SEED)).contains(":-0.0"));
        }
    }

    #[test]
    fn generated_books_parse_back_unchanged() {
        for book in [Book::Saas, Book::Logistics] {
            let mut accounts = generate(book, 200, DEFAULT_SEED);
            let parsed = parse_jsonl("gen", &to_jsonl(&accounts), &InputDefaults::default());
            assert!(parsed.errors.is_empty(), "{:?}", parsed.errors.first());
            // An empty history reads back as no history: a rule sees no points either way.
            for a in &mut accounts {
                a.history.retain(|_, points| !points.is_empty());
            }
            assert_eq!(parsed.accounts, accounts);
        }
    }

    #[test]
    fn books_have_varied_stages_and_history() {
        let accounts = generate(Book::Saas, 1_000, DEFAULT_SEED);
        for stage in [
            LifecycleStage::Trial,
            LifecycleStage::Onboarding,
            LifecycleStage::Active,
            LifecycleStage::Renewing,
        ] {
            let n = accounts.iter().filter(|a| a.stage == stage).count();
            assert!(n >= 20, "{stage:?}: {n}");
        }
        let with_year = accounts
            .iter()
            .filter(|a| a.history["weekly-active-users"].len() == 12)
            .count();
        assert!(with_year > 500, "{with_year}");
    }
}
