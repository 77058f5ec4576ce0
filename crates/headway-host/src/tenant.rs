//! A tenant's folder on disk: `tenant.toml` read within bounds and handed to
//! `headway-config`, which parses and checks it.

use std::path::Path;

pub use headway_config::{
    ApiSettings, Capabilities, ConfigError, Limits, MAX_MEMORY_MIB, Schedule, TenantConfig,
    VectorSettings,
};

use crate::error::TenantError;

/// The largest tenant.toml read: a config is a few hundred bytes; a symlink to
/// a device or a huge file fails the tenant instead of the reload task.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The largest fixtures.jsonl read when a tenant is loaded.
pub const MAX_FIXTURES_BYTES: u64 = 16 << 20;

/// Reads `<dir>/fixtures.jsonl`, the golden cases every new build of the
/// tenant must pass: `None` when the tenant has none.
pub fn read_tenant_fixtures(dir: &Path) -> Result<Option<String>, crate::FileError> {
    match crate::read_text_capped(&dir.join("fixtures.jsonl"), MAX_FIXTURES_BYTES) {
        Ok(text) => Ok(Some(text)),
        Err(crate::FileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads `<dir>/tenant.toml`: the tenant's config with its paths resolved
/// against `dir`, and its id defaulting to the folder's name.
pub fn load_tenant_config(dir: &Path) -> Result<TenantConfig, TenantError> {
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
    Ok(TenantConfig::parse(&text, &path, &folder)?.resolved(dir))
}
