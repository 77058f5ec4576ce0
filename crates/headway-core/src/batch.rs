//! Accounts column by column: what the parsers fill and what a plugin reads.
//!
//! The shape mirrors the contract's `account-batch` (one list per field, names once
//! per batch), so the host hands it to a plugin with plain copies, and a run never
//! builds a map per account. [`Account`] stays the row-wise view for tools that
//! look at one account at a time.

use std::collections::BTreeMap;

use crate::Date;
use crate::account::{Account, LifecycleStage, OutcomeKpi, Point};

/// Many short strings of one field in one buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextColumn {
    /// All values, concatenated.
    pub data: String,
    /// `ends[i]` is where value `i` ends in `data`; it starts where `i - 1` ends.
    pub ends: Vec<u32>,
}

impl TextColumn {
    /// Appends one value.
    pub fn push(&mut self, value: &str) {
        self.data.push_str(value);
        self.end_value();
    }

    /// Ends the value written so far straight into `data`.
    pub fn end_value(&mut self) {
        self.ends.push(self.data.len() as u32);
    }

    /// Value `row` (empty when out of range).
    pub fn get(&self, row: usize) -> &str {
        let start = if row == 0 {
            0
        } else {
            self.ends[row - 1] as usize
        };
        let end = self.ends.get(row).map_or(start, |e| *e as usize);
        self.data.get(start..end).unwrap_or("")
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True without values.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Keeps the first `rows` values.
    pub fn truncate(&mut self, rows: usize) {
        self.ends.truncate(rows);
        self.data
            .truncate(self.ends.last().map_or(0, |e| *e as usize));
    }

    fn select(&self, rows: std::ops::Range<usize>) -> Self {
        let mut out = Self::default();
        for row in rows {
            out.push(self.get(row));
        }
        out
    }
}

/// One current measure for every row; NaN where a row has none.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureColumn {
    /// The measure's name.
    pub name: String,
    /// One value per row.
    pub values: Vec<f64>,
}

/// One measure history for every row, points sorted by day within a row.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesColumn {
    /// The measure's name.
    pub name: String,
    /// `ends[i]`: where row `i`'s points end in `days`/`values`.
    pub ends: Vec<u32>,
    /// The day of each point.
    pub days: Vec<Date>,
    /// The value of each point.
    pub values: Vec<f64>,
}

/// One outcome KPI for every row; NaN where a row does not track it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeColumn {
    /// The KPI's name.
    pub name: String,
    /// Direction, as the first row that tracks it says.
    pub higher_is_better: bool,
    /// Latest value per row.
    pub values: Vec<f64>,
    /// Target per row; NaN where none.
    pub targets: Vec<f64>,
}

/// One free-form attribute for every row; empty where a row has none.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeColumn {
    /// The attribute's key.
    pub key: String,
    /// Value per row.
    pub values: TextColumn,
}

/// When each row reached one milestone.
#[derive(Debug, Clone, PartialEq)]
pub struct ReachedColumn {
    /// The milestone's id.
    pub milestone: String,
    /// Day reached per row.
    pub on: Vec<Option<Date>>,
}

/// Which measures, histories, outcomes and attributes a plugin reads: the others
/// are validated but not kept. `None` keeps everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reads<'a>(pub Option<&'a [String]>);

impl Reads<'_> {
    /// Whether a column of this name is kept.
    pub fn wants(&self, name: &str) -> bool {
        self.0.is_none_or(|names| names.iter().any(|n| n == name))
    }
}

