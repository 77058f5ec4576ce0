//! One wasmtime `Engine` for the process: its configuration, and loading a plugin
//! (header, contract version, imports, compile, link, `describe()`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use headway_core::{PluginInfo, PluginRef};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::{ArtifactCache, CompiledFrom};
use crate::capability::{self, Capability};
use crate::contract::{self, ContractVersion, RulesPre};
use crate::error::{LoadError, RunError};
use crate::plugin::Plugin;
use crate::sandbox::StoreState;
use crate::tenant::Capabilities;
use crate::tenant::{Limits, TenantConfig};

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
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// What the host decides about one import of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportVerdict {
    /// Part of a supported contract (`headway:rules/host`, `headway:rules/types`).
    Contract,
    /// WASI plumbing every Rust `wasm32-wasip2` library carries; linked as traps.
    InertWasi,
    /// Needs a capability the tenant may grant (`[capabilities]`); refused unless
    /// granted, or stopped / seeded in a sealed runtime.
    Grantable(Capability),
    /// The operating-system surface of a language runtime (files, sockets, http):
    /// the component runs sealed, with nothing behind these (see `sealed.rs`).
    Sealed,
    /// Never granted: the component is refused.
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
    /// Whether the component is a language runtime that runs sealed.
    pub fn sealed(&self) -> bool {
        self.imports
            .iter()
            .any(|(_, verdict)| *verdict == ImportVerdict::Sealed)
    }

    /// The supported contract version the component implements, if any.
    pub fn contract(&self) -> Option<ContractVersion> {
        ContractVersion::of_exports(self.exports.iter().map(String::as_str))
    }
}

/// The process-wide plugin runtime: one `Engine` shared by every tenant.
pub struct Runtime {
    engine: Engine,
    metered: bool,
    pooling: bool,
    linker: Linker<StoreState>,
    compiled: ArtifactCache,
}

/// What a plugin is loaded with. The default grants nothing: no tenant, default
/// limits, no config values, no capabilities (what `headway check` uses).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadOptions {
    /// The tenant it runs for; `None` outside any (an author tool on a bare file).
    pub tenant: Option<String>,
    /// Sandbox limits.
    pub limits: Limits,
    /// Values the plugin reads through `config(key)`.
    pub config: BTreeMap<String, String>,
    /// Capabilities granted beyond the contract.
    pub capabilities: Capabilities,
    /// The tenant's own factor weights (`[weights]`); empty: the plugin's.
    pub weights: BTreeMap<String, f64>,
    /// Keep the component's bytes with the plugin, for the decision log to
    /// keep the build (`[history] keep_inputs`). Not part of the build: it
    /// changes nothing the plugin answers.
    #[serde(skip)]
    pub keep_component: bool,
}

