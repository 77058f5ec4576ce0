//! Per-instance state of the sandbox: the host functions a plugin may call (`log`,
//! `config`), with their caps, and the memory limiter.

use std::collections::BTreeMap;
use std::sync::Arc;

use headway_config::Capabilities;

use crate::contract::v0_3_0::headway::rules::host;
use crate::sealed::Sealed;

/// Log lines kept per batch; more are counted, not kept.
const MAX_LOG_LINES: usize = 1_000;
/// Bytes of log text kept per batch.
const MAX_LOG_BYTES: usize = 256 << 10;
/// Longest log line kept; longer ones are cut.
const MAX_LOG_LINE: usize = 4 << 10;
/// What the plugin kit's panic hook writes before the instance aborts.
const PANIC_PREFIX: &str = "panicked at";

/// A log line a plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Severity.
    pub level: host::LogLevel,
    /// The message.
    pub message: String,
}

/// Per-`Store` state: what the host functions and the limiter need.
pub(crate) struct StoreState {
    pub config: Arc<BTreeMap<String, String>>,
    pub memory_cap: usize,
    pub memory_denied: bool,
    pub peak_memory: usize,
    logs: Vec<LogLine>,
    log_bytes: usize,
    dropped_logs: usize,
    /// Kept apart from the logs so that a plugin that filled its log quota still
    /// gets its panic message reported.
    pub panic: Option<String>,
    /// What the tenant granted, for the sealed environment.
    granted: Capabilities,
    /// The sealed WASI state of a language runtime, made on its first WASI call.
    wasi: Option<Sealed>,
}

impl StoreState {
    /// Fresh state for one instance.
    pub fn new(
        config: Arc<BTreeMap<String, String>>,
        memory_cap: usize,
        granted: Capabilities,
    ) -> Self {
        Self {
            granted,
            wasi: None,
            config,
            memory_cap,
            memory_denied: false,
            peak_memory: 0,
            logs: Vec::new(),
            log_bytes: 0,
            dropped_logs: 0,
            panic: None,
        }
    }

    /// The logs, with a note of how many lines the caps dropped.
    pub fn into_logs(mut self) -> Vec<LogLine> {
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

impl wasmtime_wasi::WasiView for StoreState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        let granted = self.granted;
        self.wasi.get_or_insert_with(|| Sealed::new(granted)).view()
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
