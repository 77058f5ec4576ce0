//! Headway's domain: accounts, what rules plugins declare and return, input parsing
//! and validation, and the Customer Success math built on top.
//!
//! Nothing here knows about WebAssembly or touches the filesystem or network, so all
//! of it is tested with plain values. The host (`headway-host`) converts between these
//! types and the WIT contract.

pub mod account;
pub mod alerts;
pub mod assessed;
pub mod assessment;
pub mod backtest;
pub mod batch;
mod date;
pub mod fixtures;
pub mod input;
pub mod masking;
pub mod moves;
pub mod overrides;
pub mod records;
pub mod replay;
pub mod report;
pub mod retention;
pub mod success;
#[cfg(test)]
mod testing;
pub mod tune;
pub mod vector;
pub mod weights;

pub use account::{Account, LifecycleStage, OutcomeKpi, Point};
pub use assessment::{
    Assessment, BandInfo, FactorInfo, FactorScore, Fit, MilestoneInfo, MilestoneProgress,
    PluginInfo, Upsell,
};
pub use batch::{AccountBatch, Reads};
pub use date::{Date, DateError, MAX_SPAN_DAYS, parse_days};
pub use input::{
    CsvColumns, DuplicateIds, InputDefaults, InputError, MAX_QUOTED_BYTES, ParsedAccounts,
    parse_csv, parse_json_values, parse_jsonl, parse_jsonl_batch,
};
pub use report::{AccountError, ErrorKind, PluginRef, ScoreRecord, money, spreadsheet_safe};
