//! The book of accounts as a CS lead scans it: the latest of every account with
//! its vector, filtered, sorted, one page at a time.

use std::cmp::Ordering;

use headway_core::Date;
use headway_core::success::{Snapshot, SuccessVector};
use headway_core::vector::Direction;
use serde::Serialize;

/// One account in the book.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRow {
    /// The account.
    pub account_id: String,
    /// Its latest snapshot's day.
    pub as_of: Date,
    /// Health score then.
    pub score: f64,
    /// Band then.
    pub band: String,
    /// ARR then.
    pub arr: f64,
    /// Segment (empty: none).
    pub segment: String,
    /// Next renewal, if known.
    pub renewal_date: Option<Date>,
    /// Points per 30 days over the window.
    pub velocity: Option<f64>,
    /// Improving, steady or declining.
    pub direction: Option<Direction>,
    /// The first milestone not reached.
    pub next_milestone: Option<String>,
    /// When that milestone is expected.
    pub next_milestone_on: Option<Date>,
}

impl AccountRow {
    /// The row of an account's latest snapshot and its vector.
    pub fn new(latest: &Snapshot, vector: &SuccessVector) -> Self {
        let next_on = vector.next_milestone.as_ref().and_then(|id| {
            vector
                .milestones
                .iter()
                .find(|m| &m.id == id)
                .and_then(|m| m.expected_on)
        });
        Self {
            account_id: latest.account_id.clone(),
            as_of: latest.as_of,
            score: latest.score,
            band: latest.band.clone(),
            arr: latest.arr,
            segment: latest.segment.clone(),
            renewal_date: latest.renewal_date,
            velocity: vector.velocity,
            direction: vector.direction,
            next_milestone: vector.next_milestone.clone(),
            next_milestone_on: next_on,
        }
    }
}

/// What to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Health score.
    #[default]
    Score,
    /// Velocity (unknown last).
    Velocity,
    /// ARR.
    Arr,
    /// Renewal day (unknown last).
    Renewal,
    /// Account id.
    Id,
}

impl SortKey {
    /// `score`, `velocity`, `arr`, `renewal` or `id`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "score" => Self::Score,
            "velocity" => Self::Velocity,
            "arr" => Self::Arr,
            "renewal" => Self::Renewal,
            "id" => Self::Id,
            _ => return None,
        })
    }

    /// The row's key: unknown values sort after every known one either way.
    fn of(self, row: &AccountRow) -> Option<f64> {
        match self {
            Self::Score => Some(row.score),
            Self::Velocity => row.velocity,
            Self::Arr => Some(row.arr),
            Self::Renewal => row.renewal_date.map(|d| f64::from(d.days())),
            Self::Id => Some(0.0),
        }
    }
}

/// Which accounts, in what order, which page.
#[derive(Debug, Clone, Default)]
pub struct BookQuery {
    /// Only accounts whose id contains this, ignoring case.
    pub search: Option<String>,
    /// Only this band.
    pub band: Option<String>,
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only this segment.
    pub segment: Option<String>,
    /// Only accounts renewing within this many days of their latest snapshot.
    pub renewal_within_days: Option<i32>,
    /// Sort key; ties by account id.
    pub sort: SortKey,
    /// Highest first.
    pub descending: bool,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Rows per page (at least 1).
    pub limit: usize,
}

/// One page of the book.
#[derive(Debug, Clone, Serialize)]
pub struct BookPage {
    /// Accounts that match the filters, on every page.
    pub matching: usize,
    /// This page's rows.
    pub accounts: Vec<AccountRow>,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<String>,
}

/// Filters, sorts and pages `rows`. A cursor names the last row of the page
/// before (its key and id), so a page never repeats or skips a row that stays
/// in the book, whatever was recorded in between.
pub fn book(rows: Vec<AccountRow>, q: &BookQuery) -> BookPage {
    let mut rows: Vec<AccountRow> = rows.into_iter().filter(|r| matches(r, q)).collect();
    let order = |a: &AccountRow, b: &AccountRow| {
        compare(
            q,
            (q.sort.of(a), &a.account_id),
            (q.sort.of(b), &b.account_id),
        )
    };
    rows.sort_by(order);
    let matching = rows.len();
    let start = match q.after.as_deref().and_then(Cursor::parse) {
        Some(c) => rows.partition_point(|r| {
            compare(q, (q.sort.of(r), &r.account_id), (c.key, &c.id)) != Ordering::Greater
        }),
        None => 0,
    };
    let limit = q.limit.max(1);
    let accounts: Vec<AccountRow> = rows
        .into_iter()
        .skip(start)
        .take(limit.saturating_add(1))
        .collect();
    let (accounts, next) = if accounts.len() > limit {
        let mut accounts = accounts;
        accounts.truncate(limit);
        let last = accounts.last().expect("limit is at least 1");
        let cursor = Cursor {
            key: q.sort.of(last),
            id: last.account_id.clone(),
        };
        (accounts, Some(cursor.to_string()))
    } else {
        (accounts, None)
    };
    BookPage {
        matching,
        accounts,
        next,
    }
}

