#!/usr/bin/env bash
# One-time setup of a fresh machine: the pinned toolchain's wasm target.
# (rust-toolchain.toml pins Rust 1.95.0; rustup reads it from the repo root.)
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2
