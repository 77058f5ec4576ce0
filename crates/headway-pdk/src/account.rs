//! The row-wise view of one account in a columnar batch.

use crate::same;
use crate::scorecard::RuleError;
use crate::{Day, wit};

/// Where an account is in its lifecycle.
pub use crate::wit::LifecycleStage as Stage;

/// One account of the batch being assessed. Cheap to create: it borrows the batch.
#[derive(Clone, Copy)]
pub struct Account<'a> {
    batch: &'a wit::AccountBatch,
    row: usize,
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

fn present(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

impl<'a> Account<'a> {
    pub(crate) fn new(batch: &'a wit::AccountBatch, row: usize) -> Self {
        Self { batch, row }
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
    pub fn measure(&self, name: &str) -> Option<f64> {
        let column = self.batch.measures.iter().find(|m| same(&m.name, name))?;
        present(column.values[self.row])
    }

    /// A current measure the rule cannot do without: a missing one is a
    /// `missing-measure` error for this account.
    pub fn require(&self, name: &str) -> Result<f64, RuleError> {
        self.measure(name).ok_or_else(|| {
            RuleError::new(
                "missing-measure",
                format!("account has no measure `{name}`"),
            )
        })
    }

    /// A measure's history as `(day, value)` pairs sorted by day; empty when none.
    pub fn history(&self, name: &str) -> impl Iterator<Item = (Day, f64)> + 'a {
        let row = self.row;
        let column = self.batch.history.iter().find(|s| same(&s.name, name));
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
        let column = self.batch.outcomes.iter().find(|o| same(&o.name, name))?;
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
        let column = self.batch.attributes.iter().find(|a| same(&a.key, key))?;
        Some(text(&column.values, self.row)).filter(|v| !v.is_empty())
    }

    /// When the account reached a milestone, if it has.
    pub fn reached(&self, milestone: &str) -> Option<Day> {
        let column = self
            .batch
            .milestones_reached
            .iter()
            .find(|m| same(&m.milestone, milestone))?;
        column.on[self.row].map(Day)
    }
}
