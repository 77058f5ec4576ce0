//! tenant.toml: never a panic; a config that parses has sane limits.
#![no_main]

use headway_config::TenantConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = TenantConfig::parse(text, "tenant.toml".as_ref(), "folder") {
        assert!(!config.id.is_empty());
        assert!(config.limits.batch_size > 0 && config.limits.fuel_per_account != Some(0));
    }
});
