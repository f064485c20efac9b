#!/usr/bin/env bash
# `make bench`: benchmarks, not tests. Prints a table and writes bench/results.json.
# Safe to run any number of times; installs nothing beyond what scripts/bootstrap.sh installs
# (and the crates the two benchmark crates under bench/ need, fetched by cargo into its cache).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false

# `make bench` has already bootstrapped and built; run by hand, this does the same (both skip
# whatever is already in place).
bash scripts/bootstrap.sh
if [ ! -f build/enforcer/worker/shim.mjs ] || [ ! -f build/control/worker/shim.mjs ]; then
  bash scripts/build.sh
fi
# The request figures (bench/results.json), then the stream figures (bench/stream.json): each runs
# whatever became of the other, and the exit status says whether both measured properly.
status=0
node bench/run.mjs || status=$?
node bench/stream.mjs || status=$?
exit "$status"