impl LoadOptions {
    /// Everything `tenant`'s tenant.toml sets.
    pub fn of_tenant(tenant: &TenantConfig) -> Self {
        Self {
            tenant: Some(tenant.id.clone()),
            limits: tenant.limits,
            config: tenant.config.clone(),
            capabilities: tenant.capabilities,
            weights: tenant.weights.clone(),
            keep_component: tenant.history.keep_inputs,
        }
    }
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
        contract::add_to_linker(&mut linker).map_err(host_error)?;
        Ok(Self {
            compiled: ArtifactCache::new(&engine, None),
            engine,
            metered: fuel,
            pooling,
            linker,
        })
    }

    /// Keeps compiled plugins in `dir` too, so the next process deserializes them
    /// instead of compiling (see [`CompiledFrom`]).
    pub fn with_artifact_cache(mut self, dir: PathBuf) -> Self {
        self.compiled = ArtifactCache::new(&self.engine, Some(dir));
        self
    }

    /// The compiled component for `bytes`, and where it came from.
    fn compile(
        &self,
        bytes: &[u8],
        digest: &str,
        origin: &str,
    ) -> Result<(Component, CompiledFrom), LoadError> {
        check_header(bytes, origin)?;
        self.compiled
            .component(&self.engine, digest, bytes)
            .map_err(|e| LoadError::Invalid {
                origin: origin.to_owned(),
                source: e.into(),
            })
    }

    /// Whether instances come from the pre-reserved pool (fast) or are allocated
    /// on demand (the fallback where address space cannot be reserved).
    pub fn uses_pooling(&self) -> bool {
        self.pooling
    }

    /// How many assessments may run at once across all plugins: one instance each,
    /// and the pool has this many slots. A caller running more at once gets
    /// instantiation errors, so servers queue beyond it.
    pub fn max_concurrent_calls(&self) -> usize {
        POOL_INSTANCES as usize
    }

    /// Reads and loads a plugin file.
    pub fn load_file(
        &self,
        path: &std::path::Path,
        options: &LoadOptions,
    ) -> Result<Plugin, LoadError> {
        let bytes = read_plugin(path)?;
        self.load(&bytes, &path.display().to_string(), options)
    }

    /// Compiles a component and lists what it exports and imports, with the verdict
    /// on each import, without linking or running it (for `headway check`).
    pub fn inspect(&self, bytes: &[u8], origin: &str) -> Result<Interface, LoadError> {
        let (component, _) = self.compile(bytes, &digest(bytes), origin)?;
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
                let verdict = if ContractVersion::SUPPORTED
                    .iter()
                    .any(|v| v.imports().iter().any(|i| i == name))
                {
                    ImportVerdict::Contract
                } else if INERT_WASI.iter().any(|p| name.starts_with(p)) {
                    ImportVerdict::InertWasi
                } else if let Some(c) = Capability::of_import(name) {
                    ImportVerdict::Grantable(c)
                } else if crate::sealed::RUNTIME_IMPORTS
                    .iter()
                    .any(|p| name.starts_with(p))
                {
                    ImportVerdict::Sealed
                } else {
                    ImportVerdict::Refused
                };
                (name.to_owned(), verdict)
            })
            .collect();
        Interface { exports, imports }
    }

    /// Loads a tenant's plugin from `bytes` with everything its tenant.toml sets:
    /// limits, config values and granted capabilities.
    pub fn load_tenant(&self, tenant: &TenantConfig, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let origin = tenant.plugin.display().to_string();
        self.load(bytes, &origin, &LoadOptions::of_tenant(tenant))
    }

    /// Validates, compiles and links a component with what `options` grant,
    /// then asks it to describe itself. `origin` names the source in errors.
    pub fn load(
        &self,
        bytes: &[u8],
        origin: &str,
        options: &LoadOptions,
    ) -> Result<Plugin, LoadError> {
        let LoadOptions {
            tenant,
            limits,
            config,
            capabilities: granted,
            weights,
            keep_component,
        } = options.clone();
        let digest = digest(bytes);
        let build = build_key(&digest, options);
        let (component, compiled_from) = self.compile(bytes, &digest, origin)?;
        let origin = origin.to_owned();
        let interface = self.interface(&component);
        // Exports first: a plugin for another contract version also imports that
        // version's host interface, and "wrong version" is the error that helps.
        let Some(version) = interface.contract() else {
            let found = match interface
                .exports
                .iter()
                .find(|e| e.starts_with("headway:rules/rules@"))
            {
                Some(other) => format!("targets `{other}`"),
                None if interface.exports.is_empty() => "exports nothing".to_owned(),
                None => format!("exports {}", interface.exports.join(", ")),
            };
            let supported: Vec<String> = ContractVersion::SUPPORTED
                .iter()
                .map(|v| format!("`{}`", v.rules_export()))
                .collect();
            return Err(LoadError::ContractMismatch {
                origin,
                expected: supported.join(" or "),
                found,
                source: None,
            });
        };
        let sealed = interface.sealed();
        let refused: Vec<String> = interface
            .imports
            .iter()
            .filter_map(|(name, verdict)| match verdict {
                ImportVerdict::Refused => Some(name.clone()),
                ImportVerdict::Grantable(c) if !sealed && !c.granted_by(granted) => Some(format!(
                    "{name} (grant with `[capabilities] {} = true`)",
                    c.key()
                )),
                _ => None,
            })
            .collect();
        if !refused.is_empty() {
            return Err(LoadError::ForbiddenImport {
                origin,
                tenant,
                imports: refused,
            });
        }
        let mut linker = self.linker.clone();
        let linked = if sealed {
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
                .and_then(|()| crate::sealed::refuse_http(&mut linker, &component, &self.engine))
        } else {
            interface
                .imports
                .iter()
                .filter(|(_, verdict)| matches!(verdict, ImportVerdict::Grantable(_)))
                .try_for_each(|(name, _)| capability::link(&mut linker, name))
        };
        // A sealed runtime gets wasmtime-wasi's newer WASI by semver match; a trap
        // defined under the exact older name would shadow it.
        let pre = linked
            .and_then(|()| match sealed {
                true => Ok(()),
                false => linker.define_unknown_imports_as_traps(&component),
            })
            .and_then(|()| linker.instantiate_pre(&component))
            .and_then(|pre| RulesPre::new(version, pre))
            .map_err(|e| LoadError::ContractMismatch {
                origin: origin.clone(),
                expected: format!("the `health-rules` world of {version}"),
                found: "does not link against it".to_owned(),
                source: Some(e.into()),
            })?;
        tracing::debug!(%origin, %digest, ?compiled_from, "plugin compiled");
        // describe() runs in the plugin's own sandbox; name and version come from it.
        let mut plugin = Plugin {
            pre,
            contract: version,
            compiled_from,
            engine: self.engine.clone(),
            metered: self.metered,
            fuel_per_account: limits.fuel_per_account(sealed),
            limits,
            config: Arc::new(config),
            granted,
            tenant_weights: None,
            component: keep_component.then(|| Arc::from(bytes)),
            options: options.clone(),
            build,
            info: PluginInfo::default(),
            plugin_ref: PluginRef {
                name: String::new(),
                version: String::new(),
                digest,
            },
        };
        let describe_error = |reason: String| LoadError::Describe {
            origin: origin.clone(),
            reason,
        };
        let info = plugin
            .describe()
            .map_err(|e| describe_error(format!("failed: {e}")))?;
        info.validate()
            .map_err(|e| describe_error(format!("returned an unusable description: {e}")))?;
        plugin.plugin_ref.name = info.name.clone();
        plugin.plugin_ref.version = info.version.clone();
        plugin.info = info;
        if !weights.is_empty() {
            plugin
                .reweighted(&weights)
                .map_err(|reason| LoadError::Weights { origin, reason })?;
        }
        Ok(plugin)
    }
}

