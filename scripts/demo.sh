#!/usr/bin/env bash
# The demo: build the example plugins and the host, then for both sample tenants:
# score today's book, retention over the year, and the Success Vector from a year
# of monthly scoring runs (history, expansion forecast, backtest, tuned weights).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "==> building the example plugins (wasm32-wasip2)"
cargo build --quiet --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
echo "==> building headway"
cargo build --quiet --release -p headway-cli
headway=target/release/headway

history=target/demo-history.db
rm -f "$history" "$history-wal" "$history-shm"

for entry in saas:saas-acme:saas-0005 logistics:logistics-nordic:log-0002; do
  IFS=: read -r book tenant account <<<"$entry"
  echo
  echo "==> $tenant: what its plugin declares"
  "$headway" describe --tenant "tenants/$tenant"
  echo
  echo "==> $tenant: scoring tenants/$tenant/accounts.jsonl (first 15 of 1,000 shown)"
  "$headway" score --tenant "tenants/$tenant" "tenants/$tenant/accounts.jsonl" --limit 15
  echo
  echo "==> $tenant: revenue retention over the last year, by quarter (tenants/$tenant/ledger.csv)"
  "$headway" retention "tenants/$tenant/ledger.csv" --surveys "tenants/$tenant/surveys.csv" \
    --advocacy "tenants/$tenant/advocacy.csv" --period quarter --from 2025-10-01 --to 2026-09-30
  echo
  echo "==> $tenant: twelve monthly scoring runs recorded in $history"
  "$headway" sample "$book" --what history -o "target/demo-$tenant-history.jsonl"
  "$headway" score --tenant "tenants/$tenant" --store "$history" \
    "target/demo-$tenant-history.jsonl" --format json >/dev/null
  if [ "$tenant" = saas-acme ]; then
    echo "    and the same year scored by a simpler rule (plugins/saas-seats), to compare"
    "$headway" score --tenant "tenants/$tenant" --store "$history" --format json \
      --plugin plugins/target/wasm32-wasip2/release/saas_seats.wasm \
      "target/demo-$tenant-history.jsonl" >/dev/null
  fi
  echo
  echo "==> $tenant: one account over the year, and its Success Vector"
  "$headway" history --store "$history" --tenant "tenants/$tenant" --account "$account"
  echo
  echo "==> $tenant: who reaches a milestone in the next 90 days, and the expansion it predicts"
  "$headway" forecast --store "$history" --tenant "tenants/$tenant" --horizon 90d
  echo
  echo "==> $tenant: did the score predict churn and expansion? (against tenants/$tenant/ledger.csv)"
  "$headway" backtest --store "$history" --tenant "tenants/$tenant" \
    --outcomes "tenants/$tenant/ledger.csv" --horizon 90d
  echo
  echo "==> $tenant: would other weights have ranked churn better? (fitted on early days, judged on late)"
  "$headway" tune --store "$history" --tenant "tenants/$tenant" \
    --outcomes "tenants/$tenant/ledger.csv" --horizon 90d
done
echo
echo "Full results: $headway score --tenant tenants/saas-acme tenants/saas-acme/accounts.jsonl --format json"
echo "Dashboard: HEADWAY_TOKEN_SAAS_ACME=change-me $headway serve --tenants tenants --store $history --listen 127.0.0.1:8080"
echo "           then open http://127.0.0.1:8080/ui and sign in with change-me"
