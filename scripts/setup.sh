#!/usr/bin/env bash
# One-time setup of a fresh machine: the pinned toolchain's wasm target, and
# componentize-py (PyPI) and componentize-js (npm) for Python and JavaScript
# plugins, Chromium for the dashboard test.
# (rust-toolchain.toml pins Rust 1.95.0; rustup reads it from the repo root.)
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2

componentize_py="componentize-py==0.25.1"
if ! componentize-py --version 2>/dev/null | grep -q "0.25.1"; then
  echo "==> installing $componentize_py (Python plugins)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
  fi
  python3 -m pip install --quiet --user "$componentize_py" 2>/dev/null ||
    python3 -m pip install --quiet --user --break-system-packages "$componentize_py" ||
    python3 -m pip install --quiet "$componentize_py"
fi

# componentize-js for JavaScript plugins (npm).
componentize_js="@bytecodealliance/componentize-js@0.23.0"
if ! componentize-js --version 2>/dev/null | grep -q "0.23.0" && command -v npm >/dev/null 2>&1; then
  echo "==> installing $componentize_js (JavaScript plugins)"
  npm install -g --silent "$componentize_js"
fi

# Chromium and its WebDriver for the dashboard's browser test (Debian packages).
if ! command -v chromedriver >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing chromium and chromium-driver (dashboard tests)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
