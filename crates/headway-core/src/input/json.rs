//! One JSON account object straight into a row of an [`AccountBatch`]: strings are
//! copied from the input into the batch's buffers, numbers into its columns, and
//! no map or `String` is built per account on the way.
//!
//! Validation is the same as the documented input format: unknown and repeated
//! keys are refused, and every error names the field it is in (`measures.seats`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

use super::{FieldError, InputDefaults, field_error};
use crate::Date;
use crate::account::{LifecycleStage, OutcomeKpi};
use crate::batch::{AccountBatch, Reads, RowMark};

/// The keys of an account object, in the order the README lists them.
const FIELDS: &[&str] = &[
    "id",
    "name",
    "segment",
    "plan",
    "stage",
    "arr",
    "start_date",
    "renewal_date",
    "as_of",
    "measures",
    "history",
    "outcomes",
    "attributes",
    "milestones_reached",
];

/// Appends one account (one JSON value read from `de`) to `batch`, or leaves
/// `batch` as it was and says what is wrong where.
pub(crate) fn read_row<'de, D>(
    de: D,
    batch: &mut AccountBatch,
    line: usize,
    defaults: &InputDefaults,
    reads: Reads,
) -> Result<(), FieldError>
where
    D: Deserializer<'de>,
    D::Error: fmt::Display,
{
    let mark = batch.begin_row();
    let mut row = Row {
        batch,
        mark,
        reads,
        path: String::new(),
        seen: 0,
        stage: None,
        arr: None,
        start_date: None,
        renewal_date: None,
        as_of: None,
        outcomes: Vec::new(),
    };
    let parsed = de
        .deserialize_map(RowVisitor(&mut row))
        .map_err(|e| {
            let field = (!row.path.is_empty()).then(|| row.path.clone());
            (field, super::strip_position(&e.to_string()))
        })
        .and_then(|()| row.finish(defaults));
    match parsed {
        Ok(()) => {
            batch.end_row(mark, line);
            Ok(())
        }
        Err(e) => {
            batch.abandon_row(mark);
            Err(e)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Name,
    Segment,
    Plan,
    Stage,
    Arr,
    StartDate,
    RenewalDate,
    AsOf,
    Measures,
    History,
    Outcomes,
    Attributes,
    Reached,
}

impl Field {
    fn of(key: &str) -> Option<Self> {
        Some(match key {
            "id" => Self::Id,
            "name" => Self::Name,
            "segment" => Self::Segment,
            "plan" => Self::Plan,
            "stage" => Self::Stage,
            "arr" => Self::Arr,
            "start_date" => Self::StartDate,
            "renewal_date" => Self::RenewalDate,
            "as_of" => Self::AsOf,
            "measures" => Self::Measures,
            "history" => Self::History,
            "outcomes" => Self::Outcomes,
            "attributes" => Self::Attributes,
            "milestones_reached" => Self::Reached,
            _ => return None,
        })
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// The row being read, and what it has seen so far.
struct Row<'b, 'r> {
    batch: &'b mut AccountBatch,
    mark: RowMark,
    reads: Reads<'r>,
    /// The field being read, for the error message.
    path: String,
    seen: u16,
    stage: Option<LifecycleStage>,
    arr: Option<f64>,
    start_date: Option<Date>,
    renewal_date: Option<Date>,
    as_of: Option<Date>,
    outcomes: Vec<OutcomeKpi>,
}

impl Row<'_, '_> {
    fn set_path(&mut self, parts: &[&str]) {
        self.path.clear();
        for p in parts {
            self.path.push_str(p);
        }
    }

    /// Defaults, required fields and the checks that need the whole row.
    fn finish(&mut self, defaults: &InputDefaults) -> Result<(), FieldError> {
        self.path.clear();
        let missing = |name: &str| (None, format!("missing field `{name}`"));
        let rows = self.mark_rows();
        if self.seen & Field::Id.bit() == 0 {
            return Err(missing("id"));
        }
        let (Some(stage), Some(arr), Some(start_date)) = (self.stage, self.arr, self.start_date)
        else {
            let name = if self.stage.is_none() {
                "stage"
            } else if self.arr.is_none() {
                "arr"
            } else {
                "start_date"
            };
            return Err(missing(name));
        };
        for (field, column) in [
            (Field::Name, &mut self.batch.names),
            (Field::Segment, &mut self.batch.segments),
            (Field::Plan, &mut self.batch.plans),
        ] {
            if self.seen & field.bit() == 0 {
                column.end_value();
            }
        }
        if self.batch.ids.get(rows).trim().is_empty() {
            return Err(field_error("id", "must not be empty"));
        }
        if !arr.is_finite() || arr < 0.0 {
            return Err(field_error("arr", format!("must be >= 0, got {arr}")));
        }
        let as_of = self
            .as_of
            .or(defaults.as_of)
            .ok_or_else(|| field_error("as_of", "missing (set it per line, or pass --as-of)"))?;
        for series in &mut self.batch.history {
            let start = series.ends.last().map_or(0, |e| *e as usize);
            sort_points(&mut series.days[start..], &mut series.values[start..]);
            if let Some(w) = series.days[start..].windows(2).find(|w| w[0] == w[1]) {
                return Err(field_error(
                    &format!("history.{}", series.name),
                    format!("two points on {}", w[0]),
                ));
            }
        }
        let outcomes = std::mem::take(&mut self.outcomes);
        super::check_outcomes(&outcomes)?;
        for o in &outcomes {
            if self.reads.wants(&o.name) {
                self.batch
                    .set_outcome(self.mark, &o.name, o.higher_is_better, o.value, o.target);
            }
        }
        self.batch.stages.push(stage);
        self.batch.arr.push(arr);
        self.batch.start_dates.push(start_date);
        self.batch.renewal_dates.push(self.renewal_date);
        self.batch.as_of.push(as_of);
        Ok(())
    }

    fn mark_rows(&self) -> usize {
        self.batch.lines.len()
    }
}

/// Sorts one row's points by day (stable: equal days keep file order), which files
/// need not be written in but rules may rely on.
fn sort_points(days: &mut [Date], values: &mut [f64]) {
    if days.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut points: Vec<(Date, f64)> = days.iter().copied().zip(values.iter().copied()).collect();
    points.sort_by_key(|p| p.0);
    for (i, (d, v)) in points.into_iter().enumerate() {
        days[i] = d;
        values[i] = v;
    }
}

struct RowVisitor<'a, 'b, 'r>(&'a mut Row<'b, 'r>);

impl<'de> Visitor<'de> for RowVisitor<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an account object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let row = self.0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            row.set_path(&[&*key]);
            let Some(field) = Field::of(&key) else {
                return Err(A::Error::unknown_field(&key, FIELDS));
            };
            if row.seen & field.bit() != 0 {
                return Err(A::Error::duplicate_field(FIELDS[field as usize]));
            }
            row.seen |= field.bit();
            match field {
                Field::Id => text_into(&mut map, &mut row.batch.ids)?,
                Field::Name => text_into(&mut map, &mut row.batch.names)?,
                Field::Segment => text_into(&mut map, &mut row.batch.segments)?,
                Field::Plan => text_into(&mut map, &mut row.batch.plans)?,
                Field::Stage => row.stage = Some(map.next_value()?),
                Field::Arr => row.arr = Some(map.next_value()?),
                Field::StartDate => row.start_date = Some(map.next_value_seed(DateSeed)?),
                Field::RenewalDate => {
                    row.renewal_date = map.next_value_seed(OptionSeed(DateSeed))?
                }
                Field::AsOf => row.as_of = map.next_value_seed(OptionSeed(DateSeed))?,
                Field::Measures => map.next_value_seed(MapSeed(&mut *row, Field::Measures))?,
                Field::History => map.next_value_seed(MapSeed(&mut *row, Field::History))?,
                Field::Attributes => map.next_value_seed(MapSeed(&mut *row, Field::Attributes))?,
                Field::Reached => map.next_value_seed(MapSeed(&mut *row, Field::Reached))?,
                Field::Outcomes => {
                    row.outcomes = map.next_value_seed(OutcomesSeed(&mut row.path))?;
                }
            }
        }
        Ok(())
    }
}

