# Tollgate: the two commands are `make dev` and `make test`.
PORT ?= 8787
ORIGIN_PORT ?= 8788
export PORT ORIGIN_PORT
export PATH := $(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

.PHONY: dev test bootstrap build test-host test-e2e deploy clean bench bench-stream bench-cpu bench-ab fuzz load scale

## Install what is missing, build, seed local KV and serve on http://127.0.0.1:$(PORT).
dev: bootstrap
	bash scripts/dev.sh

## Every test: host tests of the core, then end-to-end tests through wrangler dev.
test: bootstrap test-host build test-e2e

bootstrap:
	bash scripts/bootstrap.sh

build: bootstrap
	bash scripts/build.sh

test-host:
	cargo test --quiet

test-e2e:
	node --test --test-concurrency=1 --test-timeout=300000 tests/

## Benchmarks (not tests): prints a table and writes bench/results.json.
bench: build
	bash scripts/bench.sh

## The stream figures alone (a part of `make bench`): writes bench/stream.json.
bench-stream: build
	node bench/stream.mjs

## Where a request's CPU goes, process by process (a measurement): writes bench/cpu.json.
bench-cpu: build
	node bench/cpu.mjs

## This checkout's build against revision AB_REV's, side by side (a measurement): bench/ab.json.
bench-ab: build
	node bench/ab.mjs

## The account guard at the largest customer's scale (a measurement): writes bench/scale.json.
scale: build
	node scripts/scale.mjs

## Sustained mixed traffic for LOAD_SECONDS (default 30), then the ledger and throttling checks.
load: build
	node scripts/load.mjs

## Fuzz every parser and pure decision for FUZZ_SECONDS each (default 60).
fuzz:
	bash scripts/fuzz.sh

## Deploy with wrangler (needs a Cloudflare account; see the README): the console, the control
## plane (the guards and the admin API), then the enforcer, whose bindings reach both.
deploy: bootstrap build
	node_modules/.bin/wrangler deploy -c www/wrangler.toml
	node_modules/.bin/wrangler deploy -c control/wrangler.toml
	TOLLGATE_PREBUILT=1 node_modules/.bin/wrangler deploy

clean:
	rm -rf build target .wrangler
