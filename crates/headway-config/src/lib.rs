//! A tenant's configuration: what its `tenant.toml` says (plugin, limits,
//! config values, capabilities, API access, vector window, schedule), parsed
//! and checked. Text in, typed config out: reading the file is the host's job
//! (`headway_host::load_tenant_config`), so this crate has no I/O and no wasm,
//! and anything that only needs a setting (the CLI's `history` reads
//! `window_days`) does not pull in the engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use headway_core::alerts::AlertRule;
use serde::{Deserialize, Serialize};

mod alerts;

/// The most linear memory a plugin may be given, in MiB.
pub const MAX_MEMORY_MIB: u64 = 1024;

/// A tenant.toml that does not parse or breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}`: {message}", path.display())]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong (the parser's message has line and column).
    pub message: String,
}

/// `[capabilities]` in tenant.toml: what the tenant grants its plugin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    /// The wall clock and a monotonic clock (`wasi:clocks`).
    pub clock: bool,
    /// Random numbers and hash seeds from the operating system (`wasi:random`).
    pub random: bool,
}

/// Sandbox limits of one tenant's plugin. Every field has a safe default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Instruction (fuel) budget per account; a batch gets this times its size.
    /// Unset, it depends on the plugin: [`COMPILED_FUEL_PER_ACCOUNT`] for a
    /// compiled one (Rust), [`RUNTIME_FUEL_PER_ACCOUNT`] for one that carries a
    /// language runtime (Python, JavaScript), which spends far more per account.
    pub fuel_per_account: Option<u64>,
    /// Wall-clock deadline per batch, in milliseconds: a backstop to fuel.
    pub deadline_ms: u64,
    /// Linear memory cap per instance, in MiB.
    pub memory_mib: u64,
    /// Accounts per plugin call.
    pub batch_size: usize,
    /// Text (reasons, error messages) a plugin may return per account, in KiB.
    pub output_kib_per_account: u64,
}

/// The fuel per account of a compiled plugin when the tenant sets none.
pub const COMPILED_FUEL_PER_ACCOUNT: u64 = 2_000_000;
/// The fuel per account of a language runtime when the tenant sets none:
/// saas-health spends about 1.6M per account in JavaScript and 0.54M in Python,
/// and a batch of 1,000 still runs out of fuel well before the 5 s deadline
/// (both run 4-6G instructions/s), so one runaway account is isolated, not the
/// batch failed.
pub const RUNTIME_FUEL_PER_ACCOUNT: u64 = 5_000_000;

impl Limits {
    /// The fuel per account a plugin gets: the tenant's, or the default for
    /// its kind (`runtime`: it carries a language runtime).
    pub fn fuel_per_account(&self, runtime: bool) -> u64 {
        self.fuel_per_account.unwrap_or(if runtime {
            RUNTIME_FUEL_PER_ACCOUNT
        } else {
            COMPILED_FUEL_PER_ACCOUNT
        })
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel_per_account: None,
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
    /// `[weights]`: the tenant's own factor weights (factor id = weight, summing
    /// to 1), applied to what the plugin returns without rebuilding it; empty:
    /// the plugin's own.
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    /// How the Success Vector is computed.
    #[serde(default)]
    pub vector: VectorSettings,
    /// Access to the tenant over `headway serve`'s HTTP API.
    #[serde(default)]
    pub api: ApiSettings,
    /// What the plugin may use beyond the contract (clock, randomness).
    #[serde(default)]
    pub capabilities: Capabilities,
    /// A daily scoring run `headway serve` records by itself.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// `[[alerts]]`: the score changes the tenant wants to hear about.
    #[serde(default, deserialize_with = "alerts::rules")]
    pub alerts: Vec<AlertRule>,
    /// `[webhook]`: where its alerts are delivered; none keeps them in the
    /// outbox for `headway alerts` and the API.
    #[serde(default)]
    pub webhook: Option<Webhook>,
    /// `[history]`: what the decision log keeps of each scoring.
    #[serde(default)]
    pub history: HistorySettings,
}

/// `[history]` in tenant.toml: what the decision log keeps. Every scoring
/// request and run is logged (who, which build, digests of input and output);
/// these settings say whether the input itself is kept for `headway replay`,
/// which fields of it are masked first, and what happens when the log cannot
/// be written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySettings {
    /// Keep each scored input (deduplicated, compressed) so it can be replayed.
    #[serde(default)]
    pub keep_inputs: bool,
    /// Fields removed from kept inputs: `name`, `attributes.email`, `measures.nps`...
    #[serde(default)]
    pub mask: Vec<String>,
    /// When the decision log cannot be written.
    #[serde(default)]
    pub on_log_failure: LogFailure,
}

impl HistorySettings {
    /// The mask, checked when tenant.toml was read.
    pub fn mask(&self) -> headway_core::masking::Mask {
        headway_core::masking::Mask::parse(&self.mask).expect("checked when tenant.toml was read")
    }
}

