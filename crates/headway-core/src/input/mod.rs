//! Reading accounts from JSON Lines or CSV text, straight into columnar batches.
//!
//! Parsing never stops at the first bad line: every line either becomes a row of
//! an [`AccountBatch`] or an [`InputError`] naming the source, line and field, so
//! the rest of a file still scores and nothing is dropped silently. The caller
//! reads the file (in chunks, for a streaming run); this module only sees text.
//! A repeated account id is caught by [`DuplicateIds`], which sees lines in file
//! order.

mod csv;
mod json;

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};

pub use self::csv::CsvColumns;
use crate::Date;
use crate::account::{Account, OutcomeKpi};
use crate::batch::{AccountBatch, Reads};

/// One rejected input line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    /// The file (or other source) the line came from.
    pub source_name: String,
    /// 1-based line number.
    pub line: usize,
    /// The field at fault, as a path such as `measures.seats`, when known.
    pub field: Option<String>,
    /// The account id on that line, when it could be read.
    pub account_id: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.source_name, self.line)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl InputError {
    fn at(source_name: &str, line: usize, account_id: Option<String>, e: FieldError) -> Self {
        Self {
            source_name: source_name.to_owned(),
            line,
            field: e.0.map(|f| excerpt(&f)),
            account_id: account_id.map(|id| excerpt(&id)),
            message: excerpt(&e.1),
        }
    }
}

/// The longest text an error quotes from its input: a 100 MB value makes a
/// 100 MB message otherwise.
pub const MAX_QUOTED_BYTES: usize = 200;

/// `text`, cut to about [`MAX_QUOTED_BYTES`] at a character boundary.
pub(crate) fn excerpt(text: &str) -> String {
    if text.len() <= MAX_QUOTED_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_QUOTED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// What a row-wise parse produced: the good accounts (with the line each came
/// from) and the rejected lines, in file order.
#[derive(Debug, Default)]
pub struct ParsedAccounts {
    /// Accounts that passed validation.
    pub accounts: Vec<Account>,
    /// `lines[i]` is the 1-based line of `accounts[i]`.
    pub lines: Vec<usize>,
    /// Rejected lines.
    pub errors: Vec<InputError>,
}

/// Values applied where the input leaves a field out.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputDefaults {
    /// Used for accounts without an `as_of` date. Without it, such lines are rejected.
    pub as_of: Option<Date>,
}

/// A validation failure before it is placed at a line: (field, message).
pub(crate) type FieldError = (Option<String>, String);

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    (Some(field.to_owned()), message.into())
}

/// Outcome names must be present and unique within an account.
fn check_outcomes(outcomes: &[OutcomeKpi]) -> Result<(), FieldError> {
    for (i, kpi) in outcomes.iter().enumerate() {
        if kpi.name.is_empty() {
            return Err(field_error(
                &format!("outcomes[{i}].name"),
                "must not be empty",
            ));
        }
        if outcomes[..i].iter().any(|o| o.name == kpi.name) {
            return Err(field_error(
                &format!("outcomes[{i}].name"),
                format!("outcome `{}` listed twice", kpi.name),
            ));
        }
    }
    Ok(())
}

/// Catches an account id seen twice for one as-of day. One file may hold several
/// days of the same book (a backfill), but an account only once per day.
///
/// Keeps a 64-bit hash per (id, day), not the ids, so a run of ten million
/// accounts needs about 150 MB here rather than gigabytes. Two different
/// accounts share a hash with a chance of about n²/2⁶⁵ (3 in a million for ten
/// million accounts).
#[derive(Default)]
pub struct DuplicateIds {
    seen: HashSet<u64, BuildHasherDefault<AlreadyHashed>>,
}

impl DuplicateIds {
    /// Records (id, day); the error if it was recorded before.
    pub fn check(&mut self, id: &str, as_of: Date) -> Result<(), FieldError> {
        let mut h = std::hash::DefaultHasher::new();
        (id, as_of).hash(&mut h);
        if self.seen.insert(h.finish()) {
            return Ok(());
        }
        Err(field_error(
            "id",
            format!("duplicate account id `{id}` for as-of {as_of} (an earlier line has it)"),
        ))
    }

    /// Places a duplicate's error at its line.
    pub fn error(source_name: &str, line: usize, id: &str, e: FieldError) -> InputError {
        InputError::at(source_name, line, Some(id.to_owned()), e)
    }
}

