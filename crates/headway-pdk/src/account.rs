//! The row-wise view of one account in a columnar batch.

use std::cell::Cell;

use crate::names::{Key, same};
use crate::scorecard::RuleError;
use crate::{Day, wit};

/// Where an account is in its lifecycle.
pub use crate::wit::LifecycleStage as Stage;

/// One account of the batch being assessed. Cheap to create: it borrows the batch.
#[derive(Clone, Copy)]
pub struct Account<'a> {
    batch: &'a wit::AccountBatch,
    row: usize,
    lookups: &'a Lookups,
}

/// How many lookups per row are remembered.
const REMEMBERED: usize = 32;

/// The column lists a lookup can search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    #[default]
    Measure,
    History,
    Outcome,
    Attribute,
    Reached,
}

/// What the k-th lookup of a row asked for and found.
#[derive(Debug, Clone, Copy, Default)]
struct Remembered {
    kind: Kind,
    name: Key,
    /// The column's index; `None`: the batch has no such column.
    column: Option<u16>,
}

/// Names resolved to columns once per batch rather than searched for on every
/// row: a rule asks for its inputs in the same order on every row, so the k-th
/// lookup of a row remembers what it asked for (as a [`Key`]) and which column
/// answered, and the k-th lookup of the next row that asks for the same name
/// takes that column without a search. A rule that asks in another order only
/// pays the search.
pub(crate) struct Lookups {
    remembered: [Cell<Remembered>; REMEMBERED],
    next: Cell<usize>,
}

impl Default for Lookups {
    fn default() -> Self {
        Self {
            remembered: std::array::from_fn(|_| Cell::new(Remembered::default())),
            next: Cell::new(0),
        }
    }
}

impl Lookups {
    pub fn start_row(&self) {
        self.next.set(0);
    }

    /// The column of `columns` named `name`. Inlined into the rule with its
    /// constant name, so that recognising the remembered name folds to a few
    /// word compares; the search is out of line.
    #[inline(always)]
    fn find<'c, T>(
        &self,
        kind: Kind,
        columns: &'c [T],
        name_of: impl Fn(&T) -> &str,
        name: &str,
    ) -> Option<&'c T> {
        let k = self.next.get();
        self.next.set(k + 1);
        if let Some(slot) = self.remembered.get(k) {
            let r = slot.get();
            if r.kind == kind && r.name.matches(name) {
                return r.column.and_then(|c| columns.get(usize::from(c)));
            }
        }
        self.search(k, kind, columns, name_of, name)
    }

    /// Finds `name` among `columns` and remembers it as the `k`-th lookup.
    #[cold]
    #[inline(never)]
    fn search<'c, T>(
        &self,
        k: usize,
        kind: Kind,
        columns: &'c [T],
        name_of: impl Fn(&T) -> &str,
        name: &str,
    ) -> Option<&'c T> {
        let found = columns.iter().position(|c| same(name_of(c), name));
        // A column past u16 (or a name past 24 bytes) is not remembered.
        let column = found.map(u16::try_from).transpose();
        if let (Some(slot), Some(name), Ok(column)) =
            (self.remembered.get(k), Key::of(name), column)
        {
            slot.set(Remembered { kind, name, column });
        }
        found.map(|c| &columns[c])
    }
}

/// One customer-defined outcome KPI of an account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome<'a> {
    /// The KPI's name.
    pub name: &'a str,
    /// Its latest value.
    pub value: f64,
    /// The customer's target, if set.
    pub target: Option<f64>,
    /// True when higher is better.
    pub higher_is_better: bool,
}

impl Outcome<'_> {
    /// Whether the value meets the target (`None` without a target).
    pub fn meets_target(&self) -> Option<bool> {
        let target = self.target?;
        Some(if self.higher_is_better {
            self.value >= target
        } else {
            self.value <= target
        })
    }

    /// How far the value is toward the target, 1.0 meaning exactly on target and
    /// above 1 beating it: `value / target` when higher is better, `target / value`
    /// when lower is. `None` without a target or when the ratio is undefined.
    pub fn attainment(&self) -> Option<f64> {
        let target = self.target?;
        let ratio = if self.higher_is_better {
            self.value / target
        } else {
            target / self.value
        };
        ratio.is_finite().then_some(ratio)
    }
}

fn text(column: &wit::TextColumn, row: usize) -> &str {
    let start = if row == 0 {
        0
    } else {
        column.ends[row - 1] as usize
    };
    let end = column.ends.get(row).map_or(start, |e| *e as usize);
    column.data.get(start..end).unwrap_or("")
}

