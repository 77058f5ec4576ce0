//! The tenants a server runs, and the one loading pipeline that keeps them current.
//!
//! Each tenant has an atomically swapped pointer to its current loaded plugin:
//! a request takes the pointer once and finishes on that version whatever happens
//! meanwhile. [`Registry::reconcile`] brings every tenant in line with the tenants
//! directory: new bytes -> digest (unchanged: nothing to do) -> compile (artifact
//! cache) -> contract and imports -> fixtures -> swap. Any failure keeps the last
//! good version serving and is recorded.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::{ArcSwap, ArcSwapOption};
use headway_host::{LoadOptions, MAX_CONFIG_BYTES, Plugin, Runtime, TenantConfig};
use headway_store::{ActiveBuild, PgStore, SharedStore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::metrics::TenantMetrics;

/// Reload events kept per tenant.
const HISTORY: usize = 100;

/// A tenant's plugin, loaded and checked, with what it was loaded from.
pub struct Loaded {
    /// The plugin, ready to assess.
    pub plugin: Plugin,
    /// The tenant's configuration at load time.
    pub config: TenantConfig,
    /// SHA-256 of the bearer token, if the tenant has one.
    pub token_sha256: Option<[u8; 32]>,
    /// Seconds since the Unix epoch.
    pub loaded_at: u64,
    /// Digest of everything the load read (config, plugin, fixtures).
    fingerprint: [u8; 32],
}

/// What one reload attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReloadOutcome {
    /// A new build serves.
    Loaded,
    /// The files were refused; the last good build keeps serving.
    Failed,
    /// The files are back to the build serving: the last error is over.
    Restored,
    /// `POST .../rollback` brought the previous build back.
    RolledBack,
}

impl ReloadOutcome {
    /// The name clients see (`rolled-back`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loaded => "loaded",
            Self::Failed => "failed",
            Self::Restored => "restored",
            Self::RolledBack => "rolled-back",
        }
    }
}

/// One reload attempt, as `GET /v1/tenants/{id}/reloads` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadEvent {
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// What it did.
    pub outcome: ReloadOutcome,
    /// The plugin version now serving (for `loaded` and `rolled-back`).
    pub version: Option<String>,
    /// Its digest.
    pub digest: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Time from noticing the change to serving it (or giving up).
    pub duration_ms: f64,
}

/// File sizes and times of what a tenant's load reads, and the build the fleet
/// database names active: unchanged stamps mean nothing to reread.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    files: Vec<Option<(u64, SystemTime)>>,
    published: Option<ActiveBuild>,
}

impl Stamp {
    fn of(paths: &[PathBuf], published: Option<ActiveBuild>) -> Self {
        Self {
            files: paths
                .iter()
                .map(|p| {
                    let m = std::fs::metadata(p).ok()?;
                    Some((m.len(), m.modified().ok()?))
                })
                .collect(),
            published,
        }
    }
}

#[derive(Default)]
struct TenantState {
    /// The stamp of the last attempt, successful or not.
    seen: Option<Stamp>,
    /// Fingerprint of the last failed attempt, so one bad build is reported once.
    failed: Option<[u8; 32]>,
    last_error: Option<String>,
    history: VecDeque<ReloadEvent>,
    scheduled: Option<ScheduledRun>,
}

/// A tenant: its current and previous plugin, reload state and counters.
pub struct Tenant {
    /// The tenant id (its folder name, or `id` in tenant.toml).
    pub id: String,
    dir: PathBuf,
    current: ArcSwapOption<Loaded>,
    previous: Mutex<Option<Arc<Loaded>>>,
    state: Mutex<TenantState>,
    /// Requests, assessments, fuel, latency.
    pub metrics: TenantMetrics,
    /// Scoring requests in flight, at most `[api] max_concurrent`.
    pub permits: Semaphore,
    max_concurrent: AtomicU64,
}