fn text_into<'de, A: MapAccess<'de>>(
    map: &mut A,
    column: &mut crate::batch::TextColumn,
) -> Result<(), A::Error> {
    map.next_value_seed(TextSeed(&mut column.data))?;
    column.end_value();
    Ok(())
}

/// A map key, borrowed from the input unless it had escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A string appended to a buffer.
struct TextSeed<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TextSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
}

/// A `YYYY-MM-DD` day, parsed without building a `String`.
#[derive(Clone, Copy)]
struct DateSeed;

impl<'de> DeserializeSeed<'de> for DateSeed {
    type Value = Date;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Date, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for DateSeed {
    type Value = Date;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Date, E> {
        v.parse().map_err(E::custom)
    }
}

/// `null` or a value of `S`.
struct OptionSeed<S>(S);

impl<'de, S: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for OptionSeed<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for OptionSeed<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// One of the named maps of an account (`measures`, `history`, `attributes`,
/// `milestones_reached`), written into the row's columns.
struct MapSeed<'a, 'b, 'r>(&'a mut Row<'b, 'r>, Field);

impl<'de> DeserializeSeed<'de> for MapSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MapSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let MapSeed(row, field) = self;
        let prefix = FIELDS[field as usize];
        // A key given twice is an error, not "the last one wins".
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            row.set_path(&[prefix, ".", &key]);
            if keys.contains(&key) {
                return Err(A::Error::custom(format!("`{key}` is given twice")));
            }
            let (mark, wanted) = (row.mark, row.reads.wants(&key));
            match field {
                Field::Measures => {
                    let value: Option<f64> = map.next_value()?;
                    if let Some(v) = value.filter(|_| wanted) {
                        row.batch.set_measure(mark, &key, v);
                    }
                }
                Field::History => {
                    if wanted {
                        let series = row.batch.series(mark, &key);
                        map.next_value_seed(PointsSeed {
                            days: Some(&mut series.days),
                            values: &mut series.values,
                        })?;
                    } else {
                        map.next_value_seed(PointsSeed {
                            days: None,
                            values: &mut Vec::new(),
                        })?;
                    }
                }
                Field::Attributes => {
                    if wanted {
                        map.next_value_seed(TextSeed(row.batch.attribute(mark, &key)))?;
                    } else {
                        map.next_value_seed(TextSeed(&mut String::new()))?;
                    }
                }
                Field::Reached => {
                    let day = map.next_value_seed(DateSeed)?;
                    row.batch.set_reached(mark, &key, day);
                }
                _ => unreachable!("only the four maps are read with MapSeed"),
            }
            keys.push(key);
        }
        Ok(())
    }
}

