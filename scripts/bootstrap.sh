#!/usr/bin/env bash
# Installs what building and testing Tollgate needs, from the package registries only, and skips
# whatever is already in place. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

WORKER_BUILD_VERSION=0.8.7
# The CLI must be exactly the wasm-bindgen that Cargo.toml pins.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' Cargo.toml)

say() { printf 'bootstrap: %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  say "cargo is not installed: this project needs a Rust toolchain (rustup)"; exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if [ "$(worker-build --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install --locked worker-build --version "$WORKER_BUILD_VERSION"
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # Not --locked: its lock file names a dependency release that the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if ! command -v node >/dev/null; then
  say "node is not installed: this project needs Node.js 20 or later"; exit 1
fi
# npm ci only when the lock file changed since the last install.
stamp=node_modules/.tollgate-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "installing npm packages"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
# The console's browser tests drive Debian's Chromium (playwright-core downloads no browser), and
# the README-examples test runs the README's curl lines with curl.
missing=()
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if ! command -v curl >/dev/null; then missing+=(curl); fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} from the Debian archive (for the browser and README tests)"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