/// What a scoring does when its decision cannot be logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFailure {
    /// The request fails (503): nothing is scored unlogged.
    #[default]
    Fail,
    /// The answer goes out; `headway_decision_log_failures_total` counts it.
    Count,
}

/// `[webhook]` in tenant.toml: an HTTP endpoint each alert is posted to, signed
/// with a secret the operator keeps in an environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `http://` or `https://` URL alerts are POSTed to.
    pub url: String,
    /// The environment variable holding the signing secret.
    pub secret_env: String,
    /// The body: Headway's JSON, or a Slack incoming-webhook message.
    #[serde(default)]
    pub format: WebhookFormat,
    /// Tries before an alert is a dead letter.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait after the first failed try, in milliseconds; doubled after
    /// each one.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// The longest wait between tries, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// How long one try may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Prefixed to the API links in the body (`https://headway.example.com`);
    /// links are paths without it.
    #[serde(default)]
    pub links_base: String,
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookFormat {
    /// Headway's alert JSON.
    #[default]
    Json,
    /// `{"text": ...}`, what Slack-compatible incoming webhooks take.
    Slack,
}

fn default_max_attempts() -> u32 {
    8
}
fn default_backoff_ms() -> u64 {
    30_000
}
fn default_max_backoff_ms() -> u64 {
    3_600_000
}
fn default_timeout_ms() -> u64 {
    10_000
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
    /// The config with its relative paths (plugin, schedule source) made
    /// relative to `dir`, the tenant's folder.
    pub fn resolved(mut self, dir: &Path) -> Self {
        self.plugin = dir.join(&self.plugin);
        if let Some(schedule) = &mut self.schedule {
            schedule.source = dir.join(&schedule.source);
        }
        self
    }

    /// Parses and checks a tenant.toml's text (no file is touched); `path` names
    /// it in errors, `folder` is the id when the file gives none. The plugin path
    /// is left as written.
    pub fn parse(text: &str, path: &Path, folder: &str) -> Result<Self, ConfigError> {
        let mut config: TenantConfig = toml::from_str(text).map_err(|e| ConfigError {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if config.id.is_empty() {
            config.id = folder.to_owned();
        }
        let invalid = |message: String| ConfigError {
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
        if let Some(hook) = &config.webhook {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return Err(invalid(format!(
                    "webhook.url is `{}`: expected an http:// or https:// URL",
                    hook.url
                )));
            }
            if hook.secret_env.trim().is_empty() {
                return Err(invalid(
                    "webhook.secret_env is empty: name the environment variable holding the signing secret".to_owned(),
                ));
            }
            if hook.max_attempts == 0 || hook.backoff_ms == 0 || hook.timeout_ms == 0 {
                return Err(invalid(
                    "webhook.max_attempts, backoff_ms and timeout_ms must be above zero".to_owned(),
                ));
            }
            if hook.max_backoff_ms < hook.backoff_ms {
                return Err(invalid(format!(
                    "webhook.max_backoff_ms ({}) is below backoff_ms ({})",
                    hook.max_backoff_ms, hook.backoff_ms
                )));
            }
        }
        if !config.weights.is_empty() {
            if let Some((id, w)) = config
                .weights
                .iter()
                .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
            {
                return Err(invalid(format!(
                    "weights.{id} is {w}: a weight is a number of 0 or more"
                )));
            }
            let sum: f64 = config.weights.values().sum();
            if (sum - 1.0).abs() > 1e-6 {
                return Err(invalid(format!("the [weights] sum to {sum}, not 1")));
            }
        }
        if let Err(e) = headway_core::masking::Mask::parse(&config.history.mask) {
            return Err(invalid(format!("history.mask: {e}")));
        }
        let limits = &config.limits;
        if limits.batch_size == 0 || limits.memory_mib == 0 || limits.fuel_per_account == Some(0) {
            return Err(invalid("limits must be above zero".to_owned()));
        }
        if limits.memory_mib > MAX_MEMORY_MIB {
            return Err(invalid(format!(
                "limits.memory_mib is {}, at most {} is supported",
                limits.memory_mib, MAX_MEMORY_MIB
            )));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TenantConfig, ConfigError> {
        TenantConfig::parse(text, Path::new("t/tenant.toml"), "folder")
    }

    #[test]
    fn defaults_and_paths() {
        let c = parse("name = \"Acme\"\nplugin = \"p.wasm\"\n").unwrap();
        assert_eq!((c.id.as_str(), c.currency.as_str()), ("folder", "USD"));
        assert_eq!(c.limits, Limits::default());
        assert!(c.weights.is_empty(), "the plugin's own weights");
        let weighted =
            parse("name = \"A\"\nplugin = \"p.wasm\"\n[weights]\na = 0.25\nb = 0.75\n").unwrap();
        assert_eq!(
            weighted.weights,
            BTreeMap::from([("a".into(), 0.25), ("b".into(), 0.75)])
        );
        assert_eq!(c.vector.window_days, 90);
        assert_eq!(c.capabilities, Capabilities::default());
        assert_eq!(c.webhook, None);
        assert_eq!(c.history, HistorySettings::default());
        assert_eq!(
            c.history.on_log_failure,
            LogFailure::Fail,
            "never silent by default"
        );
        let kept = parse("name = \"A\"\nplugin = \"p.wasm\"\n[history]\nkeep_inputs = true\nmask = [\"attributes.email\"]\non_log_failure = \"count\"\n").unwrap();
        assert!(kept.history.keep_inputs);
        assert_eq!(kept.history.mask().names(), ["attributes.email"]);
        assert_eq!(kept.history.on_log_failure, LogFailure::Count);
        let hook = parse("name = \"A\"\nplugin = \"p.wasm\"\n[webhook]\nurl = \"https://h/x\"\nsecret_env = \"ACME_HOOK\"\nformat = \"slack\"\n")
            .unwrap()
            .webhook
            .unwrap();
        assert_eq!(
            (
                hook.format,
                hook.max_attempts,
                hook.backoff_ms,
                hook.max_backoff_ms,
                hook.timeout_ms
            ),
            (WebhookFormat::Slack, 8, 30_000, 3_600_000, 10_000)
        );
        let c = parse("id = \"acme\"\nname = \"A\"\nplugin = \"p.wasm\"\n[schedule]\nsource = \"x.csv\"\nat = \"02:30\"\n")
            .unwrap()
            .resolved(Path::new("/srv/acme"));
        assert_eq!(c.id, "acme");
        assert_eq!(c.plugin, Path::new("/srv/acme/p.wasm"));
        let schedule = c.schedule.unwrap();
        assert_eq!(schedule.source, Path::new("/srv/acme/x.csv"));
        assert_eq!(schedule.minute_of_day(), Some(150));
    }

    #[test]
    fn fuel_defaults_to_the_plugins_kind_unless_the_tenant_sets_it() {
        let unset = parse("name = \"A\"\nplugin = \"p.wasm\"\n").unwrap().limits;
        assert_eq!(unset.fuel_per_account(false), 2_000_000);
        assert_eq!(unset.fuel_per_account(true), 5_000_000);
        let set =
            parse("name = \"A\"\nplugin = \"p.wasm\"\n[limits]\nfuel_per_account = 3_000_000\n")
                .unwrap()
                .limits;
        assert_eq!(set.fuel_per_account(false), 3_000_000);
        assert_eq!(set.fuel_per_account(true), 3_000_000);
    }

    #[test]
    fn rules_broken_are_named() {
        let base = "name = \"A\"\nplugin = \"p.wasm\"\n";
        let cases = [
            ("[limits]\nbatch_size = 0\n", "limits must be above zero"),
            (
                "[limits]\nfuel_per_account = 0\n",
                "limits must be above zero",
            ),
            ("[limits]\nmemory_mib = 4096\n", "at most 1024"),
            (
                "[schedule]\nsource = \"x\"\nat = \"2:30\"\n",
                "schedule.at is `2:30`",
            ),
            (
                "[schedule]\nsource = \"x\"\nat = \"24:00\"\n",
                "schedule.at is `24:00`",
            ),
            ("colour = \"red\"\n", "unknown field `colour`"),
            (
                "[history]\nmask = [\"name\", \"arr\"]\n",
                "history.mask: `arr` cannot be masked",
            ),
            (
                "[history]\non_log_failure = \"ignore\"\n",
                "unknown variant `ignore`",
            ),
            (
                "[weights]\na = 0.5\nb = 0.25\n",
                "the [weights] sum to 0.75, not 1",
            ),
            (
                "[weights]\na = 1.5\nb = -0.5\n",
                "weights.b is -0.5: a weight is a number of 0 or more",
            ),
            (
                "[webhook]\nurl = \"ftp://x\"\nsecret_env = \"S\"\n",
                "webhook.url is `ftp://x`",
            ),
            (
                "[webhook]\nurl = \"http://x\"\nsecret_env = \"\"\n",
                "webhook.secret_env is empty",
            ),
            (
                "[webhook]\nurl = \"http://x\"\nsecret_env = \"S\"\nmax_attempts = 0\n",
                "must be above zero",
            ),
            (
                "[webhook]\nurl = \"http://x\"\nsecret_env = \"S\"\nbackoff_ms = 10\nmax_backoff_ms = 5\n",
                "webhook.max_backoff_ms (5) is below backoff_ms (10)",
            ),
            (
                "[webhook]\nurl = \"http://x\"\nsecret_env = \"S\"\nsecret = \"x\"\n",
                "unknown field `secret`",
            ),
        ];
        for (extra, expected) in cases {
            let err = parse(&format!("{base}{extra}")).unwrap_err().to_string();
            assert!(
                err.starts_with("`t/tenant.toml`: ") && err.contains(expected),
                "{err}"
            );
        }
    }
}