/// What `GET /v1/tenants/{id}/status` shows.
#[derive(Debug, Serialize)]
pub struct TenantStatus {
    /// Tenant id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// The build serving now.
    pub current: Option<BuildStatus>,
    /// The build a rollback would restore.
    pub previous: Option<BuildStatus>,
    /// Why the last reload failed, if it did.
    pub last_reload_error: Option<String>,
    /// Accounts assessed since start.
    pub assessments: u64,
    /// Of those, accounts that failed.
    pub failures: u64,
    /// Scoring requests since start.
    pub requests: u64,
    /// Successful and failed reloads.
    pub reloads: u64,
    /// Failed reloads.
    pub reload_failures: u64,
    /// What the last scheduled run (`[schedule]` in tenant.toml) did.
    pub last_scheduled_run: Option<ScheduledRun>,
}

/// One scheduled run's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledRun {
    /// The day (UTC) it ran for.
    pub day: headway_core::Date,
    /// The run recorded, when it was.
    pub run_id: Option<i64>,
    /// Why nothing was recorded, when not.
    pub error: Option<String>,
}

/// One loaded build.
#[derive(Debug, Serialize)]
pub struct BuildStatus {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Plugin digest.
    pub digest: String,
    /// Contract version it was built for.
    pub contract: String,
    /// Seconds since the Unix epoch.
    pub loaded_at: u64,
}

impl BuildStatus {
    fn of(l: &Loaded) -> Self {
        let r = l.plugin.plugin_ref();
        Self {
            name: r.name.clone(),
            version: r.version.clone(),
            digest: r.digest.clone(),
            contract: l.plugin.contract().to_string(),
            loaded_at: l.loaded_at,
        }
    }
}

impl Tenant {
    fn new(id: String, dir: PathBuf) -> Self {
        let max = headway_host::ApiSettings::default().max_concurrent;
        Self {
            id,
            dir,
            current: ArcSwapOption::empty(),
            previous: Mutex::new(None),
            state: Mutex::new(TenantState::default()),
            metrics: TenantMetrics::default(),
            permits: Semaphore::new(max as usize),
            max_concurrent: AtomicU64::new(u64::from(max)),
        }
    }

    /// The plugin serving now; a request keeps this `Arc` until it is done.
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.current.load_full()
    }

    /// Current and previous builds, last error and counters.
    pub fn status(&self) -> TenantStatus {
        let current = self.current();
        let state = self.state.lock().expect("tenant state");
        TenantStatus {
            id: self.id.clone(),
            name: current.as_ref().map(|l| l.config.name.clone()),
            current: current.as_deref().map(BuildStatus::of),
            previous: self
                .previous
                .lock()
                .expect("previous")
                .as_deref()
                .map(BuildStatus::of),
            last_reload_error: state.last_error.clone(),
            assessments: self.metrics.assessments.get(),
            failures: self.metrics.failures.get(),
            requests: self.metrics.requests(),
            reloads: self.metrics.reloads.get(),
            reload_failures: self.metrics.reload_failures.get(),
            last_scheduled_run: state.scheduled.clone(),
        }
    }

    /// The last scheduled run's outcome.
    pub fn last_scheduled_run(&self) -> Option<ScheduledRun> {
        self.state.lock().expect("tenant state").scheduled.clone()
    }

    /// Notes a scheduled run's outcome.
    pub(crate) fn scheduled(&self, run: ScheduledRun) {
        self.state.lock().expect("tenant state").scheduled = Some(run);
    }

    /// The reload history, oldest first.
    pub fn reloads(&self) -> Vec<ReloadEvent> {
        self.state
            .lock()
            .expect("tenant state")
            .history
            .iter()
            .cloned()
            .collect()
    }

    fn record(&self, event: ReloadEvent) {
        let mut state = self.state.lock().expect("tenant state");
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        match event.outcome {
            ReloadOutcome::Failed => {
                state.last_error.clone_from(&event.error);
                self.metrics.reload_failures.inc();
            }
            _ => state.last_error = None,
        }
        self.metrics.reloads.inc();
        tracing::info!(tenant = %self.id, outcome = event.outcome.as_str(), version = ?event.version,
            error = ?event.error, ms = event.duration_ms, "reload");
        state.history.push_back(event);
    }

    /// Records a refusal unless it is the one recorded last (a rescan every few
    /// seconds must not count the same conflict again).
    fn refuse_once(&self, reason: &str) {
        let repeated = self
            .state
            .lock()
            .expect("tenant state")
            .last_error
            .as_deref()
            == Some(reason);
        if !repeated {
            self.record(ReloadEvent {
                at: now(),
                outcome: ReloadOutcome::Failed,
                version: None,
                digest: None,
                error: Some(reason.to_owned()),
                duration_ms: 0.0,
            });
        }
    }

    fn swap_in(&self, loaded: Arc<Loaded>) {
        let max = u64::from(loaded.config.api.max_concurrent.max(1));
        let before = self.max_concurrent.swap(max, Ordering::Relaxed);
        if max > before {
            self.permits.add_permits((max - before) as usize);
        } else if max < before {
            self.permits.forget_permits((before - max) as usize);
        }
        let old = self.current.swap(Some(loaded));
        *self.previous.lock().expect("previous") = old;
    }
}

