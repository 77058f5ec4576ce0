//! Stored rows back into domain values, the same way for every backend: days
//! and JSON columns travel as text, and what cannot be read is named.

use headway_core::retention::{
    AdvocacyEvent, AdvocacyKind, LedgerRow, RevenueStage, SurveyKind, SurveyResponse,
};
use headway_core::success::Snapshot;
use headway_core::{Date, MilestoneProgress, PluginRef};

use headway_core::alerts::AlertDetail;
use headway_core::overrides::{Override, OverrideChange};

use crate::{AlertStatus, Attempt, RunLog, StoreError, StoredAlert, StoredBuild};

pub(crate) fn corrupt(store: &str, what: String, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        store: store.to_owned(),
        what,
        reason: reason.to_string(),
    }
}

/// A snapshot as a backend returns it.
pub(crate) struct RawSnapshot {
    pub tenant: String,
    pub account_id: String,
    pub as_of: String,
    pub arr: f64,
    pub score: f64,
    pub band: String,
    pub factors: String,
    pub milestones: String,
    pub plugin: PluginRef,
    pub segment: String,
    pub renewal_date: Option<String>,
}

impl RawSnapshot {
    pub fn decode(self, store: &str) -> Result<Snapshot, StoreError> {
        let what = || {
            format!(
                "snapshot {} {} {}",
                self.tenant, self.account_id, self.as_of
            )
        };
        let bad = |e: &dyn std::fmt::Display| corrupt(store, what(), e);
        let milestones: Vec<MilestoneProgress> =
            serde_json::from_str(&self.milestones).map_err(|e| bad(&e))?;
        Ok(Snapshot {
            as_of: self.as_of.parse().map_err(|e| bad(&e))?,
            factors: serde_json::from_str(&self.factors).map_err(|e| bad(&e))?,
            renewal_date: day(self.renewal_date.as_deref()).map_err(|e| bad(&e))?,
            milestones,
            tenant: self.tenant,
            account_id: self.account_id,
            arr: self.arr,
            segment: self.segment,
            score: self.score,
            band: self.band,
            plugin: self.plugin,
            overrides: Vec::new(),
        })
    }
}

/// Decodes `rows`, skipping (and naming in the log) any that cannot be read:
/// one row written by an older, laxer build is never a reason to fail a whole
/// tenant's history.
pub(crate) fn readable(store: &str, rows: impl IntoIterator<Item = RawSnapshot>) -> Vec<Snapshot> {
    rows.into_iter()
        .filter_map(|raw| match raw.decode(store) {
            Ok(snapshot) => Some(snapshot),
            Err(e) => {
                tracing::warn!("skipping a stored snapshot: {e}");
                None
            }
        })
        .collect()
}

fn day(text: Option<&str>) -> Result<Option<Date>, headway_core::DateError> {
    text.map(str::parse).transpose()
}

/// A ledger row as a backend returns it: account, day, ARR, stage, segment,
/// term end.
pub(crate) type RawLedgerRow = (String, String, f64, String, Option<String>, Option<String>);

pub(crate) fn ledger_row(store: &str, raw: RawLedgerRow) -> Result<LedgerRow, StoreError> {
    let (account_id, date, arr, stage, segment, term_end) = raw;
    let what = || format!("ledger row {account_id} {date}");
    Ok(LedgerRow {
        date: date.parse().map_err(|e| corrupt(store, what(), e))?,
        stage: RevenueStage::from_name(&stage)
            .ok_or_else(|| corrupt(store, what(), format!("stage `{stage}`")))?,
        term_end: day(term_end.as_deref()).map_err(|e| corrupt(store, what(), e))?,
        account_id,
        arr,
        segment,
    })
}

/// A survey answer as a backend returns it: account, day, survey, score.
pub(crate) type RawSurveyRow = (String, String, String, f64);

pub(crate) fn survey_row(store: &str, raw: RawSurveyRow) -> Result<SurveyResponse, StoreError> {
    let (account_id, date, kind, score) = raw;
    let what = || format!("survey answer {account_id} {date} {kind}");
    Ok(SurveyResponse {
        date: date.parse().map_err(|e| corrupt(store, what(), e))?,
        kind: SurveyKind::from_name(&kind)
            .ok_or_else(|| corrupt(store, what(), format!("survey `{kind}`")))?,
        account_id,
        score,
    })
}

/// An advocacy event as a backend returns it: account, day, kind, the account
/// referred ('' for none).
pub(crate) type RawAdvocacyRow = (String, String, String, String);

pub(crate) fn advocacy_row(store: &str, raw: RawAdvocacyRow) -> Result<AdvocacyEvent, StoreError> {
    let (account_id, date, kind, referred) = raw;
    let what = || format!("advocacy event {account_id} {date} {kind}");
    Ok(AdvocacyEvent {
        date: date.parse().map_err(|e| corrupt(store, what(), e))?,
        kind: AdvocacyKind::from_name(&kind)
            .ok_or_else(|| corrupt(store, what(), format!("advocacy `{kind}`")))?,
        account_id,
        referred: Some(referred).filter(|r| !r.is_empty()),
    })
}