#[cold]
#[inline(never)]
fn missing_measure(name: &str) -> RuleError {
    RuleError::new(
        "missing-measure",
        format!("account has no measure `{name}`"),
    )
}

#[inline(always)]
fn present(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

impl<'a> Account<'a> {
    pub(crate) fn new(batch: &'a wit::AccountBatch, row: usize, lookups: &'a Lookups) -> Self {
        Self {
            batch,
            row,
            lookups,
        }
    }

    /// The account's id.
    pub fn id(&self) -> &'a str {
        text(&self.batch.ids, self.row)
    }

    /// The account's display name.
    pub fn name(&self) -> &'a str {
        text(&self.batch.names, self.row)
    }

    /// Segment; empty when unknown.
    pub fn segment(&self) -> &'a str {
        text(&self.batch.segments, self.row)
    }

    /// Plan or tier; empty when unknown.
    pub fn plan(&self) -> &'a str {
        text(&self.batch.plans, self.row)
    }

    /// Lifecycle stage.
    pub fn stage(&self) -> Stage {
        self.batch.stages[self.row]
    }

    /// Annual recurring revenue.
    pub fn arr(&self) -> f64 {
        self.batch.arr[self.row]
    }

    /// When the account started.
    pub fn start_date(&self) -> Day {
        Day(self.batch.start_dates[self.row])
    }

    /// Next renewal, if any.
    pub fn renewal_date(&self) -> Option<Day> {
        self.batch.renewal_dates[self.row].map(Day)
    }

    /// The day the data describes: "today" for the rule.
    pub fn as_of(&self) -> Day {
        Day(self.batch.as_of[self.row])
    }

    /// Days from the start date to the as-of day.
    pub fn tenure_days(&self) -> i32 {
        self.as_of().days_since(self.start_date())
    }

    /// A current measure, or `None` when the account has none by that name.
    #[inline(always)]
    pub fn measure(&self, name: &str) -> Option<f64> {
        let column = self
            .lookups
            .find(Kind::Measure, &self.batch.measures, |m| &m.name, name)?;
        present(column.values[self.row])
    }

    /// A current measure the rule cannot do without: a missing one is a
    /// `missing-measure` error for this account.
    #[inline(always)]
    pub fn require(&self, name: &str) -> Result<f64, RuleError> {
        match self.measure(name) {
            Some(x) => Ok(x),
            None => Err(missing_measure(name)),
        }
    }

    /// A measure's history as `(day, value)` pairs sorted by day; empty when none.
    pub fn history(&self, name: &str) -> impl Iterator<Item = (Day, f64)> + 'a {
        let row = self.row;
        let column = self
            .lookups
            .find(Kind::History, &self.batch.history, |s| &s.name, name);
        let range = column.map_or(0..0, |s| {
            let start = if row == 0 {
                0
            } else {
                s.ends[row - 1] as usize
            };
            start..s.ends[row] as usize
        });
        range.map(move |i| {
            let s = column.expect("non-empty range implies a column");
            (Day(s.days[i]), s.values[i])
        })
    }

    /// One outcome KPI, when the account tracks it.
    pub fn outcome(&self, name: &str) -> Option<Outcome<'a>> {
        let row = self.row;
        let column = self
            .lookups
            .find(Kind::Outcome, &self.batch.outcomes, |o| &o.name, name)?;
        Some(Outcome {
            name: &column.name,
            value: present(column.values[row])?,
            target: present(column.targets[row]),
            higher_is_better: column.higher_is_better,
        })
    }

    /// Every outcome KPI the account tracks.
    pub fn outcomes(&self) -> impl Iterator<Item = Outcome<'a>> + 'a {
        let this = *self;
        self.batch
            .outcomes
            .iter()
            .filter_map(move |column| this.outcome(&column.name))
    }

    /// A free-form attribute, when set.
    pub fn attribute(&self, key: &str) -> Option<&'a str> {
        let column = self
            .lookups
            .find(Kind::Attribute, &self.batch.attributes, |a| &a.key, key)?;
        Some(text(&column.values, self.row)).filter(|v| !v.is_empty())
    }

    /// When the account reached a milestone, if it has.
    pub fn reached(&self, milestone: &str) -> Option<Day> {
        let column = self.lookups.find(
            Kind::Reached,
            &self.batch.milestones_reached,
            |m| &m.milestone,
            milestone,
        )?;
        column.on[self.row].map(Day)
    }
}
