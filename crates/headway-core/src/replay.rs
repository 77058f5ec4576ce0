//! What a replay compares: the same input scored by two builds (what the
//! rules changed), and "what moved" between two logged scorings, split into
//! the part the customer caused and the part a change of rules caused.
//!
//! With inputs I1 (earlier) and I2 (later) and builds B1 (served I1) and B2
//! (served I2), an account's change B2(I2) - B1(I1) is exactly
//!
//! ```text
//!   rules    = B2(I1) - B1(I1)   the new rules on the old customer
//!   customer = B2(I2) - B2(I1)   the customer's change, under the new rules
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

/// One account's result in a scoring: its score and band, or none (failed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The account.
    pub account_id: String,
    /// The score, when it was scored.
    pub score: Option<f64>,
    /// The band, when it was scored.
    pub band: Option<String>,
}

/// An account whose result differs between two scorings of one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The account.
    pub account_id: String,
    /// Its score in the first scoring.
    pub score_before: Option<f64>,
    /// Its score in the second.
    pub score_after: Option<f64>,
    /// Its band in the first.
    pub band_before: Option<String>,
    /// Its band in the second.
    pub band_after: Option<String>,
}

impl Change {
    /// After minus before, when both scored.
    pub fn delta(&self) -> Option<f64> {
        Some(self.score_after? - self.score_before?)
    }
}

/// The last result per account (an input may hold several days of one).
fn by_account(outcomes: &[Outcome]) -> BTreeMap<&str, &Outcome> {
    outcomes
        .iter()
        .map(|o| (o.account_id.as_str(), o))
        .collect()
}

/// Accounts whose score or band differ between `before` and `after`, by id;
/// an account in only one of them is a change too.
pub fn changes(before: &[Outcome], after: &[Outcome]) -> Vec<Change> {
    let (before, after) = (by_account(before), by_account(after));
    let mut ids: Vec<&str> = before.keys().chain(after.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| {
            let (b, a) = (before.get(id), after.get(id));
            let same = b.map(|o| (o.score, &o.band)) == a.map(|o| (o.score, &o.band));
            (!same).then(|| Change {
                account_id: id.to_owned(),
                score_before: b.and_then(|o| o.score),
                score_after: a.and_then(|o| o.score),
                band_before: b.and_then(|o| o.band.clone()),
                band_after: a.and_then(|o| o.band.clone()),
            })
        })
        .collect()
}

/// One account's move between two logged scorings, split by cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    /// The account.
    pub account_id: String,
    /// B1(I1): its score then.
    pub then: Option<f64>,
    /// B2(I2): its score now.
    pub now: Option<f64>,
    /// B2(I1) - B1(I1): what the change of rules moved.
    pub rules: Option<f64>,
    /// B2(I2) - B2(I1): what the customer moved.
    pub customer: Option<f64>,
}

impl Moved {
    /// now - then, when both scored.
    pub fn total(&self) -> Option<f64> {
        Some(self.now? - self.then?)
    }
}

/// Every account in the later input, with how its score moved since the
/// earlier one: `old` is B1(I1), `new_on_old` B2(I1), `new` B2(I2). A part is
/// `None` where a scoring it needs has no score (the account is new, or
/// failed there).
pub fn what_moved(old: &[Outcome], new_on_old: &[Outcome], new: &[Outcome]) -> Vec<Moved> {
    let (old, new_on_old) = (by_account(old), by_account(new_on_old));
    let score = |m: &BTreeMap<&str, &Outcome>, id: &str| m.get(id).and_then(|o| o.score);
    by_account(new)
        .into_iter()
        .map(|(id, o)| {
            let (then, bridge, now) = (score(&old, id), score(&new_on_old, id), o.score);
            Moved {
                account_id: id.to_owned(),
                then,
                now,
                rules: bridge.zip(then).map(|(b, t)| b - t),
                customer: now.zip(bridge).map(|(n, b)| n - b),
            }
        })
        .collect()
}

/// Sums over moved accounts where every part is known: (total, rules,
/// customer, accounts).
pub fn moved_totals(moved: &[Moved]) -> (f64, f64, f64, usize) {
    moved
        .iter()
        .filter_map(|m| Some((m.total()?, m.rules?, m.customer?)))
        .fold((0.0, 0.0, 0.0, 0), |(t, r, c, n), (dt, dr, dc)| {
            (t + dt, r + dr, c + dc, n + 1)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(id: &str, score: f64, band: &str) -> Outcome {
        Outcome {
            account_id: id.to_owned(),
            score: Some(score),
            band: Some(band.to_owned()),
        }
    }

    fn failed(id: &str) -> Outcome {
        Outcome {
            account_id: id.to_owned(),
            score: None,
            band: None,
        }
    }

    #[test]
    fn changes_list_only_what_differs() {
        let before = [
            scored("a", 50.0, "yellow"),
            scored("b", 70.0, "green"),
            scored("c", 30.0, "red"),
            failed("d"),
        ];
        let after = [
            scored("a", 50.0, "yellow"),
            scored("b", 64.5, "yellow"),
            failed("c"),
            failed("d"),
            scored("e", 10.0, "red"),
        ];
        let found = changes(&before, &after);
        let ids: Vec<&str> = found.iter().map(|c| c.account_id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "e"]);
        assert_eq!(found[0].delta(), Some(-5.5));
        assert_eq!(found[0].band_after.as_deref(), Some("yellow"));
        assert_eq!(found[1].delta(), None);
        assert_eq!(
            (found[2].score_before, found[2].score_after),
            (None, Some(10.0))
        );
        assert!(changes(&before, &before).is_empty());
        assert!(changes(&[], &[]).is_empty());
    }

    #[test]
    fn a_move_splits_into_rules_and_customer_exactly() {
        // a: 50 then; the new rules score the old input 56 (+6 rules); the
        // customer's new data scores 61 (+5 customer); total +11.
        let old = [scored("a", 50.0, "y"), scored("b", 80.0, "g")];
        let new_on_old = [scored("a", 56.0, "y"), scored("b", 80.0, "g")];
        let new = [
            scored("a", 61.0, "g"),
            scored("b", 72.0, "y"),
            scored("n", 40.0, "r"),
        ];
        let moved = what_moved(&old, &new_on_old, &new);
        assert_eq!(moved.len(), 3);
        assert_eq!(
            moved[0],
            Moved {
                account_id: "a".into(),
                then: Some(50.0),
                now: Some(61.0),
                rules: Some(6.0),
                customer: Some(5.0),
            }
        );
        assert_eq!(moved[0].total(), Some(11.0));
        assert_eq!((moved[1].rules, moved[1].customer), (Some(0.0), Some(-8.0)));
        // A new account has no "then": no split.
        assert_eq!(
            (moved[2].then, moved[2].rules, moved[2].customer),
            (None, None, None)
        );
        assert_eq!(moved_totals(&moved), (3.0, 6.0, -3.0, 2));
        assert_eq!(moved_totals(&[]), (0.0, 0.0, 0.0, 0));
    }

    #[test]
    fn the_last_result_of_an_account_counts() {
        let two_days = [scored("a", 40.0, "r"), scored("a", 45.0, "y")];
        let moved = what_moved(&two_days, &two_days, &[scored("a", 47.0, "y")]);
        assert_eq!((moved[0].then, moved[0].customer), (Some(45.0), Some(2.0)));
    }
}
