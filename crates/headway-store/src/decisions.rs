//! The decision log: one entry per scoring request or run, saying who asked,
//! which build answered, and digests of what went in and came out. Where the
//! tenant keeps inputs, the (masked, compressed) input and the build that
//! served it are stored too, once per digest, so `headway replay` can score
//! the same input again.

use headway_core::{Date, PluginRef};
use serde::{Deserialize, Serialize};

/// What was scored: how a replay must read the kept input again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionInput {
    /// A `POST .../score` body: one account, an array, or `{"accounts": [...]}`.
    Request,
    /// A run over JSON Lines (a JSON array sent to a run is logged as the
    /// lines it was read as: element N is line N).
    JsonLines,
    /// A run over CSV.
    Csv,
}

impl DecisionInput {
    /// The name used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::JsonLines => "jsonl",
            Self::Csv => "csv",
        }
    }
}

/// One logged decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Assigned by the store (0 before), increasing.
    pub id: i64,
    /// The tenant.
    pub tenant: String,
    /// When it was scored, RFC 3339 UTC.
    pub at: String,
    /// The run it recorded, for a run.
    pub run: Option<i64>,
    /// Who asked: `tenant-token sha256:1a2b3c4d`, `cli:alice`, `schedule`.
    pub caller: String,
    /// The build that scored, as records name it.
    pub plugin: PluginRef,
    /// The build together with what it was loaded with (config values, limits,
    /// capabilities, weights): `sha256:<hex>`; the key of the kept build.
    pub build: String,
    /// Where the input came from (a file name, `request body`).
    pub source: String,
    /// How the input reads.
    pub input: DecisionInput,
    /// The as-of day given for accounts without one.
    pub as_of_default: Option<Date>,
    /// `sha256:<hex>` of the input as scored (a request's body; a run's lines).
    pub input_digest: String,
    /// `sha256:<hex>` of the records as JSON Lines.
    pub output_digest: String,
    /// Records out.
    pub records: usize,
    /// Of them, without a score.
    pub failed: usize,
    /// True when the input (and the build) were kept for replay.
    pub input_kept: bool,
    /// The fields masked in the kept input.
    pub masked: Vec<String>,
}

/// A build as kept for replay: the component and its load options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptBuild {
    /// The component's bytes.
    pub component: Vec<u8>,
    /// What it was loaded with, as JSON.
    pub options: String,
}

/// A decision to log, with what is kept of it.
#[derive(Debug)]
pub struct DecisionEntry<'a> {
    /// The decision (`id` is assigned).
    pub decision: Decision,
    /// The kept input, compressed, under `decision.input_digest`: stored unless
    /// that digest already is.
    pub input: Option<&'a [u8]>,
    /// The build under `decision.build`, unless already stored.
    pub build: Option<&'a KeptBuild>,
}
