#!/usr/bin/env bash
# The demo: build the example plugins and the host, then score both sample tenants.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "==> building the example plugins (wasm32-wasip2)"
cargo build --quiet --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
echo "==> building headway"
cargo build --quiet --release -p headway-cli
headway=target/release/headway

for tenant in saas-acme logistics-nordic; do
  echo
  echo "==> $tenant: what its plugin declares"
  "$headway" describe --tenant "tenants/$tenant"
  echo
  echo "==> $tenant: scoring tenants/$tenant/accounts.jsonl (first 15 of 1,000 shown)"
  "$headway" score --tenant "tenants/$tenant" "tenants/$tenant/accounts.jsonl" --limit 15
  echo
  echo "==> $tenant: revenue retention over the last year, by quarter (tenants/$tenant/ledger.csv)"
  "$headway" retention "tenants/$tenant/ledger.csv" --surveys "tenants/$tenant/surveys.csv" \
    --period quarter --from 2025-10-01 --to 2026-09-30
done
echo
echo "Full results: $headway score --tenant tenants/saas-acme tenants/saas-acme/accounts.jsonl --format json"
