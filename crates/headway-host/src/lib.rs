//! Runs tenants' rules plugins.
//!
//! One [`Runtime`] (one wasmtime `Engine`) serves every tenant. [`Runtime::load`]
//! checks a component (header, imports, contract version), compiles and links it,
//! and calls its `describe()`; the resulting [`Plugin`] assesses accounts in
//! batches, each in a fresh `Store` with the tenant's [`Limits`]: an instruction
//! budget (fuel), a wall-clock deadline (epochs) and a memory cap.

mod cache;
mod capability;
pub mod contract;
mod convert;
mod error;
mod files;
pub mod kits;
mod plugin;
mod runtime;
mod sandbox;
mod sealed;
mod tenant;

pub use cache::CompiledFrom;
pub use capability::Capability;
pub use contract::{Answer, ContractVersion};
pub use error::{BoxError, LoadError, RunError, TenantError, error_chain};
pub use files::{FileError, open_regular, read_capped, read_text_capped};
pub use plugin::{BatchReport, CallOutcome, Plugin, Report};
pub use runtime::{
    ImportVerdict, Interface, LoadOptions, MAX_PLUGIN_BYTES, Runtime, digest, read_plugin,
    read_plugin_capped,
};
pub use sandbox::LogLine;
pub use tenant::{
    ApiSettings, Capabilities, ConfigError, Limits, MAX_CONFIG_BYTES, MAX_FIXTURES_BYTES,
    MAX_MEMORY_MIB, Schedule, TenantConfig, VectorSettings, load_tenant_config,
    read_tenant_fixtures,
};

/// Severity of a plugin's log line.
pub use contract::v0_3_0::headway::rules::host::LogLevel;
