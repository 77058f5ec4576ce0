//! Reading accounts from JSON Lines or CSV text.
//!
//! Parsing never stops at the first bad line: every line either becomes an
//! [`Account`] or an [`InputError`] naming the source, line and field, so the rest
//! of a file still scores and nothing is dropped silently. The caller reads the
//! file; this module only sees text.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;

use crate::Date;
use crate::account::{Account, LifecycleStage, OutcomeKpi, Point};

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

/// What a parse produced: the good accounts (with the line each came from) and
/// the rejected lines, in file order.
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

/// The on-disk shape of one account (JSON Lines). `Account` is the validated form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    segment: String,
    #[serde(default)]
    plan: String,
    stage: LifecycleStage,
    arr: f64,
    start_date: Date,
    #[serde(default)]
    renewal_date: Option<Date>,
    #[serde(default)]
    as_of: Option<Date>,
    #[serde(default)]
    measures: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    history: BTreeMap<String, Vec<Point>>,
    #[serde(default)]
    outcomes: Vec<OutcomeKpi>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    milestones_reached: BTreeMap<String, Date>,
}

/// A validation failure before it is placed at a line: (field, message).
pub(crate) type FieldError = (Option<String>, String);

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    (Some(field.to_owned()), message.into())
}

impl RawAccount {
    pub(crate) fn validate(self, defaults: &InputDefaults) -> Result<Account, FieldError> {
        if self.id.trim().is_empty() {
            return Err(field_error("id", "must not be empty"));
        }
        if !self.arr.is_finite() || self.arr < 0.0 {
            return Err(field_error(
                "arr",
                format!("must be >= 0, got {}", self.arr),
            ));
        }
        let as_of = self
            .as_of
            .or(defaults.as_of)
            .ok_or_else(|| field_error("as_of", "missing (set it per line, or pass --as-of)"))?;
        let mut history = self.history;
        for (name, points) in &mut history {
            // Rules may rely on order; files need not be written in order.
            points.sort_by_key(|p| p.date);
            if let Some(w) = points.windows(2).find(|w| w[0].date == w[1].date) {
                return Err(field_error(
                    &format!("history.{name}"),
                    format!("two points on {}", w[0].date),
                ));
            }
        }
        let mut seen = BTreeMap::new();
        for (i, kpi) in self.outcomes.iter().enumerate() {
            if kpi.name.is_empty() {
                return Err(field_error(
                    &format!("outcomes[{i}].name"),
                    "must not be empty",
                ));
            }
            if seen.insert(kpi.name.as_str(), i).is_some() {
                return Err(field_error(
                    &format!("outcomes[{i}].name"),
                    format!("outcome `{}` listed twice", kpi.name),
                ));
            }
        }
        Ok(Account {
            id: self.id,
            name: self.name,
            segment: self.segment,
            plan: self.plan,
            stage: self.stage,
            arr: self.arr,
            start_date: self.start_date,
            renewal_date: self.renewal_date,
            as_of,
            measures: self
                .measures
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
            history,
            outcomes: self.outcomes,
            attributes: self.attributes,
            milestones_reached: self.milestones_reached,
        })
    }
}

/// Collects accounts and errors, rejecting a repeated account id.
struct Collector<'a> {
    source_name: &'a str,
    out: ParsedAccounts,
    first_line_of: HashMap<(String, Date), usize>,
}

impl<'a> Collector<'a> {
    fn new(source_name: &'a str) -> Self {
        Self {
            source_name,
            out: ParsedAccounts::default(),
            first_line_of: HashMap::new(),
        }
    }

    fn reject(&mut self, line: usize, account_id: Option<String>, (field, message): FieldError) {
        self.out.errors.push(InputError {
            source_name: self.source_name.to_owned(),
            line,
            field,
            account_id,
            message,
        });
    }

    fn push(&mut self, line: usize, account: Result<Account, FieldError>, id_hint: Option<String>) {
        match account {
            Err(e) => self.reject(line, id_hint, e),
            Ok(account) => {
                // One file may hold several days of the same book (a backfill),
                // but an account only once per day.
                let key = (account.id.clone(), account.as_of);
                if let Some(first) = self.first_line_of.get(&key) {
                    let msg = format!(
                        "duplicate account id `{}` for as-of {} (first on line {first})",
                        account.id, account.as_of
                    );
                    self.reject(line, Some(account.id), field_error("id", msg));
                    return;
                }
                self.first_line_of.insert(key, line);
                self.out.accounts.push(account);
                self.out.lines.push(line);
            }
        }
    }
}

