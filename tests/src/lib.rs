//! Paths to the plugins `build.rs` compiled from source, and a shared runtime for
//! the end-to-end tests.

use std::path::Path;
use std::sync::OnceLock;

use headway_host::{Plugin, Runtime};

/// The SaaS example plugin (`plugins/saas-health`).
pub const SAAS_HEALTH: &str = env!("HEADWAY_PLUGIN_SAAS_HEALTH");
/// The logistics example plugin (`plugins/logistics-otif`).
pub const LOGISTICS_OTIF: &str = env!("HEADWAY_PLUGIN_LOGISTICS_OTIF");
/// A simpler cut of the SaaS rules, for shadow scoring (`plugins/saas-seats`).
pub const SAAS_SEATS: &str = env!("HEADWAY_PLUGIN_SAAS_SEATS");

/// Loops, allocates, recurses, panics, floods logs or returns huge text, as its
/// config says (`tests/plugins/hostile`).
pub const HOSTILE: &str = env!("HEADWAY_PLUGIN_HOSTILE");
/// Imports the WASI filesystem.
pub const IMPORTS_FS: &str = env!("HEADWAY_PLUGIN_IMPORTS_FS");
/// A component for another world.
pub const WRONG_WORLD: &str = env!("HEADWAY_PLUGIN_WRONG_WORLD");
/// Built against contract 0.3.0, which this host does not know.
pub const NEWER_CONTRACT: &str = env!("HEADWAY_PLUGIN_NEWER_CONTRACT");
/// Answers with malformed columns or out-of-range scores.
pub const BAD_OUTPUT: &str = env!("HEADWAY_PLUGIN_BAD_OUTPUT");
/// Built against the frozen contract 0.1.0, never rebuilt.
pub const CONTRACT_V0_1_0: &str = env!("HEADWAY_PLUGIN_CONTRACT_V0_1_0");
/// The benchmark rule: five factors over six measures (`plugins/five-factors`).
pub const FIVE_FACTORS: &str = env!("HEADWAY_PLUGIN_FIVE_FACTORS");
/// Reads the wall clock and seeds a `HashMap`: needs the clock and random grants.
pub const USES_CLOCK: &str = env!("HEADWAY_PLUGIN_USES_CLOCK");

/// What tenant.toml's `[api] token_sha256` holds for `token`: its SHA-256 in hex.
pub fn token_sha256(token: &str) -> String {
    headway_host::digest(token.as_bytes())
        .trim_start_matches("sha256:")
        .to_owned()
}

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repo root")
}

/// One runtime for the whole test binary, as in production: one engine per process.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().expect("runtime starts"))
}

/// Loads a plugin file with default limits and the given config values.
pub fn load(path: &str, config: &[(&str, &str)]) -> Plugin {
    let config = config
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    runtime()
        .load_file(
            Path::new(path),
            &headway_host::LoadOptions {
                tenant: Some("test-tenant".into()),
                config,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{path} loads: {e}"))
}

/// The median wall time of `runs` calls of `f`, after one warm-up call: what
/// the benchmarks report.
pub fn median_time(runs: usize, mut f: impl FnMut()) -> std::time::Duration {
    f();
    let mut times: Vec<std::time::Duration> = (0..runs.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// The Python plugin in `dir` (relative to the repo root), built with
/// `componentize-py` as `headway build` does. `None`, with the reason printed,
/// when componentize-py is not installed and `HEADWAY_REQUIRE_PYTHON` is unset
/// (CI sets it, so there a missing tool fails the test).
pub fn python_plugin(dir: &str) -> Option<std::path::PathBuf> {
    language_plugin(dir, headway_host::kits::PYTHON, "HEADWAY_REQUIRE_PYTHON")
}

/// The JavaScript plugin in `dir`, built with `componentize-js`; as
/// [`python_plugin`], required where `HEADWAY_REQUIRE_JS` is set.
pub fn javascript_plugin(dir: &str) -> Option<std::path::PathBuf> {
    language_plugin(dir, headway_host::kits::JAVASCRIPT, "HEADWAY_REQUIRE_JS")
}

fn language_plugin(
    dir: &str,
    language: headway_host::kits::Language,
    required: &str,
) -> Option<std::path::PathBuf> {
    match headway_host::kits::build(&repo_root().join(dir), language) {
        Ok(path) => Some(path),
        Err(e @ headway_host::kits::BuildError::NoTool { .. })
            if std::env::var_os(required).is_none() =>
        {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("{}", headway_host::error_chain(&e)),
    }
}

/// A runtime that keeps compiled plugins in `target/`, for the Python plugins:
/// compiling an 18 MB CPython component takes most of a minute in a debug build.
pub fn caching_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new()
            .expect("runtime starts")
            .with_artifact_cache(repo_root().join("target/test-artifact-cache"))
    })
}