/// A build's row as a backend returns it: the build, its declaration (JSON),
/// its snapshot count and its first and last day.
pub(crate) type RawBuild = (PluginRef, String, i64, String, String);

pub(crate) fn stored_build(store: &str, raw: RawBuild) -> Result<StoredBuild, StoreError> {
    let (plugin, info, count, first, last) = raw;
    let what = || format!("plugin build {}", plugin.digest);
    Ok(StoredBuild {
        info: serde_json::from_str(&info).map_err(|e| corrupt(store, what(), e))?,
        snapshots: count as usize,
        first: first.parse().map_err(|e| corrupt(store, what(), e))?,
        last: last.parse().map_err(|e| corrupt(store, what(), e))?,
        plugin,
    })
}

pub(crate) fn run_log(store: &str, id: i64, log: &str) -> Result<RunLog, StoreError> {
    serde_json::from_str(log).map_err(|e| corrupt(store, format!("run {id}"), e))
}

/// A stored decision, its id from its row.
pub(crate) fn decision(store: &str, id: i64, body: &str) -> Result<crate::Decision, StoreError> {
    let mut decision: crate::Decision =
        serde_json::from_str(body).map_err(|e| corrupt(store, format!("decision {id}"), e))?;
    decision.id = id;
    Ok(decision)
}

/// Decodes run logs, skipping (and naming in the log) any that cannot be read.
pub(crate) fn readable_runs(store: &str, rows: Vec<(i64, String)>) -> Vec<RunLog> {
    rows.into_iter()
        .filter_map(|(id, log)| match run_log(store, id, &log) {
            Ok(log) => Some(log),
            Err(e) => {
                tracing::warn!("skipping a stored run: {e}");
                None
            }
        })
        .collect()
}

/// An outbox row as a backend returns it ([`ALERT_COLUMNS`]).
pub(crate) struct RawAlert {
    pub rule: String,
    pub kind: String,
    pub account_id: String,
    pub as_of: String,
    pub digest: String,
    pub summary: String,
    pub detail: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

/// The outbox columns [`RawAlert`] reads, in its order (`as_of` as text).
pub(crate) const ALERT_COLUMNS: &str = "rule, kind, account_id, as_of, digest, summary, \
     detail, status, attempts, last_error, delivered_at";

pub(crate) fn stored_alert(store: &str, raw: RawAlert) -> Result<StoredAlert, StoreError> {
    let what = || format!("alert {} {} {}", raw.rule, raw.account_id, raw.as_of);
    Ok(StoredAlert {
        as_of: raw.as_of.parse().map_err(|e| corrupt(store, what(), e))?,
        detail: serde_json::from_str(&raw.detail).map_err(|e| corrupt(store, what(), e))?,
        status: raw.status.parse().map_err(|e| corrupt(store, what(), e))?,
        attempts: u32::try_from(raw.attempts).map_err(|e| corrupt(store, what(), e))?,
        rule: raw.rule,
        kind: raw.kind,
        account_id: raw.account_id,
        digest: raw.digest,
        summary: raw.summary,
        last_error: raw.last_error,
        delivered_at: raw.delivered_at,
    })
}

/// An alert's detail as stored.
pub(crate) fn detail_json(detail: &AlertDetail) -> String {
    serde_json::to_string(detail).expect("an alert detail serializes")
}

/// What an attempt sets: status, error, next try (Unix ms), delivery time.
pub(crate) fn settlement(attempt: &Attempt) -> (AlertStatus, Option<&str>, i64, Option<&str>) {
    match attempt {
        Attempt::Delivered { at } => (AlertStatus::Delivered, None, 0, Some(at)),
        Attempt::Failed { error, retry_at_ms } => {
            (AlertStatus::Pending, Some(error), *retry_at_ms, None)
        }
        Attempt::GaveUp { error } => (AlertStatus::Dead, Some(error), 0, None),
    }
}

/// Claimed alerts in the order they were due (`RETURNING` has none): by day,
/// rule, account.
pub(crate) fn in_outbox_order(alerts: &mut [StoredAlert]) {
    alerts
        .sort_by(|a, b| (a.as_of, &a.rule, &a.account_id).cmp(&(b.as_of, &b.rule, &b.account_id)));
}

/// An override or a change of one as its backend keeps it: JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("overrides serialise")
}

/// An override read back (account and target name it in errors).
pub(crate) fn stored_override(store: &str, body: &str) -> Result<Override, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(store, format!("override {body}"), e))
}

/// A change of the audit trail read back.
pub(crate) fn override_change(
    store: &str,
    id: i64,
    body: &str,
) -> Result<OverrideChange, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(store, format!("override change {id}"), e))
}