/// Parses JSON Lines: one account object per line; blank lines are skipped.
pub fn parse_jsonl(source_name: &str, text: &str, defaults: &InputDefaults) -> ParsedAccounts {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    // Lines are independent: parse them on every core, then check ids in file order.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = lines.len().div_ceil(threads).max(1_000);
    let parsed: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&(n, line)| (n, parse_line(line, defaults), line))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("parser thread panicked"))
            .collect()
    });
    let mut c = Collector::new(source_name);
    for (n, result, line) in parsed {
        let id_hint = result.is_err().then(|| id_of_json_line(line)).flatten();
        c.push(n, result, id_hint);
    }
    c.out
}

/// Validates accounts already parsed as JSON (an API request's body), as
/// [`parse_jsonl`] would: "line" N is the Nth value.
pub fn parse_json_values(
    source_name: &str,
    values: Vec<serde_json::Value>,
    defaults: &InputDefaults,
) -> ParsedAccounts {
    let mut c = Collector::new(source_name);
    for (i, value) in values.into_iter().enumerate() {
        let id_hint = value.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        c.push(i + 1, validate_json(value, defaults), id_hint);
    }
    c.out
}

fn parse_line(line: &str, defaults: &InputDefaults) -> Result<Account, FieldError> {
    validate_json(&mut serde_json::Deserializer::from_str(line), defaults)
}

fn validate_json<'de, D: serde::Deserializer<'de>>(
    de: D,
    defaults: &InputDefaults,
) -> Result<Account, FieldError>
where
    D::Error: std::fmt::Display,
{
    serde_path_to_error::deserialize::<_, RawAccount>(de)
        .map_err(|e| {
            let path = e.path().to_string();
            let field = (path != ".").then_some(path);
            (field, strip_position(&e.into_inner().to_string()))
        })
        .and_then(|raw| raw.validate(defaults))
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

/// Parses CSV with a header row. Columns: `id`, `name`, `segment`, `plan`, `stage`,
/// `arr`, `start_date`, `renewal_date`, `as_of`, then any of `measure.<name>`,
/// `attribute.<key>`, `outcome.<name>`, `outcome.<name>.target`,
/// `outcome.<name>.direction` (`higher` or `lower`), `reached.<milestone-id>`.
/// Empty cells are missing values. Histories cannot be written in CSV.
pub fn parse_csv(source_name: &str, text: &str, defaults: &InputDefaults) -> ParsedAccounts {
    let mut c = Collector::new(source_name);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            c.reject(1, None, (None, format!("unreadable header row: {e}")));
            return c.out;
        }
    };
    let columns = match CsvColumns::from_headers(&headers) {
        Ok(cols) => cols,
        Err(e) => {
            c.reject(1, None, e);
            return c.out;
        }
    };
    for record in reader.records() {
        match record {
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                c.reject(line, None, (None, e.to_string()));
            }
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let id = record.get(columns.id).map(str::to_owned);
                let parsed = columns.read(&record).and_then(|raw| raw.validate(defaults));
                c.push(line, parsed, id);
            }
        }
    }
    c.out
}

/// Where each known field sits in a CSV header.
struct CsvColumns {
    id: usize,
    fixed: Vec<(&'static str, usize)>,
    dynamic: Vec<(CsvField, usize)>,
}

enum CsvField {
    Measure(String),
    Attribute(String),
    Outcome(String),
    OutcomeTarget(String),
    OutcomeDirection(String),
    Reached(String),
}

const CSV_FIXED: [&str; 9] = [
    "id",
    "name",
    "segment",
    "plan",
    "stage",
    "arr",
    "start_date",
    "renewal_date",
    "as_of",
];

impl CsvColumns {
    fn from_headers(headers: &csv::StringRecord) -> Result<Self, FieldError> {
        let mut fixed = Vec::new();
        let mut dynamic = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim();
            if let Some(name) = CSV_FIXED.iter().find(|f| **f == h) {
                fixed.push((*name, i));
                continue;
            }
            let field = if let Some(rest) = h.strip_prefix("measure.") {
                CsvField::Measure(rest.to_owned())
            } else if let Some(rest) = h.strip_prefix("attribute.") {
                CsvField::Attribute(rest.to_owned())
            } else if let Some(rest) = h.strip_prefix("reached.") {
                CsvField::Reached(rest.to_owned())
            } else if let Some(rest) = h.strip_prefix("outcome.") {
                if let Some(name) = rest.strip_suffix(".target") {
                    CsvField::OutcomeTarget(name.to_owned())
                } else if let Some(name) = rest.strip_suffix(".direction") {
                    CsvField::OutcomeDirection(name.to_owned())
                } else {
                    CsvField::Outcome(rest.to_owned())
                }
            } else {
                return Err(field_error(
                    h,
                    "unknown column (see the CSV format in the README)",
                ));
            };
            dynamic.push((field, i));
        }
        let id = fixed
            .iter()
            .find(|(n, _)| *n == "id")
            .map(|(_, i)| *i)
            .ok_or_else(|| field_error("id", "header has no `id` column"))?;
        for required in ["stage", "arr", "start_date"] {
            if !fixed.iter().any(|(n, _)| *n == required) {
                return Err(field_error(
                    required,
                    format!("header has no `{required}` column"),
                ));
            }
        }
        Ok(Self { id, fixed, dynamic })
    }

