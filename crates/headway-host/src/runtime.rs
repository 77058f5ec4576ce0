//! One wasmtime `Engine` for the process; plugins compiled once and instantiated
//! fresh (new `Store`) for every batch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use headway_core::{Account, AccountError, Assessment, PluginInfo, PluginRef};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use crate::bindings::headway::rules::{host, types as wit};
use crate::bindings::{HealthRules, HealthRulesPre};
use crate::convert;
use crate::error::{LoadError, RunError};
use crate::tenant::Limits;

/// The contract version this host implements.
pub const CONTRACT: &str = "headway:rules@0.1.0";
const RULES_EXPORT: &str = "headway:rules/rules@0.1.0";
/// The contract's own imports: host functions, and the (function-free) type interface.
const CONTRACT_IMPORTS: [&str; 2] = ["headway:rules/host@0.1.0", "headway:rules/types@0.1.0"];
/// The WASI interfaces a plain Rust `wasm32-wasip2` library imports even when it
/// never uses them (std's stdio and exit plumbing). They are linked as traps: a
/// plugin that actually calls one stops with an error, and learns nothing.
const INERT_WASI: [&str; 5] = [
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/std",
    "wasi:cli/terminal-",
    "wasi:io/",
];
/// How often the epoch advances; deadlines are whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Fuel for describe() and instantiation, on top of the per-account budget.
const BASE_FUEL: u64 = 5_000_000;
/// Extra calls allowed per batch to isolate the accounts that make a call fail.
/// Past it, a plugin that fails on every account is broken, not the data: the
/// remaining parts fail whole instead of costing two calls per account.
const MAX_ISOLATION_CALLS: u32 = 32;
/// Log lines kept per batch; more are counted, not kept.
const MAX_LOG_LINES: usize = 1_000;
/// Bytes of log text kept per batch.
const MAX_LOG_BYTES: usize = 256 << 10;
/// Longest log line kept; longer ones are cut.
const MAX_LOG_LINE: usize = 4 << 10;
/// What the plugin kit's panic hook writes before the instance aborts.
const PANIC_PREFIX: &str = "panicked at";

/// What the host decides about one import of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportVerdict {
    /// Part of the contract (`headway:rules/host`, `headway:rules/types`).
    Contract,
    /// WASI plumbing every Rust `wasm32-wasip2` library carries; linked as traps.
    InertWasi,
    /// Not granted: the component is refused.
    Refused,
}

/// A component's exports and imports, as the host sees them.
#[derive(Debug, Clone)]
pub struct Interface {
    /// Exported names (interfaces and functions).
    pub exports: Vec<String>,
    /// Imported names with the host's verdict.
    pub imports: Vec<(String, ImportVerdict)>,
}

impl Interface {
    /// The supported contract the component implements, if any.
    pub fn contract(&self) -> Option<&'static str> {
        self.exports
            .iter()
            .any(|e| e == RULES_EXPORT)
            .then_some(CONTRACT)
    }
}

/// A log line a plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Severity.
    pub level: host::LogLevel,
    /// The message.
    pub message: String,
}

/// Per-`Store` state: what the host functions and the limiter need.
struct StoreState {
    config: Arc<BTreeMap<String, String>>,
    memory_cap: usize,
    memory_denied: bool,
    peak_memory: usize,
    logs: Vec<LogLine>,
    log_bytes: usize,
    dropped_logs: usize,
    /// Kept apart from the logs so that a plugin that filled its log quota still
    /// gets its panic message reported.
    panic: Option<String>,
}

impl StoreState {
    /// The logs, with a note of how many lines the caps dropped.
    fn into_logs(mut self) -> Vec<LogLine> {
        if self.dropped_logs > 0 {
            self.logs.push(LogLine {
                level: host::LogLevel::Warn,
                message: format!(
                    "{} log lines dropped (limits: {MAX_LOG_LINES} lines, {} KiB per batch)",
                    self.dropped_logs,
                    MAX_LOG_BYTES >> 10
                ),
            });
        }
        self.logs
    }
}

impl host::Host for StoreState {
    fn log(&mut self, level: host::LogLevel, mut message: String) {
        if message.starts_with(PANIC_PREFIX) {
            self.panic = Some(message.clone());
        }
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" [cut]");
        }
        if self.logs.len() < MAX_LOG_LINES && self.log_bytes + message.len() <= MAX_LOG_BYTES {
            self.log_bytes += message.len();
            self.logs.push(LogLine { level, message });
        } else {
            self.dropped_logs += 1;
        }
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }
}