/// Accounts, column by column. Every per-row list has one entry per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountBatch {
    /// The 1-based source line of each row.
    pub lines: Vec<usize>,
    /// Account ids.
    pub ids: TextColumn,
    /// Display names.
    pub names: TextColumn,
    /// Segments.
    pub segments: TextColumn,
    /// Plans.
    pub plans: TextColumn,
    /// Lifecycle stages.
    pub stages: Vec<LifecycleStage>,
    /// ARR.
    pub arr: Vec<f64>,
    /// Start dates.
    pub start_dates: Vec<Date>,
    /// Renewal dates.
    pub renewal_dates: Vec<Option<Date>>,
    /// As-of days.
    pub as_of: Vec<Date>,
    /// Current measures.
    pub measures: Vec<MeasureColumn>,
    /// Measure histories.
    pub history: Vec<SeriesColumn>,
    /// Outcome KPIs.
    pub outcomes: Vec<OutcomeColumn>,
    /// Free-form attributes.
    pub attributes: Vec<AttributeColumn>,
    /// Milestones already reached.
    pub reached: Vec<ReachedColumn>,
}

/// Where a row in progress started, so a rejected row can be taken back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowMark {
    rows: usize,
    measures: usize,
    history: usize,
    outcomes: usize,
    attributes: usize,
    reached: usize,
}

fn find_or_add<T>(
    columns: &mut Vec<T>,
    name: &str,
    name_of: impl Fn(&T) -> &str,
    make: impl FnOnce() -> T,
) -> usize {
    match columns.iter().position(|c| name_of(c) == name) {
        Some(i) => i,
        None => {
            columns.push(make());
            columns.len() - 1
        }
    }
}