/// Why a tenant's new version was not swapped in.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailure {
    /// tenant.toml is missing or invalid.
    #[error(transparent)]
    Config(#[from] headway_host::TenantError),
    /// The component was refused (invalid, forbidden imports, contract, describe).
    #[error(transparent)]
    Load(#[from] headway_host::LoadError),
    /// The tenant's golden fixtures do not pass with this build.
    #[error("fixtures: {0}")]
    Fixtures(String),
    /// `[api] token_sha256` is not 64 hex digits.
    #[error("[api] token_sha256 is not a SHA-256 in hex")]
    Token,
}

/// A refused load: why, and the fingerprint of what was read (none when the
/// files could not be read at all).
struct Refused {
    fingerprint: Option<[u8; 32]>,
    reason: String,
}

/// Every tenant of one server.
pub struct Registry {
    runtime: Runtime,
    root: PathBuf,
    tenants: ArcSwap<BTreeMap<String, Arc<Tenant>>>,
    /// One loader at a time: reconcile and rollback never interleave.
    loading: Mutex<()>,
    /// Assessments running at once, all tenants together, within the engine's
    /// instance pool.
    pub engine_permits: Semaphore,
    /// The largest plugin file a tenant may point at.
    max_plugin_bytes: u64,
    /// The fleet's database, whose published builds take precedence over the
    /// tenants' plugin files.
    fleet: Option<Arc<SharedStore>>,
}

/// What reloading one tenant did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// Nothing changed (or the same refusal again).
    Unchanged,
    /// A new build serves, or the serving one's error is over.
    Swapped,
    /// Refused; the last good build keeps serving.
    Refused,
}

/// Why a rollback did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    /// No tenant has that id.
    #[error("no such tenant")]
    NoTenant,
    /// The tenant has served one build only (or was just rolled back).
    #[error("no previous version to roll back to")]
    NoPrevious,
    /// The fleet database could not be reached.
    #[error("the fleet database failed: {0}")]
    Fleet(String),
}