fn matches(r: &AccountRow, q: &BookQuery) -> bool {
    q.search.as_ref().is_none_or(|text| {
        r.account_id
            .to_lowercase()
            .contains(&text.trim().to_lowercase())
    }) && q.band.as_ref().is_none_or(|b| &r.band == b)
        && q.direction.is_none_or(|d| r.direction == Some(d))
        && q.segment.as_ref().is_none_or(|s| &r.segment == s)
        && q.renewal_within_days.is_none_or(|days| {
            r.renewal_date
                .is_some_and(|d| d >= r.as_of && d <= r.as_of.add_days(days))
        })
}

/// Known keys in the asked order, unknown last, then ids ascending.
fn compare(q: &BookQuery, a: (Option<f64>, &str), b: (Option<f64>, &str)) -> Ordering {
    let keys = match (a.0, b.0) {
        (Some(x), Some(y)) if q.descending => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    keys.then_with(|| a.1.cmp(b.1))
}

/// Where a page ends: the last row's key and id, as `k<bits>.<id>` or `u.<id>`.
struct Cursor {
    key: Option<f64>,
    id: String,
}

impl Cursor {
    fn parse(text: &str) -> Option<Self> {
        let (key, id) = text.split_once('.')?;
        let key = match key {
            "u" => None,
            k => Some(f64::from_bits(
                u64::from_str_radix(k.strip_prefix('k')?, 16).ok()?,
            )),
        };
        Some(Self {
            key,
            id: id.to_owned(),
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.key {
            Some(k) => write!(f, "k{:x}.{}", k.to_bits(), self.id),
            None => write!(f, "u.{}", self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, score: f64, velocity: Option<f64>, band: &str) -> AccountRow {
        AccountRow {
            account_id: id.into(),
            as_of: "2026-11-01".parse().unwrap(),
            score,
            band: band.into(),
            arr: 1000.0,
            segment: if score > 50.0 {
                "ent".into()
            } else {
                String::new()
            },
            renewal_date: (score < 40.0).then(|| "2026-12-15".parse().unwrap()),
            velocity,
            direction: velocity.map(|v| {
                if v < -2.0 {
                    Direction::Declining
                } else {
                    Direction::Steady
                }
            }),
            next_milestone: None,
            next_milestone_on: None,
        }
    }

    fn rows() -> Vec<AccountRow> {
        vec![
            row("a", 80.0, Some(1.0), "green"),
            row("b", 35.0, Some(-6.0), "red"),
            row("c", 55.0, None, "yellow"),
            row("d", 35.0, Some(-1.0), "red"),
            row("e", 90.0, Some(-3.0), "green"),
        ]
    }

    fn ids(page: &BookPage) -> Vec<&str> {
        page.accounts
            .iter()
            .map(|r| r.account_id.as_str())
            .collect()
    }

    #[test]
    fn pages_follow_the_sort_with_ties_by_id_and_unknowns_last() {
        let mut q = BookQuery {
            limit: 2,
            ..BookQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = book(rows(), &q);
            assert_eq!(page.matching, 5);
            seen.extend(ids(&page).iter().map(|s| s.to_string()));
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["b", "d", "c", "a", "e"]);

        let q = BookQuery {
            sort: SortKey::Velocity,
            descending: true,
            limit: 10,
            ..BookQuery::default()
        };
        assert_eq!(ids(&book(rows(), &q)), ["a", "d", "e", "b", "c"]);
    }

    #[test]
    fn a_cursor_survives_rows_coming_and_going() {
        let q = BookQuery {
            limit: 2,
            ..BookQuery::default()
        };
        let first = book(rows(), &q);
        assert_eq!(ids(&first), ["b", "d"]);
        // "d" leaves the book and "bb" (score 36) arrives before the next page.
        let mut later: Vec<AccountRow> =
            rows().into_iter().filter(|r| r.account_id != "d").collect();
        later.push(row("bb", 36.0, None, "red"));
        let q = BookQuery {
            after: first.next,
            ..q
        };
        assert_eq!(ids(&book(later, &q)), ["bb", "c"]);
    }

    #[test]
    fn filters_combine() {
        let q = BookQuery {
            band: Some("red".into()),
            direction: Some(Direction::Declining),
            limit: 10,
            ..BookQuery::default()
        };
        assert_eq!(ids(&book(rows(), &q)), ["b"]);
        let q = BookQuery {
            renewal_within_days: Some(30),
            limit: 10,
            ..BookQuery::default()
        };
        assert_eq!(ids(&book(rows(), &q)), [] as [&str; 0]);
        let q = BookQuery {
            renewal_within_days: Some(60),
            limit: 10,
            ..BookQuery::default()
        };
        assert_eq!(ids(&book(rows(), &q)), ["b", "d"]);
        let q = BookQuery {
            segment: Some("ent".into()),
            limit: 10,
            ..BookQuery::default()
        };
        assert_eq!(ids(&book(rows(), &q)), ["c", "a", "e"]);
        assert_eq!(book(Vec::new(), &q).matching, 0);
        let q = BookQuery {
            search: Some(" B".into()),
            limit: 10,
            ..BookQuery::default()
        };
        assert_eq!(ids(&book(rows(), &q)), ["b"]);
        // An export asks for everything.
        let q = BookQuery {
            limit: usize::MAX,
            ..BookQuery::default()
        };
        let all = book(rows(), &q);
        assert_eq!((all.accounts.len(), all.next), (5, None));
    }
}
