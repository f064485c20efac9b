#!/usr/bin/env bash
# Builds the two Workers offline: worker-build with the wasm-bindgen, wasm-opt and esbuild that the
# bootstrap installed, so nothing is downloaded at build time.
#   build/enforcer/  the enforcer on the request path (wrangler.toml)
#   build/control/   the control plane: account guards and admin API (control/wrangler.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
node www/build.mjs   # the admin console (static assets); fast, and a no-op when unchanged
# Tests build once up front and then start several `wrangler dev` runs on the same output.
if [ "${TOLLGATE_PREBUILT:-}" = 1 ] && [ -f build/enforcer/worker/shim.mjs ] && [ -f build/control/worker/shim.mjs ]; then
  exit 0
fi
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/.bin/esbuild}"
for worker in enforcer control; do
  worker-build --release --out-dir "build/$worker" . --features "$worker"
  # worker-build keeps the name section (function names, about 220 KB): the deployable module
  # does not need it.
  "$WASM_OPT_BIN" "build/$worker/index_bg.wasm" --strip-debug --strip-producers -o "build/$worker/index_bg.wasm" \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue
done
