//! One reader for row-shaped inputs that are not account books (revenue ledgers,
//! survey answers): CSV with a header row or JSON Lines with the same keys, into
//! any `Deserialize` struct, every bad row named with its source, line and field.
//!
//! Account books take the columnar path in [`crate::input`] instead: they are the
//! hot path of a scoring run and are parsed straight into batch columns.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};

use crate::input::InputError;

/// An [`InputError`] for a row of a record file.
pub fn record_error(source: &str, line: usize, field: Option<&str>, message: String) -> InputError {
    InputError {
        source_name: source.to_owned(),
        line,
        field: field.map(str::to_owned),
        account_id: None,
        message,
    }
}

/// Reads records from CSV (`csv_format`: a header row; cells trimmed; columns the
/// record does not name are ignored; empty cells are missing) or JSON Lines (unknown
/// keys are refused by the record's own `deny_unknown_fields`). Returns the rows
/// with their line numbers, and an error for every row that is not one: none is
/// dropped silently.
pub fn read_records<T: for<'de> Deserialize<'de>>(
    source: &str,
    text: &str,
    csv_format: bool,
) -> (Vec<(usize, T)>, Vec<InputError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut keep = |line: usize, row: Result<T, (Option<String>, String)>| match row {
        Ok(row) => rows.push((line, row)),
        Err((field, message)) => errors.push(record_error(source, line, field.as_deref(), message)),
    };
    if csv_format {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                return (
                    Vec::new(),
                    vec![record_error(source, 1, None, e.to_string())],
                );
            }
        };
        for record in reader.records() {
            match record {
                Ok(record) => {
                    let line = record.position().map_or(0, |p| p.line() as usize);
                    let row = CsvRow {
                        headers: &headers,
                        record: &record,
                    };
                    keep(line, serde_path_to_error::deserialize(row).map_err(named));
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    keep(line, Err((None, e.to_string())));
                }
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let de = &mut serde_json::Deserializer::from_str(line);
            keep(i + 1, serde_path_to_error::deserialize(de).map_err(named));
        }
    }
    (rows, errors)
}

/// The field a row failed at (none for the row as a whole) and what was wrong.
fn named<E: fmt::Display>(e: serde_path_to_error::Error<E>) -> (Option<String>, String) {
    let field = e.path().to_string();
    ((field != ".").then_some(field), e.into_inner().to_string())
}

/// What was wrong with one row, in words.
#[derive(Debug)]
pub struct Failure(String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

impl de::Error for Failure {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        Self(msg.to_string())
    }
}

/// One CSV row as a map from the record's field names to their cells.
struct CsvRow<'a> {
    headers: &'a csv::StringRecord,
    record: &'a csv::StringRecord,
}

