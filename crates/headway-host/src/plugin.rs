//! A loaded plugin: one fresh, limited instance per batch; results checked against
//! the contract; poisoned accounts isolated.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use headway_config::Capabilities;
use headway_core::assessed::AssessedBatch;
use headway_core::fixtures::{differences, parse_fixtures};
use headway_core::{Account, AccountBatch, AccountError, Assessment, PluginInfo, PluginRef, Reads};
use wasmtime::{Engine, Store, Trap};

use crate::cache::CompiledFrom;
use crate::contract::{Answer, ContractVersion, RulesPre, latest as wit};
use crate::convert;
use crate::error::RunError;
use crate::runtime::{EPOCH_TICK, host_error};
use crate::sandbox::{LogLine, StoreState};
use crate::tenant::Limits;

/// Fuel for describe() and instantiation, on top of the per-account budget.
const BASE_FUEL: u64 = 5_000_000;
/// Extra calls allowed per batch to isolate the accounts that make a call fail.
/// Past it, a plugin that fails on every account is broken, not the data: the
/// remaining parts fail whole instead of costing two calls per account.
const MAX_ISOLATION_CALLS: u32 = 32;

/// Refuses an answer whose text (reasons, error messages) is larger than the
/// tenant allows, before it is copied any further.
fn check_output_size(out: &Answer, rows: usize, kib_per_account: u64) -> Result<(), RunError> {
    let bytes: usize = match out {
        // A 0.3.0 reason's numbers are written in by the host: counted at the
        // widest a number can be written.
        Answer::V0_3_0(out) => {
            let reasons = out.factors.iter().map(|f| {
                f.reasons.words.data.len() + f.reasons.numbers.len() * headway_format::MAX_WIDTH
            });
            let errors = out.errors.iter().map(|e| e.code.len() + e.message.len());
            reasons.chain(errors).sum()
        }
        Answer::V0_2_0(out) => {
            let reasons = out.factors.iter().map(|f| f.reasons.data.len());
            let errors = out.errors.iter().map(|e| e.code.len() + e.message.len());
            reasons.chain(errors).sum()
        }
    };
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

/// A compiled, linked, described plugin, ready to assess accounts. Cheap to share
/// across threads (`Arc<Plugin>`); every batch runs in its own fresh `Store`.
pub struct Plugin {
    pub(crate) pre: RulesPre,
    pub(crate) contract: ContractVersion,
    pub(crate) compiled_from: CompiledFrom,
    pub(crate) engine: Engine,
    pub(crate) metered: bool,
    pub(crate) limits: Limits,
    /// The limits' fuel per account for this kind of plugin (a language runtime
    /// gets more when the tenant sets none).
    pub(crate) fuel_per_account: u64,
    pub(crate) config: Arc<BTreeMap<String, String>>,
    /// Capabilities the tenant granted (the sealed environment reads them).
    pub(crate) granted: Capabilities,
    /// The tenant's `[weights]` in the order of `info`'s factors, applied to
    /// every result; `None`: the plugin's own.
    pub(crate) tenant_weights: Option<Vec<f64>>,
    /// The component's bytes and what it was loaded with: what the decision
    /// log keeps to replay an input on this very build.
    pub(crate) component: Option<Arc<[u8]>>,
    pub(crate) options: crate::LoadOptions,
    /// The key of `component` with `options` (see [`Plugin::build_key`]).
    pub(crate) build: String,
    pub(crate) info: PluginInfo,
    pub(crate) plugin_ref: PluginRef,
}

/// What one raw [`Plugin::call`] produced.
#[derive(Debug)]
pub struct CallOutcome {
    /// The plugin's answer (shape not yet checked), or why the call failed.
    pub answer: Result<Answer, RunError>,
    /// Instructions (fuel) used.
    pub fuel_used: u64,
    /// The largest size linear memory grew to, in bytes.
    pub peak_memory_bytes: u64,
    /// What the plugin logged.
    pub logs: Vec<LogLine>,
}

/// The results of assessing a batch, column by column.
#[derive(Debug)]
pub struct BatchReport {
    /// One result per row, in row order.
    pub assessed: AssessedBatch,
    /// Instructions (fuel) used, in total.
    pub fuel_used: u64,
    /// The largest linear memory any call grew to, in bytes.
    pub peak_memory_bytes: u64,
    /// What the plugin logged, call by call.
    pub logs: Vec<LogLine>,
}

impl BatchReport {
    fn new(info: &PluginInfo) -> Self {
        Self {
            assessed: AssessedBatch::empty(info),
            fuel_used: 0,
            peak_memory_bytes: 0,
            logs: Vec::new(),
        }
    }

    fn append(&mut self, other: BatchReport) {
        self.assessed.append(other.assessed);
        self.fuel_used += other.fuel_used;
        self.peak_memory_bytes = self.peak_memory_bytes.max(other.peak_memory_bytes);
        self.logs.extend(other.logs);
    }
}

/// The results of assessing a list of accounts, row by row.
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

impl Plugin {
    /// What the plugin declared about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The component as loaded (the bytes the digest is of), when its load
    /// options kept it ([`crate::LoadOptions::keep_component`]).
    pub fn component(&self) -> Option<&[u8]> {
        self.component.as_deref()
    }

    /// What it was loaded with; [`crate::Runtime::load`] with these and
    /// [`Plugin::component`] makes the same build again.
    pub fn load_options(&self) -> &crate::LoadOptions {
        &self.options
    }

    /// `sha256:<hex>` of the component together with its load options (config
    /// values, limits, capabilities, weights): two plugins with one key answer
    /// every input alike, where the digest alone does not say so.
    pub fn build_key(&self) -> &str {
        &self.build
    }

    /// Name, version and digest: what every result records.
    pub fn plugin_ref(&self) -> &PluginRef {
        &self.plugin_ref
    }

    /// Whether this load compiled the plugin or reused a compiled artifact.
    pub fn compiled_from(&self) -> CompiledFrom {
        self.compiled_from
    }

    /// The contract version the plugin was built for.
    pub fn contract(&self) -> ContractVersion {
        self.contract
    }

    /// The columns this plugin reads (all when it declared nothing): what parsers
    /// keep for it.
    pub fn reads(&self) -> Reads<'_> {
        Reads(self.info.reads.as_deref())
    }

    /// The batch of `accounts`, with only the columns the plugin reads.
    pub fn batch_of(&self, accounts: &[Account]) -> AccountBatch {
        AccountBatch::from_accounts(accounts, None, self.reads())
    }

    /// The contract's form of `batch`, what [`Plugin::call`] takes.
    pub fn columnar_batch(&self, batch: &AccountBatch) -> wit::AccountBatch {
        convert::batch(batch)
    }

    /// Applies a tenant's `[weights]`: each must name a declared factor and
    /// every factor must have one. The build then declares those weights, and is
    /// another build to the store: its version gains `+weights.<hash>` and its
    /// digest is the component's with the weights.
    pub(crate) fn reweighted(&mut self, weights: &BTreeMap<String, f64>) -> Result<(), String> {
        let declared: Vec<&str> = self.info.factors.iter().map(|f| f.id.as_str()).collect();
        let unknown: Vec<&str> = weights
            .keys()
            .map(String::as_str)
            .filter(|id| !declared.contains(id))
            .collect();
        let missing: Vec<&str> = declared
            .iter()
            .copied()
            .filter(|id| !weights.contains_key(*id))
            .collect();
        if !unknown.is_empty() || !missing.is_empty() {
            let list = |ids: &[&str]| {
                ids.iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut problems = Vec::new();
            if !unknown.is_empty() {
                problems.push(format!(
                    "name factors the plugin does not declare: {}",
                    list(&unknown)
                ));
            }
            if !missing.is_empty() {
                problems.push(format!("leave out declared factors: {}", list(&missing)));
            }
            return Err(problems.join("; and "));
        }
        let mut canonical = self.plugin_ref.digest.clone();
        for f in &mut self.info.factors {
            f.weight = weights[&f.id];
            canonical.push_str(&format!("\n{}={:?}", f.id, f.weight));
        }
        self.tenant_weights = Some(self.info.factors.iter().map(|f| f.weight).collect());
        let digest = crate::digest(canonical.as_bytes());
        let hex = digest.trim_start_matches("sha256:");
        self.plugin_ref.version = format!("{}+weights.{}", self.plugin_ref.version, &hex[..8]);
        self.plugin_ref.digest = digest;
        Ok(())
    }

    /// The limits this plugin runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The instructions each account of a batch adds to its budget.
    pub fn fuel_per_account(&self) -> u64 {
        self.fuel_per_account
    }

    fn store(&self, fuel: u64) -> Result<Store<StoreState>, RunError> {
        let mut store = Store::new(
            &self.engine,
            StoreState::new(
                Arc::clone(&self.config),
                usize::try_from(self.limits.memory_mib << 20).unwrap_or(usize::MAX),
                self.granted,
            ),
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

    pub(crate) fn describe(&self) -> Result<PluginInfo, RunError> {
        let mut store = self.store(BASE_FUEL)?;
        match self.pre.describe(&mut store) {
            Ok(info) => Ok(convert::plugin_info(info)),
            Err(e) => Err(self.run_error(&store, BASE_FUEL, e)),
        }
    }

    /// One `assess` call of the contract on a prepared columnar batch, in a fresh
    /// instance under the plugin's limits: the raw boundary, for tools and
    /// benchmarks. Returns the plugin's answer (unchecked), the fuel used and logs.
    pub fn call(&self, batch: &wit::AccountBatch) -> CallOutcome {
        let rows = batch.ids.ends.len() as u64;
        let fuel = BASE_FUEL + self.fuel_per_account.saturating_mul(rows);
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
        let call = self.pre.assess(&mut store, batch);
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

    /// Assesses one call's worth of rows: columns in, [`Plugin::call`], results
    /// checked against the contract.
    ///
    /// One account can poison a whole call (a panic, a runaway loop, an allocation
    /// spree): then the batch is split in halves, each in a fresh instance, until
    /// the culprit is alone and fails with the error while the others get their
    /// results. Same input, same split, same outcome. A deadline or a malformed
    /// answer fails the whole batch.
    fn assess_call(&self, batch: &AccountBatch, isolation_calls: &mut u32) -> BatchReport {
        let rows = batch.len();
        let CallOutcome {
            answer,
            fuel_used,
            peak_memory_bytes,
            logs,
        } = self.call(&self.columnar_batch(batch));
        let checked = answer.and_then(|out| {
            check_output_size(&out, rows, self.limits.output_kib_per_account)?;
            convert::assessments(out, &self.info, batch, self.tenant_weights.as_deref())
                .map_err(|reason| RunError::InvalidOutput { reason })
        });
        let mut report = BatchReport {
            fuel_used,
            peak_memory_bytes,
            logs,
            ..BatchReport::new(&self.info)
        };
        match checked {
            Ok(assessed) => report.assessed = assessed,
            Err(e) if e.may_be_one_account() && rows > 1 && *isolation_calls >= 2 => {
                *isolation_calls -= 2;
                let mid = rows / 2;
                report.append(self.assess_call(&batch.select(0..mid), isolation_calls));
                report.append(self.assess_call(&batch.select(mid..rows), isolation_calls));
            }
            Err(e) => {
                let err = AccountError::new(e.kind(), e.to_string());
                report.assessed = AssessedBatch::failed(rows, &self.info, &err);
            }
        }
        report
    }

    /// Runs a tenant's golden fixtures (`fixtures.jsonl` text) through this
    /// build, as every reload and publication does before serving it: `Err`
    /// says how many cases fail and how the first differs.
    pub fn check_fixtures(&self, text: &str) -> Result<(), String> {
        let (cases, errors) = parse_fixtures("fixtures.jsonl", text);
        if let Some(e) = errors.first() {
            return Err(format!("{} unreadable cases, first: {e}", errors.len()));
        }
        let accounts: Vec<_> = cases.iter().map(|c| c.account.clone()).collect();
        let report = self.assess(&accounts, 1);
        let failed: Vec<String> = cases
            .iter()
            .zip(&report.results)
            .filter_map(|(case, result)| {
                let diff = differences(&case.expect, result);
                (!diff.is_empty()).then(|| format!("`{}`: {}", case.name, diff.join("; ")))
            })
            .collect();
        match failed.first() {
            None => Ok(()),
            Some(first) => Err(format!(
                "{} of {} cases fail, first {first}",
                failed.len(),
                cases.len()
            )),
        }
    }

    /// Assesses a batch on this thread, in calls of `limits.batch_size` rows. A
    /// call that fails (trap, limit) fails each of its rows with that error; the
    /// other calls are unaffected.
    pub fn assess_batch(&self, batch: &AccountBatch) -> BatchReport {
        let size = self.limits.batch_size.max(1);
        if batch.len() <= size {
            return self.assess_call(batch, &mut MAX_ISOLATION_CALLS.clone());
        }
        let mut report = BatchReport::new(&self.info);
        for start in (0..batch.len()).step_by(size) {
            let part = batch.select(start..(start + size).min(batch.len()));
            report.append(self.assess_call(&part, &mut MAX_ISOLATION_CALLS.clone()));
        }
        report
    }

    /// Assesses accounts row by row, in batches of `limits.batch_size` spread over
    /// `threads` worker threads: for tools that hold a few accounts (fixtures,
    /// `explain`, a request). A run over a file goes through `headway-pipeline`.
    pub fn assess(&self, accounts: &[Account], threads: usize) -> Report {
        let chunks: Vec<&[Account]> = accounts.chunks(self.limits.batch_size.max(1)).collect();
        let next = AtomicUsize::new(0);
        let mut done: Vec<(usize, BatchReport)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.clamp(1, chunks.len().max(1)))
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(chunk) = chunks.get(i) else {
                                break mine;
                            };
                            mine.push((i, self.assess_batch(&self.batch_of(chunk))));
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
            report
                .results
                .extend((0..part.assessed.len()).map(|row| part.assessed.result(row, &self.info)));
            report.fuel_used += part.fuel_used;
            report.peak_memory_bytes = report.peak_memory_bytes.max(part.peak_memory_bytes);
            report.logs.extend(part.logs);
        }
        report
    }
}
