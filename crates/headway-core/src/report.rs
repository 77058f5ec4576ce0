//! The per-account record every output (JSON Lines, CSV, table, API) is made from.
//! Its JSON keys are a stable interface, documented in the README.

use serde::{Deserialize, Serialize};

use crate::Date;
use crate::assessment::{Assessment, FactorScore, Fit, MilestoneProgress};
use crate::input::InputError;

/// A CSV cell that a spreadsheet shows as text instead of running as a formula:
/// text starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
/// leading `'`, unless it is a number (`-5`, `+1.5e3` stay as they are).
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Which plugin build produced a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRef {
    /// Plugin name (from `describe`).
    pub name: String,
    /// Plugin version (from `describe`).
    pub version: String,
    /// `sha256:<hex>` of the component's bytes.
    pub digest: String,
}

/// What kind of failure stopped an account from being scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The input line was malformed.
    Input,
    /// The plugin declined the account (its own error code and message).
    Rule,
    /// The plugin returned something the contract forbids (score out of range ...).
    InvalidOutput,
    /// The plugin trapped (panicked, hit `unreachable`, ...).
    Trap,
    /// The plugin used up its instruction budget.
    OutOfFuel,
    /// The plugin ran past its wall-clock deadline.
    Deadline,
    /// The plugin tried to grow memory past its limit.
    MemoryLimit,
    /// The plugin returned more text than its limit.
    OutputTooLarge,
    /// Any other failure of the plugin or the host.
    Plugin,
}

impl ErrorKind {
    /// The name as written in output (`out-of-fuel`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Rule => "rule",
            Self::InvalidOutput => "invalid-output",
            Self::Trap => "trap",
            Self::OutOfFuel => "out-of-fuel",
            Self::Deadline => "deadline",
            Self::MemoryLimit => "memory-limit",
            Self::OutputTooLarge => "output-too-large",
            Self::Plugin => "plugin",
        }
    }
}

/// Why one account has no score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountError {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// The plugin's own error code, for `rule` errors.
    pub code: Option<String>,
    /// A human message naming what is wrong.
    pub message: String,
    /// The input line, for `input` errors.
    pub line: Option<usize>,
    /// The input field, for `input` errors.
    pub field: Option<String>,
}

impl AccountError {
    /// An error of `kind` with just a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: None,
            message: message.into(),
            line: None,
            field: None,
        }
    }
}

impl From<&InputError> for AccountError {
    fn from(e: &InputError) -> Self {
        Self {
            kind: ErrorKind::Input,
            code: None,
            message: e.to_string(),
            line: Some(e.line),
            field: e.field.clone(),
        }
    }
}

/// One line of `headway score` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    /// The account's id (null for an input line whose id could not be read).
    pub account_id: Option<String>,
    /// The day the score describes.
    pub as_of: Option<Date>,
    /// Health score 0-100.
    pub score: Option<f64>,
    /// Band name.
    pub band: Option<String>,
    /// Every factor with value, weight, contribution and reason.
    pub factors: Vec<FactorScore>,
    /// Progress toward every milestone.
    pub milestones: Vec<MilestoneProgress>,
    /// Id of the first milestone not reached yet.
    pub next_milestone: Option<String>,
    /// Fit label.
    pub fit: Option<Fit>,
    /// The plugin build that produced the result.
    pub plugin: Option<PluginRef>,
    /// Why there is no score, or null.
    pub error: Option<AccountError>,
}

impl ScoreRecord {
    /// The factor holding the score back most (see [`Assessment::top_factor`]).
    pub fn top_factor(&self) -> Option<&FactorScore> {
        crate::assessment::top_factor(&self.factors)
    }

    /// Progress toward the next milestone.
    pub fn next_milestone_progress(&self) -> Option<&MilestoneProgress> {
        let id = self.next_milestone.as_deref()?;
        self.milestones.iter().find(|m| m.id == id)
    }

    /// The record of a scored account.
    pub fn scored(account_id: &str, as_of: Date, a: Assessment, plugin: &PluginRef) -> Self {
        let next_milestone = a.next_milestone().map(|m| m.id.clone());
        Self {
            account_id: Some(account_id.to_owned()),
            as_of: Some(as_of),
            score: Some(a.score),
            band: Some(a.band),
            factors: a.factors,
            milestones: a.milestones,
            next_milestone,
            fit: a.fit,
            plugin: Some(plugin.clone()),
            error: None,
        }
    }

    /// The record of an account that failed.
    pub fn failed(
        account_id: Option<&str>,
        as_of: Option<Date>,
        error: AccountError,
        plugin: Option<&PluginRef>,
    ) -> Self {
        Self {
            account_id: account_id.map(str::to_owned),
            as_of,
            score: None,
            band: None,
            factors: Vec::new(),
            milestones: Vec::new(),
            next_milestone: None,
            fit: None,
            plugin: plugin.cloned(),
            error: Some(error),
        }
    }
}

/// Whole currency units with thousands separators: 18000 -> "18,000".
pub fn money(amount: f64) -> String {
    let whole = format!("{:.0}", amount.abs());
    let mut out = String::with_capacity(whole.len() + whole.len() / 3 + 1);
    if amount < 0.0 && whole != "0" {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        for (cell, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-5", "-5"),
            ("+1.5e3", "+1.5e3"),
            ("acme-1", "acme-1"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(cell), shown, "{cell:?}");
        }
    }

    #[test]
    fn kinds_print_as_their_json_names() {
        for kind in [
            ErrorKind::Input,
            ErrorKind::Rule,
            ErrorKind::InvalidOutput,
            ErrorKind::Trap,
            ErrorKind::OutOfFuel,
            ErrorKind::Deadline,
            ErrorKind::MemoryLimit,
            ErrorKind::OutputTooLarge,
            ErrorKind::Plugin,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for fit in [crate::Fit::Ideal, crate::Fit::Stretch, crate::Fit::BadFit] {
            assert_eq!(serde_json::to_value(fit).unwrap(), fit.as_str());
        }
        use crate::vector::Direction;
        for d in [
            Direction::Improving,
            Direction::Steady,
            Direction::Declining,
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }

    #[test]
    fn money_groups_thousands() {
        for (x, s) in [
            (0.0, "0"),
            (999.0, "999"),
            (1000.0, "1,000"),
            (18000.0, "18,000"),
            (1234567.4, "1,234,567"),
            (-90000.0, "-90,000"),
            (-0.2, "0"),
        ] {
            assert_eq!(money(x), s);
        }
    }
}
