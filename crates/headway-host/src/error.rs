//! Typed errors of loading and running plugins.

use std::path::PathBuf;

use headway_core::ErrorKind;

/// An error from below (wasmtime, the validator), kept whole as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `e` and every error beneath it, joined by `: ` (what `anyhow`'s `{:#}` prints),
/// for messages stored or sent as text.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut below = e.source();
    while let Some(cause) = below {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        below = cause.source();
    }
    text
}

/// Why a plugin could not be loaded. `origin` names the file (or other source).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read: missing, not a regular file, too large.
    #[error("cannot read plugin `{}`", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::FileError,
    },
    /// The file is empty.
    #[error("{origin}: empty file, not a WebAssembly component")]
    Empty {
        /// The file.
        origin: String,
    },
    /// The file does not start with the WebAssembly magic bytes.
    #[error("{origin}: not WebAssembly (bad magic bytes)")]
    NotWasm {
        /// The file.
        origin: String,
    },
    /// A core module where a component was expected.
    #[error(
        "{origin}: a core WebAssembly module, not a component (build the plugin with `--target wasm32-wasip2`)"
    )]
    CoreModule {
        /// The file.
        origin: String,
    },
    /// The component failed to validate or compile (truncated, corrupt ...).
    #[error("{origin}: invalid component")]
    Invalid {
        /// The file.
        origin: String,
        /// The validator's or compiler's error.
        #[source]
        source: BoxError,
    },
    /// The component imports something the tenant is not granted.
    #[error(
        "{origin}: imports {}, not granted{}",
        imports.join(", "),
        tenant.as_deref().map(|t| format!(" to tenant `{t}`")).unwrap_or_default()
    )]
    ForbiddenImport {
        /// The file.
        origin: String,
        /// The tenant, when loaded for one.
        tenant: Option<String>,
        /// Every refused import.
        imports: Vec<String>,
    },
    /// The component does not implement a contract version this host supports.
    #[error("{origin}: contract mismatch: this host supports {expected}, the component {found}")]
    ContractMismatch {
        /// The file.
        origin: String,
        /// What the host supports.
        expected: String,
        /// What the component offers.
        found: String,
        /// The linker's error, when linking is what failed.
        #[source]
        source: Option<BoxError>,
    },
    /// `describe()` failed or returned something unusable.
    #[error("{origin}: describe() {reason}")]
    Describe {
        /// The file.
        origin: String,
        /// What went wrong.
        reason: String,
    },
    /// The tenant's `[weights]` do not name the plugin's factors.
    #[error("{origin}: the tenant's [weights] {reason}")]
    Weights {
        /// The file.
        origin: String,
        /// What does not fit.
        reason: String,
    },
}

/// Why a batch (or describe call) failed inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The instruction budget ran out.
    #[error("out of fuel: the budget of {budget} instructions is used up")]
    OutOfFuel {
        /// The budget that was exceeded.
        budget: u64,
    },
    /// The wall-clock deadline passed.
    #[error("deadline of {ms} ms exceeded")]
    Deadline {
        /// The deadline.
        ms: u64,
    },
    /// Linear memory would grow past the limit.
    #[error("memory limit of {mib} MiB exceeded")]
    MemoryLimit {
        /// The limit.
        mib: u64,
    },
    /// The plugin's answer holds more text than the tenant allows.
    #[error("output too large: {bytes} bytes of text, the limit is {limit}")]
    OutputTooLarge {
        /// Bytes returned.
        bytes: u64,
        /// The limit for this batch.
        limit: u64,
    },
    /// The plugin trapped; `message` carries its panic message when it had one.
    #[error("plugin trapped: {message}")]
    Trap {
        /// The panic message, or the trap's description.
        message: String,
    },
    /// The plugin's answer broke the contract's shape.
    #[error("plugin broke the contract: {reason}")]
    InvalidOutput {
        /// What was wrong.
        reason: String,
    },
    /// Instantiation or another host-side step failed.
    #[error("host error: {message}")]
    Host {
        /// What failed.
        message: String,
    },
}

impl RunError {
    /// Whether a single account can cause this for its whole batch (so splitting
    /// the batch can isolate it). A deadline is a backstop, not worth the retries.
    pub fn may_be_one_account(&self) -> bool {
        matches!(
            self,
            Self::OutOfFuel { .. }
                | Self::MemoryLimit { .. }
                | Self::Trap { .. }
                | Self::OutputTooLarge { .. }
        )
    }

    /// The error kind reported per account.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::OutOfFuel { .. } => ErrorKind::OutOfFuel,
            Self::Deadline { .. } => ErrorKind::Deadline,
            Self::MemoryLimit { .. } => ErrorKind::MemoryLimit,
            Self::Trap { .. } => ErrorKind::Trap,
            Self::InvalidOutput { .. } => ErrorKind::InvalidOutput,
            Self::OutputTooLarge { .. } => ErrorKind::OutputTooLarge,
            Self::Host { .. } => ErrorKind::Plugin,
        }
    }
}

/// Why a tenant folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// `tenant.toml` could not be read.
    #[error("cannot read `{}`", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::FileError,
    },
    /// `tenant.toml` is malformed or breaks a rule.
    #[error(transparent)]
    Invalid(#[from] headway_config::ConfigError),
    /// The tenant's plugin failed to load.
    #[error("tenant `{tenant}`")]
    Plugin {
        /// The tenant.
        tenant: String,
        /// Why.
        #[source]
        source: LoadError,
    },
}
