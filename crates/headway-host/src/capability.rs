//! Capabilities a tenant may grant its plugin beyond the contract: the clock and
//! randomness. Both make the plugin's output depend on more than its input, so
//! they are off unless `[capabilities]` in tenant.toml turns them on. Filesystem,
//! network, environment and arguments are never granted.
//!
//! Only the functions std needs are implemented (the clocks' `now` and
//! `resolution`, random bytes, numbers and seeds); anything else of those
//! interfaces is linked as a trap like the inert WASI plumbing.

use std::sync::LazyLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use headway_config::Capabilities;
use wasmtime::component::{ComponentType, Linker, Lower};

use crate::sandbox::StoreState;

/// A capability an import needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// `wasi:clocks/*`.
    Clock,
    /// `wasi:random/*`.
    Random,
}

impl Capability {
    /// The capability `import` (e.g. `wasi:clocks/wall-clock@0.2.6`) needs, if it
    /// is one that can be granted.
    pub fn of_import(import: &str) -> Option<Self> {
        let interface = import.split('@').next().unwrap_or(import);
        match interface {
            "wasi:clocks/wall-clock" | "wasi:clocks/monotonic-clock" => Some(Self::Clock),
            "wasi:random/random" | "wasi:random/insecure" | "wasi:random/insecure-seed" => {
                Some(Self::Random)
            }
            _ => None,
        }
    }

    /// Its key in `[capabilities]`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Clock => "clock",
            Self::Random => "random",
        }
    }

    /// Whether `granted` includes it.
    pub fn granted_by(self, granted: Capabilities) -> bool {
        match self {
            Self::Clock => granted.clock,
            Self::Random => granted.random,
        }
    }
}

/// `wasi:clocks/wall-clock.datetime`.
#[derive(ComponentType, Lower, Clone, Copy)]
#[component(record)]
struct Datetime {
    seconds: u64,
    nanoseconds: u32,
}

/// The origin of the monotonic clock: the process's first use of it.
static MONOTONIC_START: LazyLock<Instant> = LazyLock::new(Instant::now);

fn random_u64() -> wasmtime::Result<u64> {
    getrandom::u64().map_err(|e| wasmtime::format_err!("no randomness from the OS: {e}"))
}

fn random_bytes(len: u64) -> wasmtime::Result<Vec<u8>> {
    // A plugin asking for more than its memory could hold is refused, not served.
    let len = usize::try_from(len)
        .ok()
        .filter(|l| *l <= 1 << 20)
        .ok_or_else(|| {
            wasmtime::format_err!("asked for {len} random bytes; at most 1 MiB per call")
        })?;
    let mut bytes = vec![0; len];
    getrandom::fill(&mut bytes)
        .map_err(|e| wasmtime::format_err!("no randomness from the OS: {e}"))?;
    Ok(bytes)
}

/// Defines the granted `import` (a name [`Capability::of_import`] recognises) in
/// `linker`.
pub(crate) fn link(linker: &mut Linker<StoreState>, import: &str) -> wasmtime::Result<()> {
    let mut instance = linker.instance(import)?;
    match import.split('@').next().unwrap_or(import) {
        "wasi:clocks/wall-clock" => {
            instance.func_wrap("now", |_, ()| {
                let since = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                Ok((Datetime {
                    seconds: since.as_secs(),
                    nanoseconds: since.subsec_nanos(),
                },))
            })?;
            instance.func_wrap("resolution", |_, ()| {
                Ok((Datetime {
                    seconds: 0,
                    nanoseconds: 1,
                },))
            })?;
        }
        "wasi:clocks/monotonic-clock" => {
            instance.func_wrap("now", |_, ()| {
                Ok((MONOTONIC_START.elapsed().as_nanos() as u64,))
            })?;
            instance.func_wrap("resolution", |_, ()| Ok((1u64,)))?;
        }
        "wasi:random/random" => {
            instance.func_wrap("get-random-bytes", |_, (len,): (u64,)| {
                Ok((random_bytes(len)?,))
            })?;
            instance.func_wrap("get-random-u64", |_, ()| Ok((random_u64()?,)))?;
        }
        "wasi:random/insecure" => {
            instance.func_wrap("get-insecure-random-bytes", |_, (len,): (u64,)| {
                Ok((random_bytes(len)?,))
            })?;
            instance.func_wrap("get-insecure-random-u64", |_, ()| Ok((random_u64()?,)))?;
        }
        "wasi:random/insecure-seed" => {
            instance.func_wrap("insecure-seed", |_, ()| {
                Ok(((random_u64()?, random_u64()?),))
            })?;
        }
        other => {
            return Err(wasmtime::format_err!(
                "`{other}` is not a grantable interface"
            ));
        }
    }
    Ok(())
}