/// What one [`Registry::reconcile`] pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Tenants whose new version now serves.
    pub loaded: Vec<String>,
    /// Tenants whose change was refused (last good version kept).
    pub failed: Vec<String>,
    /// Tenants whose folder disappeared.
    pub removed: Vec<String>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Registry {
    /// `text` with the server's own paths left out: a tenant reading its reload
    /// errors learns where its folder is (`<tenants>/acme/plugin.wasm`), not how
    /// the server's disk is laid out.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let canonical = self.root.canonicalize().ok();
        for root in canonical.iter().chain([&self.root]) {
            let root = root.display().to_string();
            if !root.is_empty() {
                out = out.replace(&root, "<tenants>");
            }
        }
        out
    }

    /// A registry for the tenant folders under `root`; nothing loaded until
    /// [`Registry::reconcile`].
    pub fn new(runtime: Runtime, root: PathBuf) -> Self {
        Self {
            engine_permits: Semaphore::new(runtime.max_concurrent_calls()),
            runtime,
            root,
            tenants: ArcSwap::from_pointee(BTreeMap::new()),
            loading: Mutex::new(()),
            max_plugin_bytes: headway_host::MAX_PLUGIN_BYTES,
            fleet: None,
        }
    }

    /// Serves the builds published to `store` (a PostgreSQL store; a SQLite
    /// one publishes nothing) in place of the tenants' plugin files.
    pub fn with_fleet(mut self, store: Arc<SharedStore>) -> Self {
        self.fleet = Some(store).filter(|s| s.location().file().is_none());
        self
    }

    /// The fleet's catalog of published builds, if the server is in a fleet.
    pub fn fleet(&self) -> Option<Result<PgStore, headway_store::StoreError>> {
        self.fleet.as_ref().and_then(|s| s.catalog().transpose())
    }

    /// The build the fleet database names active for `tenant`. An error (the
    /// database is unreachable) leaves the tenant as it is.
    fn published(&self, tenant: &str) -> Result<Option<ActiveBuild>, String> {
        match self.fleet() {
            None => Ok(None),
            Some(catalog) => catalog
                .and_then(|c| c.active_build(tenant))
                .map_err(|e| e.to_string()),
        }
    }

    /// Refuses plugin files above `bytes` (default [`headway_host::MAX_PLUGIN_BYTES`]).
    pub fn with_max_plugin_bytes(mut self, bytes: u64) -> Self {
        self.max_plugin_bytes = bytes;
        self
    }

    /// A tenant by id.
    pub fn tenant(&self, id: &str) -> Option<Arc<Tenant>> {
        self.tenants.load().get(id).cloned()
    }

    /// Every tenant, by id.
    pub fn tenants(&self) -> Arc<BTreeMap<String, Arc<Tenant>>> {
        self.tenants.load_full()
    }

    /// Folders the watcher must watch: the root, and the folders of plugin files
    /// that live outside it.
    pub fn watched_dirs(&self) -> Vec<PathBuf> {
        // Canonical, so `tenants/x/../../plugins/...` is seen to be outside.
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
        let root = canonical(&self.root);
        let mut dirs = vec![root.clone()];
        for t in self.tenants.load().values() {
            if let Some(l) = t.current()
                && let Some(parent) = l.config.plugin.parent().map(canonical)
                && !parent.starts_with(&root)
                && !dirs.contains(&parent)
            {
                dirs.push(parent);
            }
        }
        dirs
    }

    /// Brings every tenant in line with the tenants directory. Blocking (it
    /// compiles): run it off the request path.
    pub fn reconcile(&self) -> Reconciled {
        let _one_loader = self.loading.lock().expect("loader lock");
        let mut done = Reconciled::default();
        // Each tenant.toml is parsed once per pass (for the id and the plugin's
        // path); it is read again only when something changed.
        let mut claims: BTreeMap<String, Vec<(PathBuf, Option<PathBuf>)>> = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let path = e.path();
                if path.join("tenant.toml").is_file() {
                    let (id, plugin) = match headway_host::load_tenant_config(&path) {
                        Ok(c) => (c.id, Some(c.plugin)),
                        Err(_) => (e.file_name().to_string_lossy().into_owned(), None),
                    };
                    claims.entry(id).or_default().push((path, plugin));
                }
            }
        }
        let mut tenants: BTreeMap<String, Arc<Tenant>> = (**self.tenants.load()).clone();
        let dirs = self.settle_claims(claims, &tenants, &mut done);
        // A folder that is gone takes its tenant with it; a folder whose
        // tenant.toml is gone keeps serving its last good version (reported below).
        tenants.retain(|id, t| {
            let keep = dirs.contains_key(id) || t.dir.is_dir();
            if !keep {
                tracing::info!(tenant = %id, "tenant folder removed; tenant unloaded");
                done.removed.push(id.clone());
            }
            keep
        });
        for (id, (dir, plugin)) in dirs {
            let tenant = tenants
                .entry(id.clone())
                .or_insert_with(|| Arc::new(Tenant::new(id.clone(), dir)));
            match self.refresh(tenant, plugin) {
                Refresh::Swapped => done.loaded.push(id),
                Refresh::Refused => done.failed.push(id),
                Refresh::Unchanged => {}
            }
        }
        for (id, t) in &tenants {
            if !done.loaded.contains(id) && !t.dir.join("tenant.toml").is_file() {
                self.refresh(t, None);
            }
        }
        self.tenants.store(Arc::new(tenants));
        done
    }

    /// One folder per tenant id. A folder claiming an id another folder already
    /// serves is refused (the first keeps it); two new folders claiming one id
    /// are both refused. Either way the log, the tenant's status and the reload
    /// failure count name every folder involved: a copied tenant.toml must never
    /// silently take over another tenant's token and rules.
    fn settle_claims(
        &self,
        claims: BTreeMap<String, Vec<(PathBuf, Option<PathBuf>)>>,
        tenants: &BTreeMap<String, Arc<Tenant>>,
        done: &mut Reconciled,
    ) -> BTreeMap<String, (PathBuf, Option<PathBuf>)> {
        let mut dirs = BTreeMap::new();
        for (id, mut folders) in claims {
            if folders.len() == 1 {
                dirs.insert(id, folders.remove(0));
                continue;
            }
            let names: Vec<String> = folders
                .iter()
                .map(|(d, _)| d.display().to_string())
                .collect();
            let holder = tenants.get(&id).map(|t| t.dir.clone());
            let kept = holder
                .as_ref()
                .and_then(|dir| folders.iter().position(|(d, _)| d == dir));
            let reason = match kept {
                Some(i) => format!(
                    "folders {} all claim tenant id `{id}`: `{}` keeps it, the others are refused",
                    names.join(", "),
                    names[i]
                ),
                None => format!(
                    "folders {} all claim tenant id `{id}`: all are refused until one id is changed",
                    names.join(", ")
                ),
            };
            tracing::error!(tenant = %id, "{reason}");
            if let Some(tenant) = tenants.get(&id) {
                tenant.refuse_once(&reason);
            }
            done.failed.push(id.clone());
            if let Some(i) = kept {
                dirs.insert(id, folders.swap_remove(i));
            }
        }
        dirs
    }

    /// Reloads one tenant if what it reads changed (`plugin`: the plugin path its
    /// tenant.toml names, when it parses).
    fn refresh(&self, tenant: &Tenant, plugin: Option<PathBuf>) -> Refresh {
        let started = Instant::now();
        let current = tenant.current();
        let toml = tenant.dir.join("tenant.toml");
        let fixtures = tenant.dir.join("fixtures.jsonl");
        let plugin_path = plugin.or_else(|| current.as_ref().map(|l| l.config.plugin.clone()));
        let published = match self.published(&tenant.id) {
            Ok(published) => published,
            Err(e) => {
                tracing::warn!(tenant = %tenant.id, "published builds unreadable, tenant left as is: {e}");
                return Refresh::Unchanged;
            }
        };
        let mut paths = vec![toml, fixtures];
        if published.is_none() {
            paths.extend(plugin_path);
        }
        let stamp = Stamp::of(&paths, published.clone());
        {
            let mut state = tenant.state.lock().expect("tenant state");
            if state.seen.as_ref() == Some(&stamp) {
                return Refresh::Unchanged;
            }
            state.seen = Some(stamp);
        }
        let event = |outcome, loaded: Option<&Loaded>, error: Option<String>| ReloadEvent {
            at: now(),
            outcome,
            version: loaded.map(|l| l.plugin.plugin_ref().version.clone()),
            digest: loaded.map(|l| l.plugin.plugin_ref().digest.clone()),
            error,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
        };
        match self.load(tenant, current.as_deref(), published.as_ref()) {
            Ok(None) => {
                // The files are back to the build that serves (a bad deploy was
                // undone): its error is over, and the same bad build deployed
                // again is a new failure to count.
                let mut state = tenant.state.lock().expect("tenant state");
                state.failed = None;
                if state.last_error.take().is_some() {
                    drop(state);
                    tenant.record(event(ReloadOutcome::Restored, current.as_deref(), None));
                    return Refresh::Swapped;
                }
                Refresh::Unchanged
            }
            Ok(Some(loaded)) => {
                let loaded = Arc::new(loaded);
                tenant.state.lock().expect("tenant state").failed = None;
                tenant.swap_in(Arc::clone(&loaded));
                tenant.record(event(ReloadOutcome::Loaded, Some(&loaded), None));
                Refresh::Swapped
            }
            Err(Refused {
                fingerprint,
                reason,
            }) => {
                let mut state = tenant.state.lock().expect("tenant state");
                if fingerprint.is_some() && state.failed == fingerprint {
                    return Refresh::Unchanged; // the same bad build, already reported
                }
                state.failed = fingerprint;
                drop(state);
                tenant.record(event(ReloadOutcome::Failed, None, Some(reason)));
                Refresh::Refused
            }
        }
    }

    /// Reads and checks a tenant's new version: the build `published` to the
    /// fleet, else the plugin file. `Ok(None)` when the fingerprint equals the
    /// current one.
    fn load(
        &self,
        tenant: &Tenant,
        current: Option<&Loaded>,
        published: Option<&ActiveBuild>,
    ) -> Result<Option<Loaded>, Refused> {
        let unread = |e: LoadFailure| Refused {
            fingerprint: None,
            reason: headway_host::error_chain(&e),
        };
        let config = headway_host::load_tenant_config(&tenant.dir).map_err(|e| unread(e.into()))?;
        let (digest, mut bytes) = match published {
            // Fetched only when the fingerprint says something changed.
            Some(build) => (build.digest.clone(), None),
            None => {
                let bytes = headway_host::read_plugin_capped(&config.plugin, self.max_plugin_bytes)
                    .map_err(|e| unread(e.into()))?;
                (headway_host::digest(&bytes), Some(bytes))
            }
        };
        let toml_text =
            headway_host::read_capped(&tenant.dir.join("tenant.toml"), MAX_CONFIG_BYTES)
                .unwrap_or_default();
        let fixtures_text = read_fixtures(&tenant.dir).map_err(unread)?;
        let mut h = Sha256::new();
        for part in [
            &toml_text[..],
            digest.as_bytes(),
            fixtures_text.as_deref().unwrap_or("").as_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let fingerprint: [u8; 32] = h.finalize().into();
        if current.is_some_and(|c| c.fingerprint == fingerprint) {
            return Ok(None);
        }
        let fail = |e: LoadFailure| Refused {
            fingerprint: Some(fingerprint),
            reason: headway_host::error_chain(&e),
        };
        let origin = match published {
            Some(_) => format!("published build {digest}"),
            None => config.plugin.display().to_string(),
        };
        let bytes = match bytes.take() {
            Some(bytes) => bytes,
            None => self.fetch(&tenant.id, &digest).map_err(|e| Refused {
                fingerprint: None,
                reason: e,
            })?,
        };
        let plugin = self
            .gate(&config, &bytes, &origin, fixtures_text.as_deref())
            .map_err(fail)?;
        let token_sha256 = token_hash(&config).map_err(fail)?;
        Ok(Some(Loaded {
            plugin,
            config,
            token_sha256,
            loaded_at: now(),
            fingerprint,
        }))
    }

    /// A published component, checked against its digest.
    fn fetch(&self, tenant: &str, digest: &str) -> Result<Vec<u8>, String> {
        let catalog = self
            .fleet()
            .ok_or("no fleet database")?
            .map_err(|e| e.to_string())?;
        let bytes = catalog
            .component(tenant, digest)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("published build {digest} is missing from the database"))?;
        let found = headway_host::digest(&bytes);
        if found != digest {
            return Err(format!(
                "published build {digest} reads back as {found}: refused"
            ));
        }
        Ok(bytes)
    }

    /// What every new build passes before it serves, from a file or published:
    /// it loads for this tenant (contract, imports, describe) and passes the
    /// tenant's fixtures.
    fn gate(
        &self,
        config: &TenantConfig,
        bytes: &[u8],
        origin: &str,
        fixtures: Option<&str>,
    ) -> Result<Plugin, LoadFailure> {
        let plugin = self
            .runtime
            .load(bytes, origin, &LoadOptions::of_tenant(config))?;
        if let Some(text) = fixtures {
            plugin.check_fixtures(text).map_err(LoadFailure::Fixtures)?;
        }
        Ok(plugin)
    }

    /// Checks a build for tenant `id` as a reload would, without serving it:
    /// the plugin it would be, or why it is refused.
    pub fn check_candidate(&self, id: &str, bytes: &[u8]) -> Result<Plugin, String> {
        let tenant = self.tenant(id).ok_or("no such tenant")?;
        let config = headway_host::load_tenant_config(&tenant.dir)
            .map_err(|e| headway_host::error_chain(&e))?;
        let fixtures = read_fixtures(&tenant.dir).map_err(|e| headway_host::error_chain(&e))?;
        self.gate(&config, bytes, "the uploaded build", fixtures.as_deref())
            .map_err(|e| self.redact(&headway_host::error_chain(&e)))
    }

    /// Puts the previous version back (one swap); the current becomes previous.
    /// A tenant serving a published build rolls back fleet-wide: the database
    /// activates the build before, and every server loads it.
    /// `by` names who asked, for the fleet's activation log.
    pub fn rollback(&self, id: &str, by: &str) -> Result<BuildStatus, RollbackError> {
        if let Some(status) = self.rollback_published(id, by)? {
            return Ok(status);
        }
        let _one_loader = self.loading.lock().expect("loader lock");
        let tenant = self.tenant(id).ok_or(RollbackError::NoTenant)?;
        let started = Instant::now();
        let previous = tenant
            .previous
            .lock()
            .expect("previous")
            .take()
            .ok_or(RollbackError::NoPrevious)?;
        tenant.swap_in(Arc::clone(&previous));
        let r = previous.plugin.plugin_ref();
        tenant.record(ReloadEvent {
            at: now(),
            outcome: ReloadOutcome::RolledBack,
            version: Some(r.version.clone()),
            digest: Some(r.digest.clone()),
            error: None,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
        });
        Ok(BuildStatus::of(&previous))
    }
}

