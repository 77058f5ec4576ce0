//! Compiled plugins, kept in memory (tenants sharing a build share one compiled
//! component) and optionally on disk, so a restart with many tenants deserializes
//! in a fraction of a millisecond per plugin instead of compiling each.
//!
//! A disk entry is named by the component's digest and the engine's compatibility
//! hash (fuel on or off, wasmtime version, target...), and starts with a SHA-256 of
//! the rest: a stale, truncated or corrupt entry is never loaded, only recompiled
//! and rewritten.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Distinct builds kept compiled in memory; past it the map starts over (old
/// builds are rarely loaded again).
const MEMORY_ENTRIES: usize = 1_024;

/// Where a component came from, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompiledFrom {
    /// Already compiled in this process.
    Memory,
    /// Deserialized from the disk cache.
    Disk,
    /// Compiled now.
    Compiler,
}

pub(crate) struct ArtifactCache {
    memory: Mutex<HashMap<String, Component>>,
    dir: Option<PathBuf>,
    engine_hash: String,
}

impl ArtifactCache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Self {
            memory: Mutex::new(HashMap::new()),
            dir,
            engine_hash: format!("{:016x}", h.finish()),
        }
    }

    /// The compiled component for `bytes` (whose digest is `digest`), from memory,
    /// disk or the compiler, in that order.
    pub fn component(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CompiledFrom)> {
        if let Some(c) = self.memory.lock().expect("cache lock").get(digest) {
            return Ok((c.clone(), CompiledFrom::Memory));
        }
        let path = self.dir.as_ref().map(|dir| {
            dir.join(format!(
                "{}-{}.cwasm",
                digest.trim_start_matches("sha256:"),
                self.engine_hash
            ))
        });
        let from_disk = path.as_ref().and_then(|p| read_entry(engine, p));
        let (component, from) = match from_disk {
            Some(c) => (c, CompiledFrom::Disk),
            None => {
                let c = Component::new(engine, bytes)?;
                if let Some(p) = &path {
                    // Best effort: a cache that cannot be written costs speed, not
                    // correctness.
                    if let Err(e) = write_entry(&c, p) {
                        tracing::warn!(path = %p.display(), "artifact cache not written: {e:#}");
                    }
                }
                (c, CompiledFrom::Compiler)
            }
        };
        let mut memory = self.memory.lock().expect("cache lock");
        if memory.len() >= MEMORY_ENTRIES {
            memory.clear();
        }
        memory.insert(digest.to_owned(), component.clone());
        Ok((component, from))
    }
}

fn read_entry(engine: &Engine, path: &std::path::Path) -> Option<Component> {
    let data = std::fs::read(path).ok()?;
    let (sum, artifact) = data.split_at_checked(32)?;
    if Sha256::digest(artifact).as_slice() != sum {
        tracing::warn!(path = %path.display(), "corrupt artifact cache entry; recompiling");
        return None;
    }
    deserialize(engine, artifact)
        .inspect_err(|e| {
            tracing::warn!(path = %path.display(), "unusable artifact cache entry; recompiling: {e:#}");
        })
        .ok()
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires the bytes to be an artifact it produced. They are:
    // this host wrote them (`write_entry`), the checksum just verified they are
    // unchanged since, and the file name pins the engine's compatibility hash
    // (wasmtime re-checks its version and configuration header too). The cache
    // directory must be writable by the operator only, like the binary itself.
    unsafe { Component::deserialize(engine, artifact) }
}

fn write_entry(component: &Component, path: &std::path::Path) -> wasmtime::Result<()> {
    let artifact = component.serialize()?;
    let mut data = Sha256::digest(&artifact).to_vec();
    data.extend_from_slice(&artifact);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Write then rename: a reader never sees half an entry.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &data)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
