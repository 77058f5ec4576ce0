//! Columnar batch in, columnar results out, one row at a time through the rules.

use crate::account::{Account, Lookups};
use crate::scorecard::{Answer, Declared, Layout, RuleError, Scorecard};
use crate::{Rules, wit};

pub(crate) fn assess<R: Rules>(batch: &wit::AccountBatch) -> wit::AssessmentBatch {
    let layout = Layout::from(R::describe());
    let rows = batch.ids.ends.len();
    let mut answer = Answer::new(&layout, rows);
    let lookups = Lookups::default();
    for row in 0..rows {
        lookups.start_row();
        let account = Account::new(batch, row, &lookups);
        let mut card = Scorecard {
            layout: &layout,
            answer: &mut answer,
            row,
            problem: None,
            next_factor: 0,
            next_milestone: 0,
            factors_written: 0,
        };
        let outcome = R::assess(&account, &mut card);
        let all_written = card.factors_written == layout.factors.len();
        let outcome = match (outcome, card.problem.take()) {
            (Ok(()), None) if all_written => continue,
            (Err(e), _) | (Ok(()), Some(e)) => e,
            (Ok(()), None) => unset_factor(&layout, &answer, row),
        };
        answer.fail(row, outcome);
    }
    answer.into_wit()
}

/// The error for a row that left a factor unwritten.
#[cold]
fn unset_factor(layout: &Layout, answer: &Answer, row: usize) -> RuleError {
    let i = answer.unset_factor(row).unwrap_or_default();
    RuleError::new(
        "unset-factor",
        format!(
            "factor `{}` was neither set nor skipped",
            layout.factors.ids[i]
        ),
    )
}