/// Keys that are hashes already need no second hash.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Parses JSON Lines (one account object per line; blank lines skipped) into a
/// batch. `text` holds whole lines; its first line is line `first_line` of the
/// source. Only the columns `reads` wants are kept; every field is validated.
pub fn parse_jsonl_batch(
    source_name: &str,
    text: &str,
    first_line: usize,
    defaults: &InputDefaults,
    reads: Reads,
) -> (AccountBatch, Vec<InputError>) {
    let mut batch = AccountBatch::default();
    let mut errors = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let n = first_line + i;
        let mark = batch.begin_row();
        let mut de = serde_json::Deserializer::from_str(line);
        let read = json::read_row(&mut de, &mut batch, n, defaults, reads).and_then(|()| {
            de.end().map_err(|e| {
                batch.abandon_row(mark);
                (None, strip_position(&e.to_string()))
            })
        });
        if let Err(e) = read {
            errors.push(InputError::at(source_name, n, id_of_json_line(line), e));
        }
    }
    (batch, errors)
}

/// Parses JSON Lines into row-wise accounts, rejecting repeated ids.
pub fn parse_jsonl(source_name: &str, text: &str, defaults: &InputDefaults) -> ParsedAccounts {
    let (batch, errors) = parse_jsonl_batch(source_name, text, 1, defaults, Reads::default());
    rows(source_name, &batch, errors)
}

/// Validates accounts already parsed as JSON (an API request's body) into a
/// batch, as [`parse_jsonl_batch`] would: "line" N is the Nth value.
pub fn parse_json_values(
    source_name: &str,
    values: Vec<serde_json::Value>,
    defaults: &InputDefaults,
    reads: Reads,
) -> (AccountBatch, Vec<InputError>) {
    let mut batch = AccountBatch::default();
    let mut errors = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        let id_hint = value.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        if let Err(e) = json::read_row(value, &mut batch, i + 1, defaults, reads) {
            errors.push(InputError::at(source_name, i + 1, id_hint, e));
        }
    }
    (batch, errors)
}

/// One account from a parsed JSON value, validated as a line of JSON Lines is.
pub(crate) fn account_from_value(
    value: serde_json::Value,
    defaults: &InputDefaults,
) -> Result<Account, FieldError> {
    let mut batch = AccountBatch::default();
    json::read_row(value, &mut batch, 1, defaults, Reads::default())?;
    Ok(batch.account(0))
}

/// Parses CSV with a header row into row-wise accounts, rejecting repeated ids
/// (see [`CsvColumns`] for the columns).
pub fn parse_csv(source_name: &str, text: &str, defaults: &InputDefaults) -> ParsedAccounts {
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    let columns = match CsvColumns::from_header(source_name, header) {
        Ok(c) => c,
        Err(e) => {
            return ParsedAccounts {
                errors: vec![e],
                ..ParsedAccounts::default()
            };
        }
    };
    let (batch, errors) = columns.parse(source_name, body, 2, defaults, Reads::default());
    rows(source_name, &batch, errors)
}

/// The batch's rows as accounts, merged with `errors` and checked for repeated
/// ids in line order.
fn rows(source_name: &str, batch: &AccountBatch, mut errors: Vec<InputError>) -> ParsedAccounts {
    let mut out = ParsedAccounts::default();
    let mut ids = DuplicateIds::default();
    for row in 0..batch.len() {
        let (id, line) = (batch.ids.get(row), batch.lines[row]);
        match ids.check(id, batch.as_of[row]) {
            Ok(()) => {
                out.accounts.push(batch.account(row));
                out.lines.push(line);
            }
            Err(e) => errors.push(DuplicateIds::error(source_name, line, id, e)),
        }
    }
    errors.sort_by_key(|e| e.line);
    out.errors = errors;
    out
}

/// serde_json appends "at line 1 column N"; within one line only the column helps.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line 1 column ") {
        Some(at) => format!("{} (column {})", &message[..at], &message[at + 18..]),
        None => message.to_owned(),
    }
}

