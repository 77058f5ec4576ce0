//! The sealed environment for language runtimes. CPython (componentize-py) and
//! SpiderMonkey (componentize-js) import the operating system's whole WASI
//! surface (files, sockets, clocks, randomness) although a rule uses none of it.
//! Such a component gets every WASI interface from `wasmtime-wasi`, with nothing
//! behind them: no preopened directory, sockets that refuse every address and
//! name lookup, no environment or arguments, empty stdin, stdout and stderr
//! discarded, a clock stopped at a fixed instant and randomness from a fixed seed.
//! Same input, same output. A tenant's `clock` / `random` grants give it the real
//! clock / the OS's randomness, as they do for any plugin.

use std::time::Duration;

use headway_config::Capabilities;
use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable, ResourceType};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView};

/// Import prefixes only a language runtime carries: their presence seals the
/// component. `wasi:http` has no implementation here: see [`refuse_http`].
pub const RUNTIME_IMPORTS: [&str; 3] = ["wasi:filesystem/", "wasi:sockets/", "wasi:http/"];

/// The seed of the sealed randomness (any fixed value; changing it changes what
/// plugins that use randomness compute).
const SEED: u64 = 0x6865_6164_7761_7921;

/// The instant the sealed wall clock shows: 2026-01-01T00:00:00Z.
const FIXED_WALL_CLOCK: Duration = Duration::from_secs(1_767_225_600);

/// Largest random buffer one call may ask for.
const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// One instance's WASI state.
pub(crate) struct Sealed {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl Sealed {
    pub fn new(granted: Capabilities) -> Self {
        // The builder starts with no preopens, no environment, no arguments, empty
        // stdin and discarded output; networking is refused below.
        let mut builder = WasiCtxBuilder::new();
        builder
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .max_random_size(MAX_RANDOM_BYTES);
        if !granted.clock {
            builder.wall_clock(Stopped).monotonic_clock(Stopped);
        }
        if !granted.random {
            builder
                .secure_random(StdRng::seed_from_u64(SEED))
                .insecure_random(StdRng::seed_from_u64(SEED.rotate_left(1)))
                .insecure_random_seed(u128::from(SEED));
        }
        Self {
            ctx: builder.build(),
            table: ResourceTable::new(),
        }
    }

    pub fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A clock that never moves.
struct Stopped;

impl HostWallClock for Stopped {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

impl HostMonotonicClock for Stopped {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        0
    }
}

/// Links each `wasi:http` interface `component` imports (SpiderMonkey's
/// `fetch`) with functions that trap and resources nothing can make: the
/// component loads, and a request it tries never leaves. Only those interfaces:
/// everything else a sealed runtime imports is wasmtime-wasi's, matched by
/// semver, which a stub under the exact name would shadow.
pub(crate) fn refuse_http<T: 'static>(
    linker: &mut Linker<T>,
    component: &Component,
    engine: &Engine,
) -> wasmtime::Result<()> {
    for (name, item) in component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        if !name.starts_with("wasi:http/") {
            continue;
        }
        let mut linked = linker.instance(name)?;
        for (export, item) in instance.exports(engine) {
            match item.ty {
                ComponentItem::ComponentFunc(_) => {
                    let what = format!("{name}#{export}");
                    linked.func_new(export, move |_, _, _, _| {
                        wasmtime::bail!("`{what}`: a plugin has no network")
                    })?;
                }
                ComponentItem::Resource(_) => {
                    linked.resource(export, io_resource(export), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The host type of a resource `wasi:http` names: `wasi:io`'s own for the
/// streams, pollables and errors it uses (wasmtime-wasi defines them), one that
/// nothing can make for its own.
fn io_resource(name: &str) -> ResourceType {
    use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, IoError};
    match name {
        "input-stream" => ResourceType::host::<DynInputStream>(),
        "output-stream" => ResourceType::host::<DynOutputStream>(),
        "pollable" => ResourceType::host::<DynPollable>(),
        "io-error" | "error" => ResourceType::host::<IoError>(),
        _ => ResourceType::host::<NoHttp>(),
    }
}

/// What every resource of `wasi:http`'s own is: nothing can make one.
struct NoHttp;