impl crate::bindings::headway::rules::types::Host for StoreState {}

impl wasmtime::ResourceLimiter for StoreState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_denied = true;
            return Err(wasmtime::format_err!("memory limit reached"));
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A table entry is a pointer; hold tables to the same byte budget as memory.
        Ok(desired.saturating_mul(8) <= self.memory_cap)
    }
}

/// The process-wide plugin runtime: one `Engine` shared by every tenant.
pub struct Runtime {
    engine: Engine,
    metered: bool,
    pooling: bool,
    linker: Linker<StoreState>,
}

impl Runtime {
    /// Creates the engine (fuel metering, epoch deadlines, deterministic floats)
    /// and starts the epoch ticker.
    pub fn new() -> Result<Self, RunError> {
        Self::with_fuel(true)
    }

    /// Like [`Runtime::new`]; with `fuel` off, plugins are stopped by the wall-clock
    /// deadline only and instruction counts are not reported (faster, not
    /// reproducible: for measuring what metering costs).
    pub fn with_fuel(fuel: bool) -> Result<Self, RunError> {
        // Pooling reserves address space up front; where that is refused, fall
        // back to allocating each instance on demand (slower, same behaviour).
        let (engine, pooling) = match Engine::new(&engine_config(fuel, true)) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!("instance pool unavailable, allocating on demand: {e:#}");
                (
                    Engine::new(&engine_config(fuel, false)).map_err(host_error)?,
                    false,
                )
            }
        };
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("headway-epoch".into())
            .spawn(move || {
                // Holds only a weak reference: the thread ends with the engine.
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| RunError::Host {
                message: format!("cannot start epoch ticker: {e}"),
            })?;
        let mut linker = Linker::new(&engine);
        HealthRules::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(host_error)?;
        Ok(Self {
            engine,
            metered: fuel,
            pooling,
            linker,
        })
    }

    /// Whether instances come from the pre-reserved pool (fast) or are allocated
    /// on demand (the fallback where address space cannot be reserved).
    pub fn uses_pooling(&self) -> bool {
        self.pooling
    }

    /// Reads and loads a plugin file for `tenant`.
    pub fn load_file(
        &self,
        path: &std::path::Path,
        tenant: &str,
        limits: Limits,
        config: BTreeMap<String, String>,
    ) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        self.load(&bytes, &path.display().to_string(), tenant, limits, config)
    }

    /// Compiles a component and lists what it exports and imports, with the verdict
    /// on each import, without linking or running it (for `headway check`).
    pub fn inspect(&self, bytes: &[u8], origin: &str) -> Result<Interface, LoadError> {
        check_header(bytes, origin)?;
        let component = Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid {
            origin: origin.to_owned(),
            reason: format!("{e:#}"),
        })?;
        Ok(self.interface(&component))
    }

    fn interface(&self, component: &Component) -> Interface {
        let ty = component.component_type();
        let exports = ty
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let imports = ty
            .imports(&self.engine)
            .map(|(name, _)| {
                let verdict = if CONTRACT_IMPORTS.contains(&name) {
                    ImportVerdict::Contract
                } else if INERT_WASI.iter().any(|p| name.starts_with(p)) {
                    ImportVerdict::InertWasi
                } else {
                    ImportVerdict::Refused
                };
                (name.to_owned(), verdict)
            })
            .collect();
        Interface { exports, imports }
    }

    /// Validates, compiles and links a component, then asks it to describe itself.
    /// `origin` names the source in errors.
    pub fn load(
        &self,
        bytes: &[u8],
        origin: &str,
        tenant: &str,
        limits: Limits,
        config: BTreeMap<String, String>,
    ) -> Result<Plugin, LoadError> {
        let origin = origin.to_owned();
        check_header(bytes, &origin)?;
        let component = Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid {
            origin: origin.clone(),
            reason: format!("{e:#}"),
        })?;
        let interface = self.interface(&component);
        // Exports first: a plugin for another contract version also imports that
        // version's host interface, and "wrong version" is the error that helps.
        if interface.contract().is_none() {
            let found = match interface
                .exports
                .iter()
                .find(|e| e.starts_with("headway:rules/rules@"))
            {
                Some(other) => format!("targets `{other}`"),
                None if interface.exports.is_empty() => "exports nothing".to_owned(),
                None => format!("exports {}", interface.exports.join(", ")),
            };
            return Err(LoadError::ContractMismatch {
                origin,
                expected: format!("`{RULES_EXPORT}`"),
                found,
            });
        }
        let refused: Vec<String> = interface
            .imports
            .iter()
            .filter(|(_, verdict)| *verdict == ImportVerdict::Refused)
            .map(|(name, _)| name.clone())
            .collect();
        if !refused.is_empty() {
            return Err(LoadError::ForbiddenImport {
                origin,
                tenant: tenant.to_owned(),
                imports: refused,
            });
        }
        let mut linker = self.linker.clone();
        linker
            .define_unknown_imports_as_traps(&component)
            .and_then(|()| linker.instantiate_pre(&component))
            .and_then(HealthRulesPre::new)
            .map(|pre| (pre, ()))
            .map_err(|e| LoadError::ContractMismatch {
                origin: origin.clone(),
                expected: format!("the `health-rules` world of {CONTRACT}"),
                found: format!("{e:#}"),
            })
            .and_then(|(pre, ())| {
                let digest = format!("sha256:{:x}", Sha256::digest(bytes));
                let mut plugin = Plugin {
                    pre,
                    engine: self.engine.clone(),
                    metered: self.metered,
                    limits,
                    config: Arc::new(config),
                    info: PluginInfo {
                        name: String::new(),
                        version: String::new(),
                        bands: vec![],
                        factors: vec![],
                        milestones: vec![],
                    },
                    plugin_ref: PluginRef {
                        name: String::new(),
                        version: String::new(),
                        digest,
                    },
                };
                let info = plugin.describe().map_err(|e| LoadError::Describe {
                    origin: origin.clone(),
                    reason: format!("failed: {e}"),
                })?;
                info.validate().map_err(|e| LoadError::Describe {
                    origin: origin.clone(),
                    reason: format!("returned an unusable description: {e}"),
                })?;
                plugin.plugin_ref.name = info.name.clone();
                plugin.plugin_ref.version = info.version.clone();
                plugin.info = info;
                Ok(plugin)
            })
    }
}