impl Registry {
    /// The fleet-wide rollback, for a tenant serving a published build.
    fn rollback_published(&self, id: &str, by: &str) -> Result<Option<BuildStatus>, RollbackError> {
        let Some(catalog) = self.fleet() else {
            return Ok(None);
        };
        let fleet = |e: headway_store::StoreError| RollbackError::Fleet(e.to_string());
        let catalog = catalog.map_err(fleet)?;
        if catalog.active_build(id).map_err(fleet)?.is_none() {
            return Ok(None);
        }
        catalog
            .rollback_published(id, by)
            .map_err(fleet)?
            .ok_or(RollbackError::NoPrevious)?;
        // Here at once; the other servers when they hear of it.
        self.reconcile();
        let tenant = self.tenant(id).ok_or(RollbackError::NoTenant)?;
        let serving = tenant.current().ok_or(RollbackError::NoTenant)?;
        Ok(Some(BuildStatus::of(&serving)))
    }

    /// The largest component a tenant may serve.
    pub fn max_plugin_bytes(&self) -> u64 {
        self.max_plugin_bytes
    }
}

/// A tenant's golden fixtures, if it has any.
fn read_fixtures(dir: &Path) -> Result<Option<String>, LoadFailure> {
    headway_host::read_tenant_fixtures(dir)
        .map_err(|e| LoadFailure::Fixtures(format!("cannot read: {e}")))
}