/// `[["YYYY-MM-DD", value], ...]` appended to a series (or only checked, without
/// `days`).
struct PointsSeed<'a> {
    days: Option<&'a mut Vec<Date>>,
    values: &'a mut Vec<f64>,
}

impl<'de> DeserializeSeed<'de> for PointsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PointsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some((day, value)) = seq.next_element_seed(PointSeed)? {
            if let Some(days) = self.days.as_deref_mut() {
                days.push(day);
                self.values.push(value);
            }
        }
        Ok(())
    }
}

/// One `["YYYY-MM-DD", value]` pair.
struct PointSeed;

impl<'de> DeserializeSeed<'de> for PointSeed {
    type Value = (Date, f64);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for PointSeed {
    type Value = (Date, f64);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tuple of size 2")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let day = seq
            .next_element_seed(DateSeed)?
            .ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let value: f64 = seq
            .next_element()?
            .ok_or_else(|| A::Error::invalid_length(1, &self))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(A::Error::invalid_length(3, &self));
        }
        Ok((day, value))
    }
}

/// The `outcomes` list, rare and small: read with serde's derive, its inner path
/// appended to the row's for errors.
struct OutcomesSeed<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for OutcomesSeed<'_> {
    type Value = Vec<OutcomeKpi>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        serde_path_to_error::deserialize(d).map_err(|e| {
            let inner = e.path().to_string();
            if inner != "." {
                self.0.push_str(&inner);
            }
            e.into_inner()
        })
    }
}