fn id_of_json_line(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(value.get("id")?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"a1","name":"Acme","stage":"active","arr":1200,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"seats":10,"nps":null},"history":{"wau":[["2026-10-01",4],["2026-09-01",3]]},"outcomes":[{"name":"otif","value":0.9,"target":0.95}],"milestones_reached":{"first-value":"2025-02-01"}}"#;

    fn jsonl(text: &str) -> ParsedAccounts {
        parse_jsonl("accounts.jsonl", text, &InputDefaults::default())
    }

    #[test]
    fn json_values_validate_like_json_lines() {
        let text = "{\"id\":\"a\",\"stage\":\"active\",\"arr\":1,\"start_date\":\"2026-01-01\",\"as_of\":\"2026-11-01\"}\n\
                    {\"id\":\"b\",\"stage\":\"asleep\",\"arr\":1,\"start_date\":\"2026-01-01\"}\n\
                    {\"id\":\"a\",\"stage\":\"active\",\"arr\":1,\"start_date\":\"2026-01-01\",\"as_of\":\"2026-11-01\"}";
        let values = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let (batch, errors) =
            parse_json_values("req", values, &InputDefaults::default(), Reads::default());
        let from_values = rows("req", &batch, errors);
        let from_lines = parse_jsonl("req", text, &InputDefaults::default());
        assert_eq!(from_values.accounts, from_lines.accounts);
        assert_eq!(from_values.lines, [1]);
        // The same errors, less the column a parsed value no longer has.
        let messages = |p: &ParsedAccounts| {
            p.errors
                .iter()
                .map(|e| {
                    let m = e.to_string();
                    m.split(" (column").next().unwrap_or(&m).to_owned()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(messages(&from_values), messages(&from_lines));
        assert_eq!(
            from_values.errors.len(),
            2,
            "an unknown stage and a duplicate"
        );
        assert_eq!(from_values.errors[0].account_id.as_deref(), Some("b"));
    }

    #[test]
    fn reads_a_full_account() {
        let p = jsonl(GOOD);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let a = &p.accounts[0];
        assert_eq!(a.id, "a1");
        assert_eq!(a.measures.len(), 1, "null measures are missing, not zero");
        assert_eq!(a.measures["seats"], 10.0);
        let days: Vec<String> = a.history["wau"]
            .iter()
            .map(|p| p.date.to_string())
            .collect();
        assert_eq!(days, ["2026-09-01", "2026-10-01"], "history is sorted");
        assert!(
            a.outcomes[0].higher_is_better,
            "higher is better by default"
        );
        assert_eq!(
            a.milestones_reached["first-value"].to_string(),
            "2025-02-01"
        );
        assert_eq!(p.lines, [1]);
    }

    #[test]
    fn bad_lines_name_line_and_field_and_the_rest_still_parse() {
        let text = [
            GOOD,
            "",
            r#"{"id":"a2","stage":"active","arr":"lots","start_date":"2025-01-01","as_of":"2026-11-01"}"#,
            r#"{"id":"a3","stage":"active","arr":5,"start_date":"2025-02-30","as_of":"2026-11-01"}"#,
            r#"{"id":"a4","stage":"asleep","arr":5,"start_date":"2025-01-01","as_of":"2026-11-01"}"#,
            r#"{"id":"a5","stage":"active","arr":5,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"seats":"ten"}}"#,
            r#"{"id":"a1","stage":"active","arr":5,"start_date":"2025-01-01","as_of":"2026-11-01"}"#,
            r#"{"id":"a6","stage":"active","arr":-5,"start_date":"2025-01-01","as_of":"2026-11-01"}"#,
            r#"{"id":"a7","stage":"active","arr":5,"start_date":"2025-01-01"}"#,
            r#"{"id":"a8","stage":"active","arr":5,"start_date":"2025-01-01","as_of":"2026-11-01","mesures":{}}"#,
            r#"{"id": "a9", "stage": "#,
            r#"{"id":"ok","stage":"trial","arr":0,"start_date":"2026-10-01","as_of":"2026-11-01"}"#,
        ]
        .join("\n");
        let p = jsonl(&text);
        assert_eq!(
            p.accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["a1", "ok"]
        );
        assert_eq!(p.lines, [1, 12]);
        let got: Vec<(usize, Option<&str>)> = p
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (3, Some("arr")),
                (4, Some("start_date")),
                (5, Some("stage")),
                (6, Some("measures.seats")),
                (7, Some("id")),
                (8, Some("arr")),
                (9, Some("as_of")),
                (10, Some("mesures")),
                (11, Some("stage")),
            ]
        );
        let msg = |line: usize| {
            p.errors
                .iter()
                .find(|e| e.line == line)
                .unwrap()
                .to_string()
        };
        assert!(
            msg(3).starts_with("accounts.jsonl:3: field `arr`: invalid type: string \"lots\""),
            "{}",
            msg(3)
        );
        assert!(
            msg(4).contains("invalid date `2025-02-30`: day out of range"),
            "{}",
            msg(4)
        );
        assert!(msg(5).contains("unknown variant `asleep`"), "{}", msg(5));
        assert!(
            msg(7).contains("duplicate account id `a1` for as-of"),
            "{}",
            msg(7)
        );
        assert!(msg(10).contains("unknown field `mesures`"), "{}", msg(10));
        assert_eq!(p.errors[0].account_id.as_deref(), Some("a2"));
        assert_eq!(p.errors[8].account_id, None, "unparsable line has no id");
    }

    #[test]
    fn repeated_keys_are_errors_and_long_values_are_quoted_short() {
        let base = r#""stage":"active","arr":5,"start_date":"2025-01-01","as_of":"2026-11-01""#;
        let text = [
            format!(r#"{{"id":"a",{base},"measures":{{"seats":1,"seats":2}}}}"#),
            format!(r#"{{"id":"b",{base},"attributes":{{"x":"1","x":"2"}}}}"#),
            format!(r#"{{"id":"c",{base},"id":"d"}}"#),
            format!(r#"{{"id":"e",{base},"measures":{{"seats":"{}"}}}}"#, "x".repeat(1 << 20)),
            format!(r#"{{"id":"f",{base},"measures":{{"seats":1,"nps":null}},"history":{{"w":[["2026-01-01",1]],"v":[]}}}}"#),
        ]
        .join("\n");
        let p = jsonl(&text);
        let got: Vec<(usize, Option<&str>)> = p
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (1, Some("measures.seats")),
                (2, Some("attributes.x")),
                (3, Some("id")),
                (4, Some("measures.seats"))
            ]
        );
        assert!(
            p.errors[0].message.contains("`seats` is given twice"),
            "{}",
            p.errors[0]
        );
        assert!(
            p.errors[2].message.contains("duplicate field `id`"),
            "{}",
            p.errors[2]
        );
        assert!(
            p.errors[3].message.len() < 300 && p.errors[3].message.ends_with("bytes)"),
            "a 1 MiB value is quoted in an excerpt: {} bytes",
            p.errors[3].message.len()
        );
        assert_eq!(p.accounts.len(), 1);
    }

    #[test]
    fn escaped_keys_and_strings_read_like_plain_ones() {
        let text = r#"{"id":"a\u0031","n\u0061me":"Caf\u00e9 \"Q\"","stage":"active","arr":5,"start_date":"2025-01-01","as_of":"2026-11-01","measures":{"se\u0061ts":3}}"#;
        let p = jsonl(text);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let a = &p.accounts[0];
        assert_eq!((a.id.as_str(), a.name.as_str()), ("a1", "Café \"Q\""));
        assert_eq!(a.measures["seats"], 3.0);
    }

    #[test]
    fn history_points_are_checked_and_trailing_text_refused() {
        let base =
            r#""id":"h","stage":"active","arr":5,"start_date":"2025-01-01","as_of":"2026-11-01""#;
        let text = [
            format!(r#"{{{base},"history":{{"w":[["2026-01-01",1,2]]}}}}"#),
            format!(r#"{{{base},"history":{{"w":[["2026-13-01",1]]}}}}"#),
            format!(r#"{{{base},"history":{{"w":[["2026-01-01",1],["2026-01-01",2]]}}}}"#),
            format!(r#"{{{base}}} trailing"#),
        ]
        .join("\n");
        let p = jsonl(&text);
        let got: Vec<(usize, Option<&str>)> = p
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (1, Some("history.w")),
                (2, Some("history.w")),
                (3, Some("history.w")),
                (4, None)
            ]
        );
        assert!(
            p.errors[1].message.contains("month out of range"),
            "{}",
            p.errors[1]
        );
        assert!(
            p.errors[2].message.contains("two points on 2026-01-01"),
            "{}",
            p.errors[2]
        );
        assert!(
            p.errors[3].message.contains("trailing characters"),
            "{}",
            p.errors[3]
        );
    }

    #[test]
    fn default_as_of_fills_missing_dates_only() {
        let line = r#"{"id":"a","stage":"active","arr":5,"start_date":"2025-01-01"}"#;
        let as_of = Date::from_ymd(2026, 1, 31);
        let p = parse_jsonl("f", &format!("{line}\n{GOOD}"), &InputDefaults { as_of });
        assert!(p.errors.is_empty());
        assert_eq!(p.accounts[0].as_of.to_string(), "2026-01-31");
        assert_eq!(p.accounts[1].as_of.to_string(), "2026-11-01");
    }

    #[test]
    fn empty_input_is_no_accounts_and_no_errors() {
        let p = jsonl("");
        assert!(p.accounts.is_empty() && p.errors.is_empty());
        let p = parse_csv("a.csv", "", &InputDefaults::default());
        assert!(p.accounts.is_empty());
        assert_eq!(p.errors.len(), 1, "a CSV without a header is an error");
    }

    #[test]
    fn csv_reads_prefixed_columns() {
        let text = "id,name,stage,arr,start_date,as_of,measure.seats,attribute.region,outcome.cpc,outcome.cpc.target,outcome.cpc.direction,reached.first-value\n\
                    c1,Beta,active,1000,2025-01-01,2026-11-01,12,emea,0.8,1.0,lower,2025-03-01\n\
                    c2,Gamma,trial,0,2026-10-01,2026-11-01,,,,,,\n";
        let p = parse_csv("a.csv", text, &InputDefaults::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let c1 = &p.accounts[0];
        assert_eq!(c1.measures["seats"], 12.0);
        assert_eq!(c1.attributes["region"], "emea");
        assert_eq!(
            c1.outcomes,
            [OutcomeKpi {
                name: "cpc".into(),
                value: 0.8,
                target: Some(1.0),
                higher_is_better: false
            }]
        );
        assert_eq!(
            c1.milestones_reached["first-value"].to_string(),
            "2025-03-01"
        );
        let c2 = &p.accounts[1];
        assert!(c2.measures.is_empty() && c2.outcomes.is_empty() && c2.attributes.is_empty());
        assert_eq!(p.lines, [2, 3]);
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let text = "id,stage,arr,start_date,as_of,measure.seats\n\
                    c1,active,1000,2025-01-01,2026-11-01,twelve\n\
                    c2,active,1000,2025-01-01,2026-11-01,3\n\
                    c3,active,1000,2025-01-01\n";
        let p = parse_csv("a.csv", text, &InputDefaults::default());
        assert_eq!(p.accounts.len(), 1);
        assert_eq!(p.errors.len(), 2);
        assert_eq!(
            p.errors[0].to_string(),
            "a.csv:2: field `measure.seats`: expected a number, got `twelve`"
        );
        assert_eq!(p.errors[1].line, 4, "a short row is reported at its line");

        let bad_header = parse_csv(
            "b.csv",
            "id,stage,arr,start_date,colour\n",
            &InputDefaults::default(),
        );
        assert_eq!(bad_header.errors[0].field.as_deref(), Some("colour"));
        let no_arr = parse_csv("c.csv", "id,stage,start_date\n", &InputDefaults::default());
        assert_eq!(
            no_arr.errors[0].to_string(),
            "c.csv:1: field `arr`: header has no `arr` column"
        );
    }

    #[test]
    fn csv_rows_read_the_same_quoted_or_not() {
        // Unquoted rows take a shortcut past the CSV state machine; quoting
        // every field forces the machine. Both must give the same accounts,
        // lines and errors, over CRLF, blank lines, empty cells and a last
        // row without a newline.
        let header = "id,name,stage,arr,start_date,as_of,measure.seats,attribute.region";
        let rows = [
            "c1,Beta,active,1000,2025-01-01,2026-11-01,12,emea",
            "",
            "c2,,trial,0,2026-10-01,2026-11-01,,",
            "c3,Delta,active,x,2025-01-01,2026-11-01,1,apac",
            "c4,Echo,active,5,2025-01-01,2026-11-01,2",
            "c5,Fox,churned,7.5,2024-02-29,2026-11-01,3,us",
            "c6,Zoë Ørsted,active,9,2025-01-01,2026-11-01,4,eu",
        ];
        let quoted = |row: &str| {
            row.split(',')
                .map(|f| format!("\"{f}\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        for newline in ["\n", "\r\n"] {
            let plain = format!("{header}{newline}{}", rows.join(newline));
            let forced = format!(
                "{header}{newline}{}",
                rows.map(|r| if r.is_empty() {
                    String::new()
                } else {
                    quoted(r)
                })
                .join(newline)
            );
            let (a, b) = (
                parse_csv("a.csv", &plain, &InputDefaults::default()),
                parse_csv("a.csv", &forced, &InputDefaults::default()),
            );
            assert_eq!(a.accounts, b.accounts);
            assert_eq!(a.lines, b.lines);
            assert_eq!(a.lines, [2, 4, 7, 8]);
            assert_eq!(
                a.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                b.errors.iter().map(ToString::to_string).collect::<Vec<_>>()
            );
            assert_eq!(a.errors.len(), 2, "{:?}", a.errors);
            assert_eq!(a.accounts[1].name, "", "an empty cell is an empty value");
            assert_eq!(a.accounts[3].name, "Zoë Ørsted");
        }
        // A quoted row between plain ones.
        let mixed = format!(
            "{header}\n{}\nc9,\"Acme, \"\"the\"\" Co\",active,1,2025-01-01,2026-11-01,1,x\n{}\n",
            rows[0], rows[6]
        );
        let p = parse_csv("m.csv", &mixed, &InputDefaults::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let names: Vec<&str> = p.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Beta", "Acme, \"the\" Co", "Zoë Ørsted"]);
    }
}