impl<'de> de::Deserializer<'de> for CsvRow<'_> {
    type Error = Failure;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Failure> {
        Err(de::Error::custom("a CSV row is read into a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Failure> {
        let cells = self
            .headers
            .iter()
            .zip(self.record.iter())
            .filter(|(column, cell)| !cell.is_empty() && fields.contains(column));
        visitor.visit_map(Cells { cells, value: None })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

struct Cells<'a, I> {
    cells: I,
    value: Option<&'a str>,
}

impl<'de, 'a, I: Iterator<Item = (&'a str, &'a str)>> MapAccess<'de> for Cells<'a, I> {
    type Error = Failure;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Failure> {
        let Some((column, cell)) = self.cells.next() else {
            return Ok(None);
        };
        self.value = Some(cell);
        seed.deserialize(column.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Failure> {
        seed.deserialize(Cell(self.value.take().unwrap_or_default()))
    }
}

/// A cell: text, read as the number, flag or option the field asks for.
struct Cell<'a>(&'a str);

impl Cell<'_> {
    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, Failure> {
        self.0
            .parse()
            .map_err(|_| de::Error::custom(format!("expected {what}, got `{}`", self.0)))
    }
}

macro_rules! numbers {
    ($($method:ident $visit:ident $ty:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
            visitor.$visit(self.parse::<$ty>($what)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Cell<'_> {
    type Error = Failure;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        visitor.visit_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Failure> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    numbers! {
        deserialize_f64 visit_f64 f64, "a number";
        deserialize_f32 visit_f32 f32, "a number";
        deserialize_i64 visit_i64 i64, "a whole number";
        deserialize_i32 visit_i32 i32, "a whole number";
        deserialize_u64 visit_u64 u64, "a whole number >= 0";
        deserialize_u32 visit_u32 u32, "a whole number >= 0";
        deserialize_bool visit_bool bool, "true or false";
    }

    forward_to_deserialize_any! {
        i8 i16 i128 u8 u16 u128 char str string bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Date;

    #[derive(Deserialize, Debug, PartialEq, Clone)]
    #[serde(deny_unknown_fields)]
    struct Row {
        account_id: String,
        date: Date,
        amount: f64,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        seats: Option<u32>,
    }

    fn row(id: &str, day: &str, amount: f64, note: Option<&str>, seats: Option<u32>) -> Row {
        Row {
            account_id: id.into(),
            date: day.parse().unwrap(),
            amount,
            note: note.map(str::to_owned),
            seats,
        }
    }

    #[test]
    fn csv_and_json_lines_read_the_same_rows() {
        let csv = "account_id, date, amount, note, seats, extra\n\
                   a, 2026-01-01, 12.5, , 3, ignored\n\
                   b, 2026-02-01, 7, hello, , x\n";
        let json = "{\"account_id\":\"a\",\"date\":\"2026-01-01\",\"amount\":12.5,\"seats\":3}\n\n\
                    {\"account_id\":\"b\",\"date\":\"2026-02-01\",\"amount\":7,\"note\":\"hello\"}\n";
        let expected = vec![
            (2, row("a", "2026-01-01", 12.5, None, Some(3))),
            (3, row("b", "2026-02-01", 7.0, Some("hello"), None)),
        ];
        let (rows, errors) = read_records::<Row>("x.csv", csv, true);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows, expected);
        let (rows, errors) = read_records::<Row>("x.jsonl", json, false);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows[0], (1, row("a", "2026-01-01", 12.5, None, Some(3))));
        assert_eq!(
            rows[1],
            (3, expected[1].1.clone()),
            "blank lines still count"
        );
    }

    #[test]
    fn every_bad_row_is_named_with_line_and_field() {
        let csv = "account_id,date,amount,seats\n\
                   a,2026-13-01,1,\n\
                   b,2026-01-01,lots,\n\
                   c,2026-01-01,1,-2\n\
                   d,2026-01-01,1,\n\
                   ,,,\n";
        let (rows, errors) = read_records::<Row>("book.csv", csv, true);
        assert_eq!(rows.len(), 1, "only d is a row");
        let named: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                (2, Some("date")),
                (3, Some("amount")),
                (4, Some("seats")),
                (6, None),
            ]
        );
        assert_eq!(errors[1].message, "expected a number, got `lots`");
        assert!(
            errors[3].message.contains("missing field"),
            "{}",
            errors[3].message
        );
        assert!(errors.iter().all(|e| e.source_name == "book.csv"));

        let json = "{\"account_id\":\"a\",\"date\":\"2026-01-01\",\"amount\":1,\"colour\":1}\n\
                    {\"account_id\":\"a\",\"date\":\"2026-01-01\",\"amount\":\"1\"}\n\
                    not json\n";
        let (rows, errors) = read_records::<Row>("book.jsonl", json, false);
        assert!(rows.is_empty());
        let named: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(named, [(1, Some("colour")), (2, Some("amount")), (3, None)]);
        assert!(errors[0].message.contains("unknown field `colour`"));
    }

    #[test]
    fn empty_inputs_read_no_rows() {
        for (text, csv) in [
            ("", true),
            ("account_id,date,amount\n", true),
            ("", false),
            ("\n\n", false),
        ] {
            let (rows, errors) = read_records::<Row>("e", text, csv);
            assert!(rows.is_empty() && errors.is_empty(), "{text:?}");
        }
    }
}