impl From<crate::PluginInfo> for Layout {
    fn from(info: crate::PluginInfo) -> Self {
        Layout {
            factors: Declared::new(info.factors.into_iter().map(|(id, _, _)| id).collect()),
            band_names: info.bands.into_iter().map(|(name, _)| name).collect(),
            milestones: Declared::new(info.milestones.into_iter().map(|m| m.id).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::num::fixed;
    use crate::{Account, Day, Milestone, PluginInfo, RuleError, Rules, Scorecard, wit};

    fn text(values: &[&str]) -> wit::TextColumn {
        let mut col = wit::TextColumn {
            data: String::new(),
            ends: Vec::new(),
        };
        for v in values {
            col.data.push_str(v);
            col.ends.push(col.data.len() as u32);
        }
        col
    }

    /// Rows `a`..`d`; measure `x` is missing for `c`, `y` is absent from the batch.
    fn batch() -> wit::AccountBatch {
        let n = 4;
        let measure = |name: &str, values: [f64; 4]| wit::MeasureColumn {
            name: name.into(),
            values: values.into(),
        };
        wit::AccountBatch {
            ids: text(&["a", "b", "c", "d"]),
            names: text(&[""; 4]),
            segments: text(&[""; 4]),
            plans: text(&[""; 4]),
            stages: vec![wit::LifecycleStage::Active; n],
            arr: vec![0.0; n],
            start_dates: vec![0; n],
            renewal_dates: vec![None; n],
            as_of: vec![0; n],
            measures: vec![
                measure("seats-purchased", [10.0, 20.0, 30.0, 40.0]),
                measure("x", [1.0, 2.0, f64::NAN, 4.0]),
            ],
            history: Vec::new(),
            outcomes: Vec::new(),
            attributes: Vec::new(),
            milestones_reached: Vec::new(),
        }
    }

    struct Quirky;

    impl Rules for Quirky {
        fn describe() -> PluginInfo {
            PluginInfo::new("quirky", "1.0.0")
                .band("all", 0.0)
                .factor("seats", "Seats", 0.5)
                .factor("x", "X", 0.5)
        }

        /// Asks in another order on row `b`, for an absent name on every row,
        /// sets `seats` twice on `d` and fails `c` after writing a reason.
        fn assess(a: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
            let (seats, x) = if a.id() == "b" {
                let x = a.measure("x");
                (a.require("seats-purchased")?, x)
            } else {
                (a.require("seats-purchased")?, a.measure("x"))
            };
            assert_eq!(a.measure("y"), None);
            card.factor("seats", seats, 0.5, (fixed(seats, 0), " seats"));
            if a.id() == "d" {
                card.factor("seats", seats, 1.0, ("all ", fixed(seats, 1), " seats"));
            }
            match x {
                Some(x) => card.factor("x", x, 1.0, ("x is ", fixed(x, 0))),
                None => return Err(RuleError::new("no-x", "x is missing")),
            }
            Ok(())
        }
    }

    #[test]
    fn lookups_reasons_and_failures_come_out_in_place() {
        let out = super::assess::<Quirky>(&batch());
        let seats = &out.factors[0];
        assert_eq!(seats.values, [10.0, 20.0, 30.0, 40.0]);
        assert_eq!(seats.credits[..2], [0.5, 0.5]);
        assert_eq!(seats.credits[3], 1.0, "the second call replaces the first");
        let x = &out.factors[1];
        assert_eq!((x.values[0], x.values[1], x.values[3]), (1.0, 2.0, 4.0));
        // Words and numbers as the host reads them: row d has only its second reason.
        let r = &seats.reasons;
        assert_eq!(r.words.data, " seats seats seatsall  seats");
        assert_eq!(r.words.ends, [6, 12, 18, 28]);
        assert_eq!(r.numbers, [10.0, 20.0, 30.0, 40.0]);
        assert_eq!(r.at, [0, 6, 12, 22]);
        assert_eq!(r.styles, [0, 0, 0, 1]);
        assert_eq!(r.number_ends, [1, 2, 3, 4]);
        // Row c failed after its seats reason: closed where it stood, listed.
        let r = &x.reasons;
        assert_eq!(r.words.ends, [5, 10, 10, 15]);
        assert_eq!(r.number_ends, [1, 2, 2, 3]);
        assert_eq!(out.errors.len(), 1);
        assert_eq!(
            (out.errors[0].index, out.errors[0].code.as_str()),
            (2, "no-x")
        );
    }

    struct Forgetful;

    impl Rules for Forgetful {
        fn describe() -> PluginInfo {
            Quirky::describe()
        }

        fn assess(a: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
            card.factor("seats", a.arr(), 0.5, "");
            if a.id() == "a" {
                card.skip("x", "not today");
            }
            if a.id() == "b" {
                card.factor("nope", 0.0, 0.0, "");
            }
            Ok(())
        }
    }

    #[test]
    fn an_unknown_or_forgotten_factor_fails_the_row() {
        let out = super::assess::<Forgetful>(&batch());
        let codes: Vec<_> = out
            .errors
            .iter()
            .map(|e| (e.index, e.code.as_str(), e.message.as_str()))
            .collect();
        let unset = "factor `x` was neither set nor skipped";
        assert_eq!(
            codes,
            [
                (
                    1,
                    "unknown-factor",
                    "factor `nope` is not declared in describe()"
                ),
                (2, "unset-factor", unset),
                (3, "unset-factor", unset),
            ]
        );
        assert!(out.factors[1].credits[0].is_nan(), "a skips x");
    }

    struct Milestones;

    impl Rules for Milestones {
        fn describe() -> PluginInfo {
            Quirky::describe()
                .milestone(Milestone::new("first", "First"))
                .milestone(Milestone::new("second", "Second"))
        }

        /// Sets the milestones in order on `a`, in reverse on `b`, one twice and
        /// one unknown on `c`, none on `d`.
        fn assess(a: &Account, card: &mut Scorecard) -> Result<(), RuleError> {
            card.factor("seats", 0.0, 0.5, "");
            card.factor("x", 0.0, 0.5, "");
            match a.id() {
                "a" => {
                    card.milestone("first", 0.25).predicted(Day(7));
                    card.milestone("second", 2.0).likelihood(0.5);
                }
                "b" => {
                    card.milestone("second", 0.75);
                    card.milestone("first", f64::NAN);
                }
                "c" => {
                    card.milestone("first", 0.1);
                    card.milestone("first", 0.2);
                    card.milestone("third", 1.0);
                }
                _ => {}
            }
            Ok(())
        }
    }

    #[test]
    fn milestones_are_found_in_any_order_and_clamped() {
        let out = super::assess::<Milestones>(&batch());
        let [first, second] = &out.milestones[..] else {
            panic!("two milestone columns");
        };
        // NaN progress counts as none; 2.0 clamps to 1.
        assert_eq!(first.progress, [0.25, 0.0, 0.2, 0.0]);
        assert_eq!(second.progress, [1.0, 0.75, 0.0, 0.0]);
        assert_eq!(first.predicted_on, [Some(7), None, None, None]);
        assert_eq!(second.likelihood, [Some(0.5), None, None, None]);
        let errors: Vec<_> = out
            .errors
            .iter()
            .map(|e| (e.index, e.code.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [(
                2,
                "unknown-milestone",
                "milestone `third` is not declared in describe()"
            )]
        );
    }
}
