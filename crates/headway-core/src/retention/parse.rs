//! Reading ledgers and survey answers from CSV or JSON Lines, every bad row
//! named with its line and field.

use serde::Deserialize;

use super::{ledger::*, surveys::*};
use crate::Date;
use crate::input::InputError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRow {
    account_id: String,
    date: Date,
    arr: f64,
    #[serde(default)]
    stage: Option<RevenueStage>,
    #[serde(default)]
    segment: Option<String>,
    #[serde(default)]
    term_end: Option<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSurvey {
    account_id: String,
    date: Date,
    kind: SurveyKind,
    score: f64,
}

pub(super) fn input_error(
    source: &str,
    line: usize,
    field: Option<&str>,
    message: String,
) -> InputError {
    InputError {
        source_name: source.to_owned(),
        line,
        field: field.map(str::to_owned),
        account_id: None,
        message,
    }
}

/// Reads records from CSV (header row; extra columns ignored; empty cells missing)
/// or JSON Lines (same keys), by `csv`. Every bad row is an error naming source,
/// line and field; none is dropped silently.
pub(super) fn read_records<T: for<'de> Deserialize<'de> + Known>(
    source: &str,
    text: &str,
    csv_format: bool,
) -> (Vec<(usize, T)>, Vec<InputError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    if csv_format {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => return (rows, vec![input_error(source, 1, None, e.to_string())]),
        };
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    errors.push(input_error(source, line, None, e.to_string()));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line() as usize);
            // Through JSON so that both formats share one definition of a row.
            let mut object = serde_json::Map::new();
            for (h, v) in headers.iter().zip(record.iter()) {
                if v.is_empty() || !T::knows(h) {
                    continue;
                }
                let value = match v.parse::<f64>() {
                    Ok(x) if h == "arr" || h == "score" => serde_json::json!(x),
                    _ => serde_json::Value::String(v.to_owned()),
                };
                object.insert(h.to_owned(), value);
            }
            match serde_path_to_error::deserialize::<_, T>(serde_json::Value::Object(object)) {
                Ok(row) => rows.push((line, row)),
                Err(e) => {
                    let field = e.path().to_string();
                    errors.push(input_error(
                        source,
                        line,
                        (field != ".").then_some(field.as_str()),
                        e.into_inner().to_string(),
                    ));
                }
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let de = &mut serde_json::Deserializer::from_str(line);
            match serde_path_to_error::deserialize::<_, T>(de) {
                Ok(row) => rows.push((i + 1, row)),
                Err(e) => {
                    let field = e.path().to_string();
                    errors.push(input_error(
                        source,
                        i + 1,
                        (field != ".").then_some(field.as_str()),
                        e.into_inner().to_string(),
                    ));
                }
            }
        }
    }
    (rows, errors)
}

/// Which CSV columns a record type reads (others are ignored).
pub(super) trait Known {
    fn knows(column: &str) -> bool;
}

impl Known for RawRow {
    fn knows(column: &str) -> bool {
        matches!(
            column,
            "account_id" | "date" | "arr" | "stage" | "segment" | "term_end"
        )
    }
}

impl Known for RawSurvey {
    fn knows(column: &str) -> bool {
        matches!(column, "account_id" | "date" | "kind" | "score")
    }
}

/// Parses a revenue ledger (CSV with a header, or JSON Lines). With `mrr`, the `arr`
/// column holds monthly revenue and is multiplied by 12.
pub fn parse_ledger(
    source: &str,
    text: &str,
    csv_format: bool,
    mrr: bool,
) -> Result<Vec<LedgerRow>, Vec<InputError>> {
    let (rows, mut errors) = read_records::<RawRow>(source, text, csv_format);
    let mut out = Vec::with_capacity(rows.len());
    for (line, r) in rows {
        if r.account_id.trim().is_empty() {
            errors.push(input_error(
                source,
                line,
                Some("account_id"),
                "must not be empty".into(),
            ));
        } else if !(r.arr.is_finite() && r.arr >= 0.0) {
            errors.push(input_error(
                source,
                line,
                Some("arr"),
                format!("must be >= 0, got {}", r.arr),
            ));
        } else if r.arr > MAX_ARR {
            errors.push(input_error(
                source,
                line,
                Some("arr"),
                format!("{:e} is past the largest ARR accepted ({MAX_ARR:e})", r.arr),
            ));
        } else {
            out.push(LedgerRow {
                account_id: r.account_id,
                date: r.date,
                arr: if mrr { r.arr * 12.0 } else { r.arr },
                stage: r.stage.unwrap_or_default(),
                segment: r.segment.filter(|s| !s.is_empty()),
                term_end: r.term_end,
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Parses survey responses (CSV with a header, or JSON Lines): `account_id`,
/// `date`, `kind` (`nps`, `csat`, `ces`), `score` within the kind's scale.
pub fn parse_surveys(
    source: &str,
    text: &str,
    csv_format: bool,
) -> Result<Vec<SurveyResponse>, Vec<InputError>> {
    let (rows, mut errors) = read_records::<RawSurvey>(source, text, csv_format);
    let mut out = Vec::with_capacity(rows.len());
    for (line, r) in rows {
        let (low, high) = r.kind.range();
        if !(low..=high).contains(&r.score) {
            errors.push(input_error(
                source,
                line,
                Some("score"),
                format!("{} is outside {low}-{high} for {:?}", r.score, r.kind),
            ));
        } else {
            out.push(SurveyResponse {
                account_id: r.account_id,
                date: r.date,
                kind: r.kind,
                score: r.score,
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