    fn read(&self, record: &csv::StringRecord) -> Result<RawAccount, FieldError> {
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let mut raw = RawAccount {
            id: String::new(),
            name: String::new(),
            segment: String::new(),
            plan: String::new(),
            stage: LifecycleStage::Active,
            arr: 0.0,
            start_date: Date::from_days(0),
            renewal_date: None,
            as_of: None,
            measures: BTreeMap::new(),
            history: BTreeMap::new(),
            outcomes: Vec::new(),
            attributes: BTreeMap::new(),
            milestones_reached: BTreeMap::new(),
        };
        for &(name, i) in &self.fixed {
            let v = cell(i);
            match name {
                "id" => raw.id = v.to_owned(),
                "name" => raw.name = v.to_owned(),
                "segment" => raw.segment = v.to_owned(),
                "plan" => raw.plan = v.to_owned(),
                "stage" => raw.stage = parse_stage(v).map_err(|m| field_error(name, m))?,
                "arr" => raw.arr = parse_number(name, v)?.unwrap_or(f64::NAN),
                "start_date" => {
                    raw.start_date =
                        parse_date(name, v)?.ok_or_else(|| field_error(name, "missing"))?
                }
                "renewal_date" => raw.renewal_date = parse_date(name, v)?,
                "as_of" => raw.as_of = parse_date(name, v)?,
                _ => unreachable!("CSV_FIXED lists every fixed column"),
            }
        }
        let mut outcomes: BTreeMap<&str, OutcomeKpi> = BTreeMap::new();
        for (field, i) in &self.dynamic {
            let v = cell(*i);
            let header = || record_header(field);
            match field {
                CsvField::Measure(name) => {
                    if let Some(x) = parse_number(&header(), v)? {
                        raw.measures.insert(name.clone(), Some(x));
                    }
                }
                CsvField::Attribute(key) => {
                    if !v.is_empty() {
                        raw.attributes.insert(key.clone(), v.to_owned());
                    }
                }
                CsvField::Reached(id) => {
                    if let Some(d) = parse_date(&header(), v)? {
                        raw.milestones_reached.insert(id.clone(), d);
                    }
                }
                CsvField::Outcome(name) => {
                    if let Some(x) = parse_number(&header(), v)? {
                        outcome_entry(&mut outcomes, name).value = x;
                    }
                }
                CsvField::OutcomeTarget(name) => {
                    if let Some(x) = parse_number(&header(), v)? {
                        outcome_entry(&mut outcomes, name).target = Some(x);
                    }
                }
                CsvField::OutcomeDirection(name) => match v {
                    "" | "higher" => {}
                    "lower" => outcome_entry(&mut outcomes, name).higher_is_better = false,
                    other => {
                        return Err(field_error(
                            &header(),
                            format!("expected `higher` or `lower`, got `{other}`"),
                        ));
                    }
                },
            }
        }
        // A KPI with a target or direction but no value this period is not tracked.
        raw.outcomes = outcomes
            .into_values()
            .filter(|k| !k.value.is_nan())
            .collect();
        Ok(raw)
    }
}

fn outcome_entry<'m, 'k>(
    map: &'m mut BTreeMap<&'k str, OutcomeKpi>,
    name: &'k str,
) -> &'m mut OutcomeKpi {
    map.entry(name).or_insert_with(|| OutcomeKpi {
        name: name.to_owned(),
        value: f64::NAN,
        target: None,
        higher_is_better: true,
    })
}

fn record_header(field: &CsvField) -> String {
    match field {
        CsvField::Measure(n) => format!("measure.{n}"),
        CsvField::Attribute(n) => format!("attribute.{n}"),
        CsvField::Reached(n) => format!("reached.{n}"),
        CsvField::Outcome(n) => format!("outcome.{n}"),
        CsvField::OutcomeTarget(n) => format!("outcome.{n}.target"),
        CsvField::OutcomeDirection(n) => format!("outcome.{n}.direction"),
    }
}

fn parse_stage(v: &str) -> Result<LifecycleStage, String> {
    LifecycleStage::ALL
        .into_iter()
        .find(|s| s.as_str() == v)
        .ok_or_else(|| {
            let names: Vec<_> = LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown stage `{v}`, expected one of {}", names.join(", "))
        })
}

fn parse_number(field: &str, v: &str) -> Result<Option<f64>, FieldError> {
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(field_error(field, format!("expected a number, got `{v}`"))),
    }
}

fn parse_date(field: &str, v: &str) -> Result<Option<Date>, FieldError> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|e: crate::date::DateError| field_error(field, e.to_string()))
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
        let from_values = parse_json_values("req", values, &InputDefaults::default());
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
}
