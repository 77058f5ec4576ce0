//! Runs tenants' rules plugins.
//!
//! One [`Runtime`] (one wasmtime `Engine`) serves every tenant. [`Runtime::load`]
//! checks a component (header, imports, contract version), compiles and links it,
//! and calls its `describe()`; the resulting [`Plugin`] assesses accounts in
//! batches, each in a fresh `Store` with the tenant's [`Limits`]: an instruction
//! budget (fuel), a wall-clock deadline (epochs) and a memory cap.

mod convert;
mod error;
mod plugin;
mod runtime;
mod sandbox;
mod tenant;

pub use error::{LoadError, RunError, TenantError};
pub use plugin::{CallOutcome, Plugin, Report};
pub use runtime::{CONTRACT, ImportVerdict, Interface, Runtime};
pub use sandbox::LogLine;
pub use tenant::{Limits, TenantConfig};

/// Builds the contract's columnar batch for `accounts` (what [`Plugin::call`] takes).
pub fn columnar_batch(
    accounts: &[headway_core::Account],
) -> bindings::headway::rules::types::AccountBatch {
    convert::batch(accounts)
}

/// Host-side bindings of the contract, generated from `wit/`.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.1.0",
        world: "health-rules",
    });
}

/// Severity of a plugin's log line.
pub use bindings::headway::rules::host::LogLevel;