impl AccountBatch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The batch of `accounts` (row `i` from line `lines[i]`, or `i + 1`), keeping
    /// only the columns `reads` wants. Milestones reached are always kept.
    pub fn from_accounts(accounts: &[Account], lines: Option<&[usize]>, reads: Reads) -> Self {
        let mut batch = Self::default();
        for (i, a) in accounts.iter().enumerate() {
            let line = lines.and_then(|l| l.get(i).copied()).unwrap_or(i + 1);
            batch.push_account(a, line, reads);
        }
        batch
    }

    /// Appends one account as a row.
    pub fn push_account(&mut self, a: &Account, line: usize, reads: Reads) {
        let mark = self.begin_row();
        self.ids.push(&a.id);
        self.names.push(&a.name);
        self.segments.push(&a.segment);
        self.plans.push(&a.plan);
        self.stages.push(a.stage);
        self.arr.push(a.arr);
        self.start_dates.push(a.start_date);
        self.renewal_dates.push(a.renewal_date);
        self.as_of.push(a.as_of);
        for (name, value) in &a.measures {
            if reads.wants(name) {
                self.set_measure(mark, name, *value);
            }
        }
        for (name, points) in &a.history {
            if reads.wants(name) {
                let col = self.series(mark, name);
                for p in points {
                    col.days.push(p.date);
                    col.values.push(p.value);
                }
            }
        }
        for o in &a.outcomes {
            if reads.wants(&o.name) {
                self.set_outcome(mark, &o.name, o.higher_is_better, o.value, o.target);
            }
        }
        for (key, value) in &a.attributes {
            if reads.wants(key) {
                self.attribute(mark, key).push_str(value);
            }
        }
        for (id, day) in &a.milestones_reached {
            self.set_reached(mark, id, *day);
        }
        self.end_row(mark, line);
    }

    /// Row `row` as a row-wise [`Account`] (only the columns the batch kept).
    pub fn account(&self, row: usize) -> Account {
        let opt = |x: f64| (!x.is_nan()).then_some(x);
        Account {
            id: self.ids.get(row).to_owned(),
            name: self.names.get(row).to_owned(),
            segment: self.segments.get(row).to_owned(),
            plan: self.plans.get(row).to_owned(),
            stage: self.stages[row],
            arr: self.arr[row],
            start_date: self.start_dates[row],
            renewal_date: self.renewal_dates[row],
            as_of: self.as_of[row],
            measures: self
                .measures
                .iter()
                .filter_map(|m| Some((m.name.clone(), opt(m.values[row])?)))
                .collect(),
            history: self
                .history
                .iter()
                .filter_map(|s| {
                    let range = series_range(&s.ends, row);
                    (!range.is_empty()).then(|| {
                        let points = range
                            .map(|i| Point {
                                date: s.days[i],
                                value: s.values[i],
                            })
                            .collect();
                        (s.name.clone(), points)
                    })
                })
                .collect(),
            outcomes: self
                .outcomes
                .iter()
                .filter_map(|o| {
                    Some(OutcomeKpi {
                        name: o.name.clone(),
                        value: opt(o.values[row])?,
                        target: opt(o.targets[row]),
                        higher_is_better: o.higher_is_better,
                    })
                })
                .collect(),
            attributes: self
                .attributes
                .iter()
                .filter(|a| !a.values.get(row).is_empty())
                .map(|a| (a.key.clone(), a.values.get(row).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            milestones_reached: self
                .reached
                .iter()
                .filter_map(|r| Some((r.milestone.clone(), r.on[row]?)))
                .collect(),
        }
    }

    /// A copy of rows `rows`.
    pub fn select(&self, rows: std::ops::Range<usize>) -> Self {
        let r = rows.clone();
        Self {
            lines: self.lines[r.clone()].to_vec(),
            ids: self.ids.select(r.clone()),
            names: self.names.select(r.clone()),
            segments: self.segments.select(r.clone()),
            plans: self.plans.select(r.clone()),
            stages: self.stages[r.clone()].to_vec(),
            arr: self.arr[r.clone()].to_vec(),
            start_dates: self.start_dates[r.clone()].to_vec(),
            renewal_dates: self.renewal_dates[r.clone()].to_vec(),
            as_of: self.as_of[r.clone()].to_vec(),
            measures: self
                .measures
                .iter()
                .map(|m| MeasureColumn {
                    name: m.name.clone(),
                    values: m.values[r.clone()].to_vec(),
                })
                .collect(),
            history: self
                .history
                .iter()
                .map(|s| {
                    let first = series_range(&s.ends, r.start).start;
                    let last = if r.is_empty() {
                        first
                    } else {
                        s.ends[r.end - 1] as usize
                    };
                    SeriesColumn {
                        name: s.name.clone(),
                        ends: s.ends[r.clone()].iter().map(|e| e - first as u32).collect(),
                        days: s.days[first..last].to_vec(),
                        values: s.values[first..last].to_vec(),
                    }
                })
                .collect(),
            outcomes: self
                .outcomes
                .iter()
                .map(|o| OutcomeColumn {
                    name: o.name.clone(),
                    higher_is_better: o.higher_is_better,
                    values: o.values[r.clone()].to_vec(),
                    targets: o.targets[r.clone()].to_vec(),
                })
                .collect(),
            attributes: self
                .attributes
                .iter()
                .map(|a| AttributeColumn {
                    key: a.key.clone(),
                    values: a.values.select(r.clone()),
                })
                .collect(),
            reached: self
                .reached
                .iter()
                .map(|m| ReachedColumn {
                    milestone: m.milestone.clone(),
                    on: m.on[r.clone()].to_vec(),
                })
                .collect(),
        }
    }

    // Row building, for the parsers: begin, set fields, then end or abandon.

    pub(crate) fn begin_row(&self) -> RowMark {
        RowMark {
            rows: self.len(),
            measures: self.measures.len(),
            history: self.history.len(),
            outcomes: self.outcomes.len(),
            attributes: self.attributes.len(),
            reached: self.reached.len(),
        }
    }

    /// Sets a measure of the row in progress (a later value for the same name
    /// wins); its column's index, which [`AccountBatch::set_measure_at`] takes
    /// for the rest of the batch.
    pub(crate) fn set_measure(&mut self, mark: RowMark, name: &str, value: f64) -> usize {
        let n = mark.rows;
        let i = find_or_add(
            &mut self.measures,
            name,
            |c| &c.name,
            || MeasureColumn {
                name: name.to_owned(),
                values: vec![f64::NAN; n],
            },
        );
        self.set_measure_at(mark, i, value);
        i
    }

    /// Sets the measure of column `i` (as [`AccountBatch::set_measure`] gave it)
    /// for the row in progress, without looking its name up.
    pub(crate) fn set_measure_at(&mut self, mark: RowMark, i: usize, value: f64) {
        let values = &mut self.measures[i].values;
        values.resize(mark.rows, f64::NAN);
        values.push(value);
    }

    /// The history column `name`, with the row in progress open for points.
    pub(crate) fn series(&mut self, mark: RowMark, name: &str) -> &mut SeriesColumn {
        let n = mark.rows;
        let i = find_or_add(
            &mut self.history,
            name,
            |c| &c.name,
            || SeriesColumn {
                name: name.to_owned(),
                ends: vec![0; n],
                days: Vec::new(),
                values: Vec::new(),
            },
        );
        // A repeated name replaces the points written before in this row.
        let col = &mut self.history[i];
        let start = col.ends.last().map_or(0, |e| *e as usize);
        col.days.truncate(start);
        col.values.truncate(start);
        col
    }

    pub(crate) fn set_outcome(
        &mut self,
        mark: RowMark,
        name: &str,
        higher_is_better: bool,
        value: f64,
        target: Option<f64>,
    ) {
        let n = mark.rows;
        let i = find_or_add(
            &mut self.outcomes,
            name,
            |c| &c.name,
            || OutcomeColumn {
                name: name.to_owned(),
                higher_is_better,
                values: vec![f64::NAN; n],
                targets: vec![f64::NAN; n],
            },
        );
        let col = &mut self.outcomes[i];
        col.values.resize(n, f64::NAN);
        col.targets.resize(n, f64::NAN);
        col.values.push(value);
        col.targets.push(target.unwrap_or(f64::NAN));
    }

    /// The attribute column `key`'s buffer, for the row in progress to write into.
    pub(crate) fn attribute(&mut self, mark: RowMark, key: &str) -> &mut String {
        let n = mark.rows;
        let i = find_or_add(
            &mut self.attributes,
            key,
            |c| &c.key,
            || AttributeColumn {
                key: key.to_owned(),
                values: TextColumn {
                    data: String::new(),
                    ends: vec![0; n],
                },
            },
        );
        let values = &mut self.attributes[i].values;
        // A repeated key replaces the value written before in this row.
        values.truncate(n);
        while values.ends.len() < n {
            values.end_value();
        }
        &mut values.data
    }

    pub(crate) fn set_reached(&mut self, mark: RowMark, id: &str, day: Date) {
        let n = mark.rows;
        let i = find_or_add(
            &mut self.reached,
            id,
            |c| &c.milestone,
            || ReachedColumn {
                milestone: id.to_owned(),
                on: vec![None; n],
            },
        );
        let on = &mut self.reached[i].on;
        on.resize(n, None);
        on.push(Some(day));
    }

    /// Closes the row in progress: every column gets exactly one entry for it.
    pub(crate) fn end_row(&mut self, mark: RowMark, line: usize) {
        let rows = mark.rows + 1;
        self.lines.push(line);
        for m in &mut self.measures {
            m.values.resize(rows, f64::NAN);
        }
        for s in &mut self.history {
            let end = s.days.len() as u32;
            s.ends.resize(rows, end);
        }
        for o in &mut self.outcomes {
            o.values.resize(rows, f64::NAN);
            o.targets.resize(rows, f64::NAN);
        }
        for a in &mut self.attributes {
            while a.values.ends.len() < rows {
                a.values.end_value();
            }
        }
        for r in &mut self.reached {
            r.on.resize(rows, None);
        }
    }

    /// Takes back everything the row in progress wrote.
    pub(crate) fn abandon_row(&mut self, mark: RowMark) {
        let n = mark.rows;
        self.lines.truncate(n);
        self.ids.truncate(n);
        self.names.truncate(n);
        self.segments.truncate(n);
        self.plans.truncate(n);
        self.stages.truncate(n);
        self.arr.truncate(n);
        self.start_dates.truncate(n);
        self.renewal_dates.truncate(n);
        self.as_of.truncate(n);
        self.measures.truncate(mark.measures);
        for m in &mut self.measures {
            m.values.truncate(n);
        }
        self.history.truncate(mark.history);
        for s in &mut self.history {
            s.ends.truncate(n);
            let end = s.ends.last().map_or(0, |e| *e as usize);
            s.days.truncate(end);
            s.values.truncate(end);
        }
        self.outcomes.truncate(mark.outcomes);
        for o in &mut self.outcomes {
            o.values.truncate(n);
            o.targets.truncate(n);
        }
        self.attributes.truncate(mark.attributes);
        for a in &mut self.attributes {
            a.values.truncate(n);
        }
        self.reached.truncate(mark.reached);
        for r in &mut self.reached {
            r.on.truncate(n);
        }
    }
}

/// The index range of row `row`'s entries in a column split by `ends`.
pub fn series_range(ends: &[u32], row: usize) -> std::ops::Range<usize> {
    let start = if row == 0 { 0 } else { ends[row - 1] as usize };
    let end = ends.get(row).map_or(start, |e| *e as usize);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InputDefaults, parse_jsonl};

    const TWO: &str = r#"{"id":"a","name":"A","stage":"active","arr":10,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"seats":4,"nps":null},"history":{"wau":[["2026-09-01",3],["2026-10-01",4]]},"attributes":{"region":"emea"}}
{"id":"b","stage":"trial","arr":0,"start_date":"2026-10-01","as_of":"2026-11-01","measures":{"nps":9},"outcomes":[{"name":"otif","value":0.9,"target":0.95}],"milestones_reached":{"first-value":"2026-10-20"}}"#;

    fn accounts() -> Vec<Account> {
        parse_jsonl("t", TWO, &InputDefaults::default()).accounts
    }

    #[test]
    fn rows_round_trip_and_missing_values_are_marked() {
        let accounts = accounts();
        let batch = AccountBatch::from_accounts(&accounts, None, Reads::default());
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.lines, [1, 2]);
        let seats = batch.measures.iter().find(|m| m.name == "seats").unwrap();
        assert_eq!(seats.values[0], 4.0);
        assert!(seats.values[1].is_nan(), "b has no seats");
        let wau = &batch.history[0];
        assert_eq!(wau.ends, [2, 2], "b has no points");
        assert_eq!(batch.attributes[0].values.get(1), "");
        assert_eq!(
            batch.reached[0].on,
            [None, Some(Date::from_ymd(2026, 10, 20).unwrap())]
        );
        for (row, a) in accounts.iter().enumerate() {
            assert_eq!(&batch.account(row), a);
        }
    }

    #[test]
    fn reads_keep_only_named_columns_but_always_milestones() {
        let names = ["nps".to_owned()];
        let batch = AccountBatch::from_accounts(&accounts(), None, Reads(Some(&names)));
        let kept: Vec<&str> = batch.measures.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(kept, ["nps"]);
        assert!(
            batch.history.is_empty() && batch.outcomes.is_empty() && batch.attributes.is_empty()
        );
        assert_eq!(batch.reached.len(), 1);
    }

    #[test]
    fn select_copies_a_range_with_its_series() {
        let batch = AccountBatch::from_accounts(&accounts(), None, Reads::default());
        let second = batch.select(1..2);
        assert_eq!(second.len(), 1);
        assert_eq!(second.account(0), batch.account(1));
        let first = batch.select(0..1);
        assert_eq!(first.history[0].ends, [2]);
        assert_eq!(first.account(0), batch.account(0));
        assert!(batch.select(1..1).is_empty());
    }

    #[test]
    fn an_abandoned_row_leaves_no_trace() {
        let accounts = accounts();
        let mut batch = AccountBatch::from_accounts(&accounts[..1], None, Reads::default());
        let before = batch.clone();
        let mark = batch.begin_row();
        batch.ids.push("x");
        batch.set_measure(mark, "new-measure", 1.0);
        batch.set_measure(mark, "seats", 2.0);
        batch.series(mark, "wau").days.push(Date::from_days(1));
        batch.attribute(mark, "region").push_str("apac");
        batch.abandon_row(mark);
        assert_eq!(batch, before);
    }
}
