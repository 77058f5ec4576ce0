//! The compiled-artifact cache: a restart deserializes instead of compiling, and a
//! stale or corrupt entry is recompiled, never an error.

use std::path::Path;

use headway_host::{CompiledFrom, LoadOptions, Runtime};
use headway_tests::SAAS_HEALTH;

fn load(runtime: &Runtime) -> CompiledFrom {
    runtime
        .load_file(Path::new(SAAS_HEALTH), &LoadOptions::default())
        .expect("loads")
        .compiled_from()
}

fn cached(dir: &Path, fuel: bool) -> Runtime {
    Runtime::with_fuel(fuel)
        .unwrap()
        .with_artifact_cache(dir.to_owned())
}

#[test]
fn restarts_reuse_and_damaged_entries_are_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let first = cached(dir.path(), true);
    assert_eq!(load(&first), CompiledFrom::Compiler);
    assert_eq!(
        load(&first),
        CompiledFrom::Memory,
        "same process: compiled once"
    );
    // A restart: a new engine, same configuration.
    assert_eq!(load(&cached(dir.path(), true)), CompiledFrom::Disk);

    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    let good = std::fs::read(entry).unwrap();

    // One flipped byte: the checksum catches it; recompiled and rewritten.
    let mut bad = good.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0xFF;
    std::fs::write(entry, &bad).unwrap();
    assert_eq!(load(&cached(dir.path(), true)), CompiledFrom::Compiler);
    assert_eq!(std::fs::read(entry).unwrap(), good, "rewritten");
    // Truncated (a crash mid-write by something else): the same.
    std::fs::write(entry, &good[..good.len() / 3]).unwrap();
    assert_eq!(load(&cached(dir.path(), true)), CompiledFrom::Compiler);
    assert_eq!(load(&cached(dir.path(), true)), CompiledFrom::Disk);

    // An engine configured differently (no fuel) needs its own entry.
    assert_eq!(load(&cached(dir.path(), false)), CompiledFrom::Compiler);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}
