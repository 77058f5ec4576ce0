//! A tenant's folder: `tenant.toml` with its plugin, limits and config values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::TenantError;

/// The largest tenant.toml read: a config is a few hundred bytes; a symlink to
/// a device or a huge file fails the tenant instead of the reload task.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The largest fixtures.jsonl read when a tenant is loaded.
pub const MAX_FIXTURES_BYTES: u64 = 16 << 20;

/// Sandbox limits of one tenant's plugin. Every field has a safe default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Instruction (fuel) budget per account; a batch gets this times its size.
    pub fuel_per_account: u64,
    /// Wall-clock deadline per batch, in milliseconds: a backstop to fuel.
    pub deadline_ms: u64,
    /// Linear memory cap per instance, in MiB.
    pub memory_mib: u64,
    /// Accounts per plugin call.
    pub batch_size: usize,
    /// Text (reasons, error messages) a plugin may return per account, in KiB.
    pub output_kib_per_account: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel_per_account: 2_000_000,
            deadline_ms: 5_000,
            memory_mib: 64,
            batch_size: 1_000,
            output_kib_per_account: 16,
        }
    }
}

/// What `tenant.toml` holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id; defaults to the folder name.
    #[serde(default)]
    pub id: String,
    /// Display name.
    pub name: String,
    /// The plugin component, relative to the tenant folder.
    pub plugin: PathBuf,
    /// ISO currency of ARR values.
    #[serde(default = "usd")]
    pub currency: String,
    /// Sandbox limits.
    #[serde(default)]
    pub limits: Limits,
    /// Values the plugin may read through `config(key)`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// How the Success Vector is computed.
    #[serde(default)]
    pub vector: VectorSettings,
    /// Access to the tenant over `headway serve`'s HTTP API.
    #[serde(default)]
    pub api: ApiSettings,
    /// What the plugin may use beyond the contract (clock, randomness).
    #[serde(default)]
    pub capabilities: crate::Capabilities,
    /// A daily scoring run `headway serve` records by itself.
    #[serde(default)]
    pub schedule: Option<Schedule>,
}

/// `[schedule]` in tenant.toml: every day at `at` (UTC), `headway serve` scores
/// `source` (a nightly export, JSON Lines or CSV by its extension) and records
/// the run, as `POST .../runs` would.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The export, relative to the tenant folder.
    pub source: PathBuf,
    /// Time of day, `HH:MM` in UTC.
    pub at: String,
}

impl Schedule {
    /// Minutes after midnight UTC of [`Schedule::at`], or `None` when it is not
    /// `HH:MM`.
    pub fn minute_of_day(&self) -> Option<u32> {
        let (h, m) = self.at.split_once(':')?;
        let well_formed = h.len() == 2 && m.len() == 2;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (well_formed && h < 24 && m < 60).then_some(h * 60 + m)
    }
}

/// `[api]` in tenant.toml. The token itself is never stored: either its SHA-256
/// (hex) or the name of an environment variable holding it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// SHA-256 of the bearer token, lowercase hex (`printf %s "$TOKEN" | sha256sum`).
    pub token_sha256: Option<String>,
    /// The environment variable holding the bearer token.
    pub token_env: Option<String>,
    /// Scoring requests served at once; more wait briefly, then get 429.
    pub max_concurrent: u32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            token_sha256: None,
            token_env: None,
            max_concurrent: 8,
        }
    }
}

/// `[vector]` in tenant.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VectorSettings {
    /// Days of history before the latest snapshot that velocity and milestone
    /// trends are fitted over.
    pub window_days: u32,
}

impl Default for VectorSettings {
    fn default() -> Self {
        Self { window_days: 90 }
    }
}

fn usd() -> String {
    "USD".to_owned()
}

impl TenantConfig {
    /// Reads `<dir>/tenant.toml`, resolving the plugin path against `dir`.
    pub fn load(dir: &Path) -> Result<Self, TenantError> {
        let path = dir.join("tenant.toml");
        let text = crate::read_text_capped(&path, MAX_CONFIG_BYTES).map_err(|source| {
            TenantError::Unreadable {
                path: path.clone(),
                source,
            }
        })?;
        let folder = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "default".to_owned());
        let mut config = Self::parse(&text, &path, &folder)?;
        config.plugin = dir.join(&config.plugin);
        if let Some(schedule) = &mut config.schedule {
            schedule.source = dir.join(&schedule.source);
        }
        Ok(config)
    }

    /// Parses and checks a tenant.toml's text (no file is touched); `path` names
    /// it in errors, `folder` is the id when the file gives none. The plugin path
    /// is left as written.
    pub fn parse(text: &str, path: &Path, folder: &str) -> Result<Self, TenantError> {
        let mut config: TenantConfig = toml::from_str(text).map_err(|e| TenantError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if config.id.is_empty() {
            config.id = folder.to_owned();
        }
        let invalid = |message: String| TenantError::Invalid {
            path: path.to_owned(),
            message,
        };
        if let Some(schedule) = &config.schedule
            && schedule.minute_of_day().is_none()
        {
            return Err(invalid(format!(
                "schedule.at is `{}`: expected a time of day like \"02:30\" (UTC)",
                schedule.at
            )));
        }
        let limits = &config.limits;
        if limits.batch_size == 0 || limits.memory_mib == 0 || limits.fuel_per_account == 0 {
            return Err(invalid("limits must be above zero".to_owned()));
        }
        if limits.memory_mib > crate::runtime::MAX_MEMORY_MIB {
            return Err(invalid(format!(
                "limits.memory_mib is {}, at most {} is supported",
                limits.memory_mib,
                crate::runtime::MAX_MEMORY_MIB
            )));
        }
        Ok(config)
    }
}