/// The tenant's token hash: from `token_sha256`, or hashed from `token_env`.
fn token_hash(config: &TenantConfig) -> Result<Option<[u8; 32]>, LoadFailure> {
    if let Some(text) = &config.api.token_sha256 {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(text, &mut hash).map_err(|_| LoadFailure::Token)?;
        return Ok(Some(hash));
    }
    Ok(config
        .api
        .token_env
        .as_deref()
        .and_then(|name| std::env::var(name).ok())
        .filter(|t| !t.is_empty())
        .map(|t| Sha256::digest(t.as_bytes()).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(api: &str) -> TenantConfig {
        let text = format!("name = \"t\"\nplugin = \"p.wasm\"\n[api]\n{api}\n");
        TenantConfig::parse(&text, Path::new("tenant.toml"), "t").unwrap()
    }

    #[test]
    fn a_token_hash_is_64_hex_digits() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let expected: [u8; 32] = Sha256::digest(b"test").into();
        let got = token_hash(&config(&format!("token_sha256 = \"{hash}\""))).unwrap();
        assert_eq!(got, Some(expected));
        let upper = token_hash(&config(&format!(
            "token_sha256 = \"{}\"",
            hash.to_uppercase()
        )));
        assert_eq!(upper.unwrap(), Some(expected));
        for bad in [
            &hash[..63],
            &format!("{hash}00"),
            &hash.replace('9', "g"),
            "",
        ] {
            let err = token_hash(&config(&format!("token_sha256 = \"{bad}\""))).unwrap_err();
            assert!(matches!(err, LoadFailure::Token), "{bad}");
        }
        assert_eq!(token_hash(&config("max_concurrent = 2")).unwrap(), None);
    }
}