/// Refuses an answer whose text (reasons, error messages) is larger than the
/// tenant allows, before it is copied any further.
fn check_output_size(
    out: &wit::AssessmentBatch,
    rows: usize,
    kib_per_account: u64,
) -> Result<(), RunError> {
    let bytes: usize = out
        .factors
        .iter()
        .map(|f| f.reasons.data.len())
        .sum::<usize>()
        + out
            .errors
            .iter()
            .map(|e| e.code.len() + e.message.len())
            .sum::<usize>();
    let limit = kib_per_account
        .saturating_mul(1024)
        .saturating_mul(rows as u64);
    if bytes as u64 > limit {
        return Err(RunError::OutputTooLarge {
            bytes: bytes as u64,
            limit,
        });
    }
    Ok(())
}

/// Concurrent instances the pooling allocator has slots for (one per batch in flight).
const POOL_INSTANCES: u32 = 256;
/// Upper bound of any tenant's `memory_mib`: the size of a pool slot.
pub const MAX_MEMORY_MIB: u64 = 1024;

fn engine_config(fuel: bool, pooling: bool) -> Config {
    let mut config = Config::new();
    config
        .consume_fuel(fuel)
        .epoch_interruption(true)
        .cranelift_nan_canonicalization(true)
        .wasm_relaxed_simd(false);
    if pooling {
        // A fresh instance per batch is the sandbox's unit of isolation; the pool
        // makes it cheap by reusing memory slots instead of mmap/munmap each time.
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .max_memory_size((MAX_MEMORY_MIB << 20) as usize)
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(1 << 16);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

fn host_error(e: wasmtime::Error) -> RunError {
    RunError::Host {
        message: format!("{e:#}"),
    }
}

/// Tells apart "empty", "not wasm", "core module" and "component" from the header,
/// so those get precise errors instead of a validator message.
fn check_header(bytes: &[u8], origin: &str) -> Result<(), LoadError> {
    let origin = origin.to_owned();
    if bytes.is_empty() {
        return Err(LoadError::Empty { origin });
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm { origin });
    }
    match bytes.get(4..8) {
        Some([1, 0, 0, 0]) => Err(LoadError::CoreModule { origin }),
        Some([_, _, 1, 0]) => Ok(()),
        _ => Err(LoadError::Invalid {
            origin,
            reason: "truncated or unknown WebAssembly header".to_owned(),
        }),
    }
}

/// A compiled, linked, described plugin, ready to assess accounts. Cheap to share
/// across threads (`Arc<Plugin>`); every batch runs in its own fresh `Store`.
pub struct Plugin {
    pre: HealthRulesPre<StoreState>,
    engine: Engine,
    metered: bool,
    limits: Limits,
    config: Arc<BTreeMap<String, String>>,
    info: PluginInfo,
    plugin_ref: PluginRef,
}

/// What one raw [`Plugin::call`] produced.
#[derive(Debug)]
pub struct CallOutcome {
    /// The plugin's answer (shape not yet checked), or why the call failed.
    pub answer: Result<wit::AssessmentBatch, RunError>,
    /// Instructions (fuel) used.
    pub fuel_used: u64,
    /// The largest size linear memory grew to, in bytes.
    pub peak_memory_bytes: u64,
    /// What the plugin logged.
    pub logs: Vec<LogLine>,
}

/// The results of assessing a list of accounts.
#[derive(Debug)]
pub struct Report {
    /// One result per input account, in input order.
    pub results: Vec<Result<Assessment, AccountError>>,
    /// Instructions (fuel) used, in total.
    pub fuel_used: u64,
    /// The largest linear memory any call of this run grew to, in bytes.
    pub peak_memory_bytes: u64,
    /// What the plugin logged, batch by batch.
    pub logs: Vec<LogLine>,
}

impl Report {
    fn append(&mut self, other: Report) {
        self.results.extend(other.results);
        self.fuel_used += other.fuel_used;
        self.peak_memory_bytes = self.peak_memory_bytes.max(other.peak_memory_bytes);
        self.logs.extend(other.logs);
    }

    fn failed(accounts: usize, e: &RunError, fuel_used: u64, logs: Vec<LogLine>) -> Self {
        let err = AccountError::new(e.kind(), e.to_string());
        Self {
            results: vec![Err(err); accounts],
            fuel_used,
            peak_memory_bytes: 0,
            logs,
        }
    }
}

impl Plugin {
    /// What the plugin declared about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Name, version and digest: what every result records.
    pub fn plugin_ref(&self) -> &PluginRef {
        &self.plugin_ref
    }

    /// The limits this plugin runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn store(&self, fuel: u64) -> Result<Store<StoreState>, RunError> {
        let mut store = Store::new(
            &self.engine,
            StoreState {
                config: Arc::clone(&self.config),
                memory_cap: usize::try_from(self.limits.memory_mib << 20).unwrap_or(usize::MAX),
                memory_denied: false,
                peak_memory: 0,
                logs: Vec::new(),
                log_bytes: 0,
                dropped_logs: 0,
                panic: None,
            },
        );
        store.limiter(|s| s);
        if self.metered {
            store.set_fuel(fuel).map_err(host_error)?;
        }
        let ticks = self
            .limits
            .deadline_ms
            .div_ceil(EPOCH_TICK.as_millis() as u64)
            .max(1);
        store.set_epoch_deadline(ticks);
        Ok(store)
    }

    /// Classifies a failed call: limits first (they also surface as traps), then a
    /// panic message the plugin kit logged, then the raw trap.
    fn run_error(&self, store: &Store<StoreState>, fuel: u64, e: wasmtime::Error) -> RunError {
        if store.data().memory_denied {
            return RunError::MemoryLimit {
                mib: self.limits.memory_mib,
            };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => return RunError::OutOfFuel { budget: fuel },
            Some(Trap::Interrupt) => {
                return RunError::Deadline {
                    ms: self.limits.deadline_ms,
                };
            }
            _ => {}
        }
        RunError::Trap {
            message: store
                .data()
                .panic
                .clone()
                .unwrap_or_else(|| format!("{e:#}")),
        }
    }

    fn describe(&self) -> Result<PluginInfo, RunError> {
        let mut store = self.store(BASE_FUEL)?;
        let call = self
            .pre
            .instantiate(&mut store)
            .and_then(|rules| rules.headway_rules_rules().call_describe(&mut store));
        match call {
            Ok(info) => Ok(convert::plugin_info(info)),
            Err(e) => Err(self.run_error(&store, BASE_FUEL, e)),
        }
    }

    /// One `assess` call of the contract on a prepared columnar batch, in a fresh
    /// instance under the plugin's limits: the raw boundary, for tools and
    /// benchmarks. Returns the plugin's answer (unchecked), the fuel used and logs.
    pub fn call(&self, batch: &wit::AccountBatch) -> CallOutcome {
        let rows = batch.ids.ends.len() as u64;
        let fuel = BASE_FUEL + self.limits.fuel_per_account.saturating_mul(rows);
        let mut store = match self.store(fuel) {
            Ok(s) => s,
            Err(e) => {
                return CallOutcome {
                    answer: Err(e),
                    fuel_used: 0,
                    peak_memory_bytes: 0,
                    logs: Vec::new(),
                };
            }
        };
        let call = self
            .pre
            .instantiate(&mut store)
            .and_then(|rules| rules.headway_rules_rules().call_assess(&mut store, batch));
        let fuel_used = store.get_fuel().map_or(0, |left| fuel - left);
        let answer = call.map_err(|e| self.run_error(&store, fuel, e));
        let state = store.into_data();
        CallOutcome {
            answer,
            fuel_used,
            peak_memory_bytes: state.peak_memory as u64,
            logs: state.into_logs(),
        }
    }

    /// Assesses one batch: columns in, [`Plugin::call`], results checked and turned
    /// into one result per account.
    ///
    /// One account can poison a whole call (a panic, a runaway loop, an allocation
    /// spree): then the batch is split in halves, each in a fresh instance, until
    /// the culprit is alone and fails with the error while the others get their
    /// results. Same input, same split, same outcome. A deadline or a malformed
    /// answer fails the whole batch.
    fn assess_batch(&self, accounts: &[Account], isolation_calls: &mut u32) -> Report {
        let CallOutcome {
            answer,
            fuel_used,
            peak_memory_bytes,
            logs,
        } = self.call(&convert::batch(accounts));
        let checked = answer.and_then(|out| {
            check_output_size(&out, accounts.len(), self.limits.output_kib_per_account)?;
            convert::assessments(out, &self.info, accounts.len())
                .map_err(|reason| RunError::InvalidOutput { reason })
        });
        match checked {
            Ok(results) => Report {
                results,
                fuel_used,
                peak_memory_bytes,
                logs,
            },
            Err(e) if e.may_be_one_account() && accounts.len() > 1 && *isolation_calls >= 2 => {
                *isolation_calls -= 2;
                let (left, right) = accounts.split_at(accounts.len() / 2);
                let mut report = Report {
                    results: Vec::with_capacity(accounts.len()),
                    fuel_used,
                    peak_memory_bytes,
                    logs,
                };
                report.append(self.assess_batch(left, isolation_calls));
                report.append(self.assess_batch(right, isolation_calls));
                report
            }
            Err(e) => Report {
                peak_memory_bytes,
                ..Report::failed(accounts.len(), &e, fuel_used, logs)
            },
        }
    }

    /// Assesses accounts in batches of `limits.batch_size`, spread over `threads`
    /// worker threads. A batch that fails (trap, limit) fails each of its accounts
    /// with that error; other batches are unaffected.
    pub fn assess(&self, accounts: &[Account], threads: usize) -> Report {
        let chunks: Vec<&[Account]> = accounts.chunks(self.limits.batch_size.max(1)).collect();
        let next = AtomicUsize::new(0);
        let mut done: Vec<_> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.clamp(1, chunks.len().max(1)))
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(chunk) = chunks.get(i) else {
                                break mine;
                            };
                            mine.push((
                                i,
                                self.assess_batch(chunk, &mut MAX_ISOLATION_CALLS.clone()),
                            ));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("assessment worker panicked"))
                .collect()
        });
        done.sort_by_key(|(i, _)| *i);
        let mut report = Report {
            results: Vec::with_capacity(accounts.len()),
            fuel_used: 0,
            peak_memory_bytes: 0,
            logs: Vec::new(),
        };
        for (_, part) in done {
            report.append(part);
        }
        report
    }
}
