//! Reading ledgers and survey answers from CSV or JSON Lines, every bad row
//! named with its line and field.

use serde::Deserialize;

use super::{advocacy::*, ledger::*, surveys::*};
use crate::Date;
use crate::input::InputError;
use crate::records::{read_records, record_error};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
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
struct RawSurvey {
    account_id: String,
    date: Date,
    kind: SurveyKind,
    score: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdvocacy {
    account_id: String,
    date: Date,
    kind: AdvocacyKind,
    #[serde(default)]
    referred: Option<String>,
}

/// Parses advocacy events (CSV with a header, or JSON Lines): `account_id`,
/// `date`, `kind` (`referral`, `reference-call`, `case-study`, `review`) and, for
/// a referral, optionally `referred` (the account it brought in).
pub fn parse_advocacy(
    source: &str,
    text: &str,
    csv_format: bool,
) -> Result<Vec<AdvocacyEvent>, Vec<InputError>> {
    let (rows, mut errors) = read_records::<RawAdvocacy>(source, text, csv_format);
    let mut out = Vec::with_capacity(rows.len());
    for (line, r) in rows {
        let referred = r.referred.filter(|s| !s.trim().is_empty());
        let problem = if r.account_id.trim().is_empty() {
            Some(("account_id", "must not be empty".to_owned()))
        } else if referred.is_some() && r.kind != AdvocacyKind::Referral {
            Some((
                "referred",
                format!(
                    "only a referral names a referred account, not a {}",
                    r.kind.as_str()
                ),
            ))
        } else if referred.as_deref() == Some(r.account_id.as_str()) {
            Some(("referred", "an account cannot refer itself".to_owned()))
        } else {
            None
        };
        match problem {
            Some((field, message)) => errors.push(record_error(source, line, Some(field), message)),
            None => out.push(AdvocacyEvent {
                account_id: r.account_id,
                date: r.date,
                kind: r.kind,
                referred,
            }),
        }
    }
    errors.sort_by_key(|e| e.line);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
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
            errors.push(record_error(
                source,
                line,
                Some("account_id"),
                "must not be empty".into(),
            ));
        } else if !(r.arr.is_finite() && r.arr >= 0.0) {
            errors.push(record_error(
                source,
                line,
                Some("arr"),
                format!("must be >= 0, got {}", r.arr),
            ));
        } else if r.arr > MAX_ARR {
            errors.push(record_error(
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
            errors.push(record_error(
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
