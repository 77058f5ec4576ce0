#!/usr/bin/env bash
# Fuzzes every parser for SECONDS each (default 180): bash tests/fuzz/run.sh [SECONDS] [TARGET...]
# Needs `cargo install cargo-fuzz`. libFuzzer wants nightly flags; RUSTC_BOOTSTRAP
# lets the pinned stable toolchain pass them (no sanitizer: the code has no unsafe).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-180}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jsonl csv ledger fixtures tenant_toml)
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== $t: ${seconds}s"
    cargo fuzz run --fuzz-dir . -s none "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 2>&1 |
        grep -E "^#[0-9]+.*(DONE|pulse)|Done|ERROR|panicked|SUMMARY|crash-|Test unit" || true
done