/// Concurrent instances the pooling allocator has slots for (one per batch in flight).
const POOL_INSTANCES: u32 = 256;
// Upper bound of any tenant's `memory_mib` (a config rule): the size of a pool slot.
use headway_config::MAX_MEMORY_MIB;

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

/// The largest plugin file read by default: componentize-py's runtime is about
/// 18 MB, so this leaves room while `/dev/zero` or a runaway file cannot eat
/// memory.
pub const MAX_PLUGIN_BYTES: u64 = 64 << 20;

/// `sha256:<hex>` naming a component together with what it is loaded with:
/// two loads with the same key answer every input alike.
fn build_key(component_digest: &str, options: &LoadOptions) -> String {
    let options = serde_json::to_string(options).expect("load options serialise");
    digest(format!("{component_digest}\n{options}").as_bytes())
}

/// Reads a plugin file of at most [`MAX_PLUGIN_BYTES`]; the error names it.
pub fn read_plugin(path: &std::path::Path) -> Result<Vec<u8>, LoadError> {
    read_plugin_capped(path, MAX_PLUGIN_BYTES)
}

/// Reads a plugin file of at most `limit` bytes (see [`crate::read_capped`]).
pub fn read_plugin_capped(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    crate::files::read_capped(path, limit).map_err(|source| LoadError::Unreadable {
        path: path.to_owned(),
        source,
    })
}

/// The digest that identifies a plugin build in every result: `sha256:<hex>`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

pub(crate) fn host_error(e: wasmtime::Error) -> RunError {
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
            source: "truncated or unknown WebAssembly header".into(),
        }),
    }
}
