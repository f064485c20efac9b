#!/usr/bin/env bash
# Fuzzes the pure core (src/domain) with cargo-fuzz and libFuzzer, one target after another.
#
#   scripts/fuzz.sh                          every target for 60 s
#   FUZZ_SECONDS=600 scripts/fuzz.sh         every target for 10 minutes
#   FUZZ_TARGETS="guard route" scripts/fuzz.sh
#   FUZZ_ARGS="-max_len=512" scripts/fuzz.sh  extra libFuzzer flags
#   FUZZ_SANITIZER=none scripts/fuzz.sh      faster, without AddressSanitizer (default: address)
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/), copied into
# fuzz/scratch/<target>/ (git-ignored), which libFuzzer then grows and which later runs reuse;
# `rm -rf fuzz/scratch` starts afresh. Crash inputs land in fuzz/artifacts/<target>/ (git-ignored);
# replay one with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>`.
# One libFuzzer process runs at a time, single-threaded. Exits non-zero if any target crashed.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz="$root/fuzz"

# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov-module, ...); the stable
# toolchain accepts them when told it is bootstrapping.
export RUSTC_BOOTSTRAP=1
# As `cargo fuzz run` sets it.
export ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked \
    || cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION"
fi

cd "$root"
if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <(cargo fuzz list)
fi

# Build every target once, then run those binaries: what runs is one snapshot of the sources,
# even if they change during a long run (`cargo fuzz run` would rebuild each time).
cargo fuzz build --sanitizer "$sanitizer"
bin="$fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

total=0
failed=()
printf '%-14s %14s  %s\n' target executions result
for t in "${targets[@]}"; do
  scratch="$fuzz/scratch/$t"
  log="$fuzz/scratch/$t.log"
  mkdir -p "$scratch"
  if [ -d "$fuzz/corpus/$t" ]; then
    cp -f "$fuzz/corpus/$t"/* "$scratch"/
  fi
  mkdir -p "$fuzz/artifacts/$t"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  if "$bin/$t" -artifact_prefix="$fuzz/artifacts/$t/" \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    ${FUZZ_ARGS:-} "$scratch" >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see $log, input in fuzz/artifacts/$t/)"
    failed+=("$t")
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
  if [ -z "$execs" ]; then
    execs=0
    [ "$result" = ok ] && { result="NO STATS (see $log)"; failed+=("$t"); }
  fi
  total=$((total + execs))
  printf '%-14s %14s  %s\n' "$t" "$execs" "$result"
  if [ "$result" != ok ]; then
    grep -E -A1 'panicked at' "$log" | head -n 4 | sed 's/^/    /' || true
    grep -E '^(==[0-9]+==)?ERROR|Test unit written to' "$log" | head -n 4 | sed 's/^/    /' || true
  fi
done
printf '%-14s %14s  %s\n' TOTAL "$total" "${#targets[@]} targets, ${seconds}s each"

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
