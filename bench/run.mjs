// `make bench`: measures Tollgate and writes bench/results.json. A benchmark, not a test.
//
// 1. the deployable module's size (gzip -9 of the enforcer's build/enforcer/index_bg.wasm, and of the control plane's);
// 2. the pure policy decision on the host (criterion, bench/decision), and the item counter per
//    body for each response shape (criterion, bench/decision/benches/items.rs);
// 3. the same decision compiled to wasm32 and timed in Node's WebAssembly (bench/decision-wasm);
// 4. throughput and latency through Tollgate under the API's plan in lease mode (app and account
//    windows, a monthly item cap with daily de-dup, a recipient in `ids_only`), under a plan of
//    windows only in lease mode and in strict mode, and through a pass-through baseline worker
//    (bench/baseline), all in `wrangler dev` in front of the same demo origin, with the same load
//    generator (bench/load.mjs), in rotating rounds, with the runtime's network inspection off on
//    both sides (as a deployed worker has none; see bench/common.mjs `networkInspection`) unless
//    BENCH_NETWORK_INSPECTION=on; and the worker's own count of Durable Object
//    calls and KV reads per request in each (admin metrics, delta between two snapshots). Every
//    limit and cap is far too big to bind;
// 5. overshoot in lease mode: bursts against a lease-mode limit that binds, one fresh account per
//    round, counted at the origin; and bursts of 100-item pages under the API's plan against a
//    monthly cap, and against a recipient's 30-day ids, that bind.
//
// Steps 2 and 3 run before any worker starts, so their timings are not disturbed. Every child
// process is started here, in its own process group, and stopped by its pid.
//
// Knobs (environment): BENCH_ROUNDS (5), BENCH_SECONDS (8), BENCH_WARMUP_SECONDS (3),
// BENCH_CONCURRENCY (16), BENCH_OVERSHOOT_ROUNDS (3), BENCH_BURST_CONCURRENCY (96),
// BENCH_NETWORK_INSPECTION (off, or on: as `wrangler dev` runs by default).
// BENCH_ONLY=items measures the item counter alone and updates its figures in results.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';

import { ROOT, newToken, startStack, tokenHash } from '../tests/harness.mjs';
import { knob, networkInspection, onOffKnob, startBaseline, stopGroup } from './common.mjs';
import { runBurst, runLoad } from './load.mjs';

const BENCH = join(ROOT, 'bench');
const OUT = join(BENCH, 'out');
const TARGET_DIR = join(OUT, 'target');
const CRITERION_HOME = join(OUT, 'criterion');
const RESULTS = join(BENCH, 'results.json');

const CONFIG = {
  rounds: knob('BENCH_ROUNDS', 5, 1, 15),
  seconds: knob('BENCH_SECONDS', 8, 1, 60),
  warmup_seconds: knob('BENCH_WARMUP_SECONDS', 3, 1, 30),
  concurrency: knob('BENCH_CONCURRENCY', 16, 1, 256),
  overshoot_rounds: knob('BENCH_OVERSHOOT_ROUNDS', 3, 1, 20),
  burst_concurrency: knob('BENCH_BURST_CONCURRENCY', 96, 1, 512),
  network_inspection: onOffKnob('BENCH_NETWORK_INSPECTION', 'off'),
  method: 'GET',
  path: '/2/tweets/20',
  // Under load every request asks for another post, so the API plan's daily de-dup set grows
  // through the run (ids divisible by 7 are missing at the demo origin: they are skipped).
  path_of: '/2/tweets/:id, id = 7n + 1 for the n-th request of a run',
};
const pathOf = (n) => `/2/tweets/${7 * n + 1}`;

// Lease mode's constants, read from the source so the bounds below follow the code.
const LEASE_SOURCE = 'src/domain/throttle/lease/mod.rs';
function leaseConstant(name) {
  const text = readFileSync(join(ROOT, LEASE_SOURCE), 'utf8');
  const m = text.match(new RegExp(`pub const ${name}: u64 = ([0-9_]+);`));
  if (!m) throw new Error(`${LEASE_SOURCE} has no \`pub const ${name}: u64\``);
  return Number(m[1].replaceAll('_', ''));
}
const LEASE_SIZE = leaseConstant('LEASE_SIZE');
const LEASE_TTL_MS = leaseConstant('LEASE_TTL_MS');

// The seeded plans. Throughput: one account-scope limit on the benchmarked path's group, far too
// big to bind during a run, in lease mode for one plan and strict mode for the other; nothing else
// differs. Overshoot: the same shape with a limit that binds.
const WINDOW_SECONDS = 2_678_400; // the longest window a plan may state: no reset during a run
const ROOMY_LIMIT = 100_000_000;
const BURST = { limit: 200, requests: 600, tokens: 3 };
// What the lease module states: the guard charges a whole slice when it grants it, so the
// origin never serves more than a limit.
const OVERSHOOT_BOUND = 0;
// The API's plan under caps that bind: pages of 100 new items (`GET /2/tweets?ids=`), a burst of
// CAPPED.requests at CAPPED.concurrency. A monthly cap may be passed by the responses in flight
// when it ran out (at most one a connection: concurrency × 100 items); a recipient's ids never.
const CAPPED = { month_cap: 2_000, ids_cap: 1_500, requests: 60, concurrency: 16, page: 100 };
const ITEM_OVERSHOOT_BOUND = CAPPED.concurrency * CAPPED.page;
const RECIPIENT_OVERSHOOT_BOUND = 0;

function seeded() {
  const plan = (id, requests, mode) => ({
    v: 1, id,
    endpoints: [{ method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
    limits: [{ group: 'lookup', scope: 'account', requests, window_seconds: WINDOW_SECONDS, mode }],
  });
  // The API's plan: app and account windows, a monthly item cap (distinct items, daily de-dup).
  const apiPlan = (id, monthCap) => ({
    v: 1, id,
    endpoints: [{ method: 'GET', path: '/2/tweets', group: 'lookup' }, { method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
    limits: ['app', 'account'].map((scope) => ({ group: 'lookup', scope, requests: ROOMY_LIMIT, window_seconds: WINDOW_SECONDS, mode: 'lease' })),
    monthly_item_cap: monthCap,
  });
  const account = (id, planId) => ({ v: 1, id, name: id, plan: planId, status: 'active', use_cases: [{ id: 'bench', status: 'approved' }] });
  // Its account serves a downstream recipient in `ids_only`, with the entity's 30-day ids capped.
  const apiAccount = (id, planId, idsCap) => ({
    ...account(id, planId),
    redistribution: {
      serves_recipients: true, mode: 'ids_only', ids_per_entity_30d: idsCap,
      recipients: [{ id: RECIPIENT, class: 'commercial', entity: 'bench-entity', approval: 'approved' }],
    },
  });
  const app = (acct, id) => ({ v: 1, account: acct, app: id, status: 'active', use_case: 'bench' });
  const tokens = { lease: newToken(), strict: newToken(), api: newToken() };
  // Per round, two fresh accounts on the binding plan: one for the burst of BURST.requests, one
  // for a short burst of exactly BURST.limit requests (see `overshoot`).
  const burstAccount = (name) => ({ account: name, tokens: Array.from({ length: BURST.tokens }, () => newToken()) });
  const bursts = Array.from({ length: CONFIG.overshoot_rounds }, (_, r) => ({
    long: burstAccount(`bench-burst-${r + 1}`),
    short: burstAccount(`bench-short-${r + 1}`),
  }));
  // Per round, two fresh accounts on the API's plan: one whose month binds, one whose
  // recipient's ids bind.
  const capped = Array.from({ length: CONFIG.overshoot_rounds }, (_, r) => ({
    items: { account: `bench-month-${r + 1}`, token: newToken() },
    ids: { account: `bench-ids-${r + 1}`, token: newToken() },
  }));
  const records = [
    ['plan:bench-api', apiPlan('bench-api', ROOMY_LIMIT)],
    ['plan:bench-api-capped', apiPlan('bench-api-capped', CAPPED.month_cap)],
    ['account:bench-api', apiAccount('bench-api', 'bench-api', ROOMY_LIMIT)],
    [`token:${tokenHash(tokens.api)}`, app('bench-api', 'bench-api-app')],
    ['plan:bench-lease', plan('bench-lease', ROOMY_LIMIT, 'lease')],
    ['plan:bench-strict', plan('bench-strict', ROOMY_LIMIT, 'strict')],
    ['plan:bench-burst', plan('bench-burst', BURST.limit, 'lease')],
    ['account:bench-lease', account('bench-lease', 'bench-lease')],
    ['account:bench-strict', account('bench-strict', 'bench-strict')],
    [`token:${tokenHash(tokens.lease)}`, app('bench-lease', 'bench-lease-app')],
    [`token:${tokenHash(tokens.strict)}`, app('bench-strict', 'bench-strict-app')],
  ];
  const burstAccounts = bursts.flatMap((b) => [b.long, b.short]);
  for (const b of burstAccounts) {
    records.push([`account:${b.account}`, account(b.account, 'bench-burst')]);
    b.tokens.forEach((t, i) => records.push([`token:${tokenHash(t)}`, app(b.account, `${b.account}-app-${i + 1}`)]));
  }
  for (const c of capped) {
    records.push([`account:${c.items.account}`, apiAccount(c.items.account, 'bench-api-capped', ROOMY_LIMIT)]);
    records.push([`account:${c.ids.account}`, apiAccount(c.ids.account, 'bench-api', CAPPED.ids_cap)]);
    for (const x of [c.items, c.ids]) records.push([`token:${tokenHash(x.token)}`, app(x.account, `${x.account}-app`)]);
  }
  const entries = records.map(([key, value]) => ({ key: `tollgate:v1:${key}`, value: JSON.stringify(value) }));
  const secrets = [tokens.lease, tokens.strict, tokens.api, ...burstAccounts.flatMap((b) => b.tokens), ...capped.flatMap((c) => [c.items.token, c.ids.token])];
  return { entries, tokens, bursts, capped, secrets };
}

const RECIPIENT = 'bench-client';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (text) => process.stdout.write(`bench: ${text}\n`);

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const round = (x, digits) => (x === null || x === undefined ? null : Number(x.toFixed(digits)));

// ---------------------------------------------------------------------------------------------
// Child processes: own process group, bounded in time, stopped by pid.

const children = new Set();

/** Runs a command to completion (or kills its group after timeoutMs). Output goes to logFile. */
function runCommand(cmd, args, { env = process.env, cwd = ROOT, timeoutMs, logFile }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const chunks = [];
    child.stdout.on('data', (d) => chunks.push(d));
    child.stderr.on('data', (d) => chunks.push(d));
    const timer = setTimeout(() => {
      say(`${cmd} ${args[0]} took longer than ${timeoutMs / 1000} s: stopping it`);
      stopGroup(child);
    }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); children.delete(child); reject(e); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const output = Buffer.concat(chunks).toString('utf8');
      if (logFile) writeFileSync(logFile, output);
      if (code === 0) resolve(output);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? code}); output in ${logFile}:\n${output.slice(-3000)}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// 1. The deployable module.

function moduleSize(worker = 'enforcer') {
  const file = join(ROOT, `build/${worker}/index_bg.wasm`);
  if (!existsSync(file)) throw new Error(`build/${worker}/index_bg.wasm is missing: run \`make build\` (make bench does)`);
  const raw = readFileSync(file);
  // `gzip -9` itself (-n: no file name in the header). zlib's level 9 is not the same compressor
  // and comes out about 1.5 % larger, so it is only the fallback where gzip is missing.
  const gz = spawnSync('gzip', ['-9', '-n', '-c', file], { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
  if (gz.status === 0) return { wasm_raw_bytes: raw.length, wasm_gzip_bytes: gz.stdout.length, wasm_gzip_tool: 'gzip -9 -n' };
  return { wasm_raw_bytes: raw.length, wasm_gzip_bytes: gzipSync(raw, { level: 9 }).length, wasm_gzip_tool: 'node zlib level 9 (gzip not found)' };
}

// ---------------------------------------------------------------------------------------------
// 2. The decision on the host, with criterion.

const cargoEnv = () => ({
  ...process.env,
  PATH: `${join(os.homedir(), '.cargo/bin')}:${process.env.PATH}`,
  CARGO_TARGET_DIR: TARGET_DIR,
  CRITERION_HOME,
  CARGO_TERM_COLOR: 'never',
});

function criterionMedian(id) {
  const file = join(CRITERION_HOME, 'decision', id, 'new', 'estimates.json');
  const estimates = JSON.parse(readFileSync(file, 'utf8'));
  return estimates.median.point_estimate; // nanoseconds
}

async function nativeDecision() {
  rmSync(join(CRITERION_HOME, 'decision'), { recursive: true, force: true });
  say('decision (native): cargo bench in bench/decision (criterion; the first run compiles for about a minute)');
  await runCommand('cargo', ['bench', '--manifest-path', join(BENCH, 'decision/Cargo.toml'), '--bench', 'decision'], {
    env: cargoEnv(), timeoutMs: 15 * 60_000, logFile: join(OUT, 'criterion.log'),
  });
  return {
    decision_ns_native: criterionMedian('full'),
    decide_only_ns_native: criterionMedian('decide_only'),
  };
}

// The item counter per body (100 items), for each shape, and for X API v2's with the counter as it
// was before shapes, in the same run.
const ITEM_SHAPES = ['x_v2_before', 'x_v2', 'array', 'listing'];

async function nativeItems() {
  rmSync(join(CRITERION_HOME, 'items'), { recursive: true, force: true });
  say('item counter (native): cargo bench --bench items in bench/decision (criterion)');
  await runCommand('cargo', ['bench', '--manifest-path', join(BENCH, 'decision/Cargo.toml'), '--bench', 'items'], {
    env: cargoEnv(), timeoutMs: 15 * 60_000, logFile: join(OUT, 'criterion-items.log'),
  });
  const median = (id) => JSON.parse(readFileSync(join(CRITERION_HOME, 'items', id, 'new', 'estimates.json'), 'utf8')).median.point_estimate;
  return Object.fromEntries(ITEM_SHAPES.map((shape) => [shape, { count_ns: median(`${shape}_count`), delivery_ns: median(`${shape}_delivery`) }]));
}

// ---------------------------------------------------------------------------------------------
// 3. The same decision in wasm, timed from Node.

async function wasmDecision() {
  say('decision (wasm): cargo build --target wasm32-unknown-unknown in bench/decision-wasm');
  await runCommand('cargo', ['build', '--release', '--target', 'wasm32-unknown-unknown',
    '--manifest-path', join(BENCH, 'decision-wasm/Cargo.toml')], {
    env: cargoEnv(), timeoutMs: 15 * 60_000, logFile: join(OUT, 'decision-wasm-build.log'),
  });
  const file = join(TARGET_DIR, 'wasm32-unknown-unknown/release/tollgate_decision_wasm.wasm');
  const module = new WebAssembly.Module(readFileSync(file));
  // The tollgate crate links `worker` on wasm32, so the raw module imports wasm-bindgen's glue.
  // The decision never calls out to JS: every import throws, and a call would fail the bench.
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') throw new Error(`unexpected ${imp.kind} import ${imp.module}.${imp.name}`);
    imports[imp.module] ??= {};
    imports[imp.module][imp.name] = () => { throw new Error(`the decision called JS import ${imp.module}.${imp.name}`); };
  }
  const { exports } = new WebAssembly.Instance(module, imports);

  const time = (fn, n) => {
    const t0 = performance.now();
    const allowed = fn(n);
    const ms = performance.now() - t0;
    if (allowed !== n) throw new Error(`wasm decision allowed ${allowed} of ${n}: it took another path`);
    return ms;
  };
  const measure = (fn) => {
    // Warm up past V8's baseline tier, then size a round to about 100 ms.
    let n = 1000;
    const warmupEnd = performance.now() + 1000;
    while (performance.now() < warmupEnd) time(fn, n);
    for (let i = 0; i < 20 && time(fn, n) < 100; i++) n *= 2;
    const perRound = [];
    for (let r = 0; r < 9; r++) perRound.push((time(fn, n) * 1e6) / n);
    return { ns: median(perRound), min_ns: Math.min(...perRound), iterations_per_round: n, rounds_ns: perRound.map((x) => round(x, 1)) };
  };
  const full = measure(exports.run);
  const decideOnly = measure(exports.run_decide);
  return {
    decision_ns_wasm: full.ns,
    decide_only_ns_wasm: decideOnly.ns,
    wasm_timing: { runtime: `node ${process.version} (V8 ${process.versions.v8})`, full, decide_only: decideOnly },
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Load through Tollgate and through the baseline.

async function workerMetrics(stack) {
  const res = await fetch(`${stack.base}/_tollgate/admin/v1/metrics`, {
    headers: { authorization: `Bearer ${stack.adminSecret}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 200) throw new Error(`admin metrics answered ${res.status}: ${await res.text()}`);
  return res.json();
}

async function checkOnce(name, base, headers) {
  const res = await fetch(`${base}${CONFIG.path}`, { headers, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${name} answered ${res.status} to ${CONFIG.method} ${CONFIG.path}: ${text.slice(0, 500)}`);
  const body = JSON.parse(text);
  if (body?.data?.id !== '20') throw new Error(`${name} did not return the origin's tweet 20: ${text.slice(0, 500)}`);
}

// The order of the four targets in each round: rotated, and reversed every other round, so drift
// and ordering effects fall on all of them alike.
const TARGETS = ['api', 'lease', 'strict', 'baseline'];
const orderOf = (r) => {
  const rotated = [...TARGETS.slice(r % TARGETS.length), ...TARGETS.slice(0, r % TARGETS.length)];
  return r % 2 ? rotated.reverse() : rotated;
};

/**
 * Lease-mode overshoot and under-admission. For each round, two fresh accounts whose plan has a
 * lease-mode account limit of BURST.limit, each hit with one burst over its BURST.tokens tokens
 * at high concurrency; the origin's own count says what was served:
 * - `long`: BURST.requests requests (3 × the limit). The overshoot figure. Each token sends more
 *   requests than any lease holds, so the leases are drained by the end and the under-admission
 *   seen right after it is (close to) 0 whatever the leases held mid-burst;
 * - `short`: exactly BURST.limit requests. Whatever a lease still holds when the burst ends is
 *   refused-but-unused capacity: this is the burst that shows under-admission.
 * Then, once every lease has settled (LEASE_TTL_MS), a second burst of BURST.limit per account:
 * the units the leases held must come back, and the account must still never pass its limit.
 */
async function overshoot(stack, seed) {
  const url = `${stack.base}${CONFIG.path}`;
  const headerSets = (b) => b.tokens.map((t) => ({ authorization: `Bearer ${t}`, accept: 'application/json' }));
  const fire = async (b, total) => {
    const before = await stack.originStats();
    const burst = await runBurst({ url, headerSets: headerSets(b), total, concurrency: CONFIG.burst_concurrency });
    const after = await stack.originStats();
    return { burst, served: after.served - before.served };
  };
  // A reload of the worker (wrangler dev watches src/) drops the isolate and the leases in it:
  // units they held are never returned. Such rounds are marked, and kept out of under-admission.
  const reloads = () => (stack.logs().match(/Reloading local server/g) ?? []).length;
  const rounds = [];
  for (const [r, pair] of seed.bursts.entries()) {
    const result = { round: r + 1, limit: BURST.limit, tokens: BURST.tokens, concurrency: CONFIG.burst_concurrency };
    for (const [kind, total] of [['long', BURST.requests], ['short', BURST.limit]]) {
      const b = pair[kind];
      const reloadsBefore = reloads();
      const { burst, served } = await fire(b, total);
      const ok = burst.statuses[200] ?? 0;
      result[kind] = {
        account: b.account,
        requests: total,
        served,
        ok,
        refused_429: burst.statuses[429] ?? 0,
        statuses: burst.statuses,
        by_token: burst.by_set,
        errors: burst.errors,
        last_error: burst.last_error,
        elapsed_s: round(burst.elapsed_s, 3),
        overshoot: Math.max(0, served - BURST.limit),
        under_admission: Math.max(0, BURST.limit - served),
        reloads_at_start: reloadsBefore,
        reloaded_during_burst: reloads() > reloadsBefore,
      };
      const x = result[kind];
      say(`overshoot round ${r + 1}/${seed.bursts.length}, ${kind} burst: ${total} requests over ${b.tokens.length} tokens `
        + `(${CONFIG.burst_concurrency} concurrent) in ${burst.elapsed_s.toFixed(2)} s, limit ${BURST.limit}: `
        + `origin served ${served} (${ok} answered 200, ${x.refused_429} answered 429), overshoot ${x.overshoot}, `
        + `under-admission ${x.under_admission}${x.reloaded_during_burst ? ' (the worker was RELOADED during this burst)' : ''}`);
    }
    rounds.push(result);
  }
  // Every lease above ends within LEASE_TTL_MS and its unused units go back; then what is left of
  // each account's window can be used, and no more.
  await sleep(LEASE_TTL_MS + 1500);
  for (const result of rounds) {
    for (const kind of ['long', 'short']) {
      const b = seed.bursts[result.round - 1][kind];
      const { burst, served } = await fire(b, BURST.limit);
      const x = result[kind];
      x.after_settle = { requests: BURST.limit, served, statuses: burst.statuses, errors: burst.errors };
      x.served_total = x.served + served;
      x.overshoot_total = Math.max(0, x.served_total - BURST.limit);
      // Units that never came back: held by leases when the worker was reloaded.
      x.lost_units = Math.max(0, BURST.limit - x.served_total);
      x.reloaded = reloads() > x.reloads_at_start;
    }
  }
  say(`after the leases settled (${LEASE_TTL_MS + 1500} ms), ${BURST.limit} more requests per account: served in all `
    + `${rounds.map((x) => `${x.long.served_total}/${x.short.served_total}`).join(', ')} (long/short) for a limit of ${BURST.limit}`);
  return rounds;
}

/**
 * The API's plan under caps that bind. Per round, two fresh accounts: one with a monthly cap of
 * CAPPED.month_cap items, one whose recipient's entity may receive CAPPED.ids_cap ids in 30 days.
 * Each gets a burst of CAPPED.requests pages of 100 new items for the recipient, CAPPED.concurrency
 * at a time. Once the leases have settled: the month's overshoot is what the origin served past
 * the cap, and the recipient's is what the ledger says it received past its cap.
 */
async function cappedOvershoot(stack, seed) {
  const url = `${stack.base}/2/tweets`;
  const page = (round, kind) => (i) => {
    const first = 50_000_000 + (round * 2 + (kind === 'ids' ? 1 : 0)) * 1_000_000 + i * CAPPED.page;
    return `/2/tweets?ids=${Array.from({ length: CAPPED.page }, (_, k) => 7 * (first + k) + 1).join(',')}`;
  };
  const out = [];
  for (const [r, pair] of seed.capped.entries()) {
    const result = { round: r + 1 };
    for (const kind of ['items', 'ids']) {
      const { account, token } = pair[kind];
      const headers = { authorization: `Bearer ${token}`, accept: 'application/json', 'x-tollgate-recipient': RECIPIENT };
      const before = await stack.originStats();
      const burst = await runBurst({ url, headerSets: [headers], pathOf: page(r, kind), total: CAPPED.requests, concurrency: CAPPED.concurrency });
      const served = (await stack.originStats()).items - before.items;
      await sleep(LEASE_TTL_MS + 1500);
      const usage = await (await fetch(`${stack.base}/_tollgate/admin/v1/accounts/${account}/usage`, {
        headers: { authorization: `Bearer ${stack.adminSecret}` }, signal: AbortSignal.timeout(10_000),
      })).json();
      const cap = kind === 'items' ? CAPPED.month_cap : CAPPED.ids_cap;
      // What left for the recipient: the origin's pages, cut to each request's reservation.
      const delivered = usage.totals.items;
      const counted = kind === 'items' ? served : delivered;
      result[kind] = {
        account, cap, requests: CAPPED.requests, concurrency: CAPPED.concurrency, statuses: burst.statuses, errors: burst.errors,
        origin_items: served, ledger_items: delivered, ledger_distinct: usage.totals.distinct_items,
        overshoot: Math.max(0, counted - cap), elapsed_s: round(burst.elapsed_s, 3),
      };
      const x = result[kind];
      say(`capped round ${r + 1}/${seed.capped.length}, ${kind === 'items' ? 'monthly cap' : 'recipient ids'} of ${cap}: `
        + `${CAPPED.requests} pages of ${CAPPED.page}, ${CAPPED.concurrency} at a time, in ${burst.elapsed_s.toFixed(2)} s `
        + `(${JSON.stringify(burst.statuses)}): origin served ${served} items, ledger ${delivered} (${x.ledger_distinct} distinct), overshoot ${x.overshoot}`);
    }
    out.push(result);
  }
  return out;
}

async function throughput() {
  const seed = seeded();
  const headersOf = (token) => ({ authorization: `Bearer ${token}`, accept: 'application/json' });
  const headers = {
    api: { ...headersOf(seed.tokens.api), 'x-tollgate-recipient': RECIPIENT },
    lease: headersOf(seed.tokens.lease),
    strict: headersOf(seed.tokens.strict),
    baseline: headersOf(seed.tokens.lease),
  };
  let stack;
  let baseline;
  const onSignal = async (sig) => {
    say(`${sig}: stopping what this run started`);
    await Promise.allSettled([baseline?.stop(), stack?.stop()]);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    say('starting the demo origin and Tollgate (wrangler dev), with the benchmark plans seeded');
    // One retry: wrangler dev can exit at start when build/ is rewritten under it (a concurrent
    // `make build`, or its watcher rerunning the [build] command because src/ changed).
    for (let attempt = 1; !stack; attempt++) {
      try {
        stack = await startStack({ entries: seed.entries });
      } catch (e) {
        if (attempt >= 2) throw e;
        say(`Tollgate did not start (${e.message.split('\n')[0]}); trying once more`);
        await sleep(5000);
      }
    }
    // The seeded tokens are secrets like any other: the stack checks its logs for them at stop.
    for (const t of seed.secrets) stack.secret(t);
    say('starting the pass-through baseline (wrangler dev) in front of the same origin');
    baseline = await startBaseline({ originUrl: stack.originUrl, signingKey: stack.signingKey, children });
    // `wrangler dev` turns the runtime's network inspection on; a deployed worker has none.
    const inspect = CONFIG.network_inspection === 'on';
    await Promise.all([networkInspection(stack.inspectorPort, inspect), networkInspection(baseline.inspectorPort, inspect)]);
    say(`network inspection ${CONFIG.network_inspection} on both sides`);
    const targets = {
      api: `${stack.base}${CONFIG.path}`,
      lease: `${stack.base}${CONFIG.path}`,
      strict: `${stack.base}${CONFIG.path}`,
      baseline: `${baseline.base}${CONFIG.path}`,
    };
    await checkOnce('Tollgate (the API plan, lease mode)', stack.base, headers.api);
    await checkOnce('Tollgate (lease mode)', stack.base, headers.lease);
    await checkOnce('Tollgate (strict mode)', stack.base, headers.strict);
    await checkOnce('baseline', baseline.base, headers.baseline);

    const load = (name, seconds) => runLoad({ url: targets[name], headers: headers[name], pathOf, concurrency: CONFIG.concurrency, durationMs: seconds * 1000 });
    say(`warm-up: ${CONFIG.warmup_seconds} s each`);
    for (const name of TARGETS) await load(name, CONFIG.warmup_seconds);
    // Let the warm-up's wait_until work (deliveries, the last lease's settlement) finish first.
    await sleep(LEASE_TTL_MS + 1000);
    const originBefore = await stack.originStats();

    // The worker's counters are per isolate and start from zero when wrangler dev reloads the
    // worker (it watches src/ for the [build] command). So they are read around every Tollgate
    // run, and only runs with no reload in between count: the worker must have counted exactly
    // the requests that were sent. After a lease-mode run the second snapshot waits for the last
    // lease's settlement (LEASE_TTL_MS), so every guard call the run caused is in its delta.
    const tollgateRun = async (mode) => {
      const m0 = await workerMetrics(stack);
      const result = await load(mode, CONFIG.seconds);
      // Strict: items are recorded in wait_until, after the response. Lease: settled on expiry.
      await sleep(mode === 'strict' ? 1000 : LEASE_TTL_MS + 1000);
      const m1 = await workerMetrics(stack);
      const delta = {
        requests: m1.requests - m0.requests,
        kv_reads: m1.kv_reads - m0.kv_reads,
        guard_calls: m1.guard_calls - m0.guard_calls,
      };
      const consistent = delta.requests === result.sent && delta.kv_reads >= 0 && delta.guard_calls >= 0;
      return { ...result, worker_metrics: { before: m0, after: m1, delta, consistent } };
    };

    const rounds = [];
    for (let r = 0; r < CONFIG.rounds; r++) {
      const order = orderOf(r);
      const result = {};
      for (const name of order) {
        await sleep(500);
        result[name] = name === 'baseline' ? await load('baseline', CONFIG.seconds) : await tollgateRun(name);
      }
      const ratio = result.api.rps / result.baseline.rps;
      const ratioWindows = result.lease.rps / result.baseline.rps;
      const ratioStrict = result.strict.rps / result.baseline.rps;
      rounds.push({
        round: r + 1, order, ratio, ratio_windows_only: ratioWindows, ratio_strict: ratioStrict,
        api: result.api, lease: result.lease, strict: result.strict, baseline: result.baseline,
      });
      const counted = (m) => `${m.delta.requests} requests, ${m.delta.guard_calls} guard calls, ${m.delta.kv_reads} KV reads`
        + `${m.consistent ? '' : ' (INCONSISTENT: the worker was reloaded, or another isolate answered)'}`;
      say(`round ${r + 1}/${CONFIG.rounds} (${order.join(', ')}): API plan ${result.api.rps.toFixed(1)} req/s, `
        + `windows only ${result.lease.rps.toFixed(1)} req/s, strict ${result.strict.rps.toFixed(1)} req/s, `
        + `baseline ${result.baseline.rps.toFixed(1)} req/s; ratio API plan ${ratio.toFixed(3)}, windows only ${ratioWindows.toFixed(3)}, strict ${ratioStrict.toFixed(3)}`);
      say(`  worker counted: API plan ${counted(result.api.worker_metrics)}; windows only ${counted(result.lease.worker_metrics)}; strict ${counted(result.strict.worker_metrics)}`);
    }
    const originAfter = await stack.originStats();

    // The overshoot bursts need no baseline: stop it so it does not compete for the CPU.
    await baseline.stop();
    const baselineLogs = baseline.logs();
    baseline = null;
    say(`overshoot: ${CONFIG.overshoot_rounds} rounds of two bursts (${BURST.requests} and ${BURST.limit} requests) against a lease-mode limit of ${BURST.limit}, a fresh account per burst`);
    const overshootRounds = await overshoot(stack, seed);
    say(`capped: ${CONFIG.overshoot_rounds} rounds of two bursts of ${CAPPED.requests} pages of ${CAPPED.page} new items (the API plan, `
      + `${CAPPED.concurrency} at a time), one against a monthly cap of ${CAPPED.month_cap}, one against a recipient's ${CAPPED.ids_cap} ids`);
    const cappedRounds = await cappedOvershoot(stack, seed);

    const metricsOf = (mode) => {
      const counted = rounds.filter((r) => r[mode].worker_metrics.consistent);
      const sum = (key) => counted.reduce((n, r) => n + r[mode].worker_metrics.delta[key], 0);
      return {
        rounds_counted: counted.length,
        rounds_total: rounds.length,
        delta: counted.length ? { requests: sum('requests'), kv_reads: sum('kv_reads'), guard_calls: sum('guard_calls') } : null,
      };
    };
    const logs = stack.logs();
    return {
      rounds,
      overshoot: overshootRounds,
      capped: cappedRounds,
      metrics: { api: metricsOf('api'), lease: metricsOf('lease'), strict: metricsOf('strict') },
      reloads: (logs.match(/Reloading local server/g) ?? []).length,
      origin: {
        served: originAfter.served - originBefore.served,
        refused: originAfter.refused - originBefore.refused,
      },
      logs: { tollgate: logs, baseline: baselineLogs },
    };
  } finally {
    await Promise.allSettled([baseline?.stop(), stack?.stop()]);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// ---------------------------------------------------------------------------------------------
// Report.

function fmt(x, digits = 1) {
  if (x === null || x === undefined) return 'null';
  if (typeof x !== 'number') return String(x);
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows) {
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  const line = (r) => widths.map((w, i) => String(r[i] ?? '').padEnd(w)).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function environment() {
  const pkg = (name) => {
    try { return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version; } catch { return null; }
  };
  const cpus = os.cpus();
  return {
    node: process.version,
    wrangler: pkg('wrangler'),
    workerd: pkg('workerd'),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? null,
    platform: `${os.platform()} ${os.release()}`,
  };
}

const roundRun = (x) => ({
  ...x,
  rps: round(x.rps, 1),
  p50_ms: round(x.p50_ms, 2),
  p90_ms: round(x.p90_ms, 2),
  p99_ms: round(x.p99_ms, 2),
  elapsed_s: round(x.elapsed_s, 3),
});

/** The item counter's figures for results.json. */
function itemFigures(counter) {
  return {
    // Per body of 100 items: `count_ns` the items alone, `delivery_ns` items and ids as the ledger
    // reads them; `x_v2_before` is X API v2's shape with the counter before response shapes.
    item_counter_ns_per_body: counter
      ? Object.fromEntries(Object.entries(counter).map(([k, v]) => [k, { count_ns: round(v.count_ns, 0), delivery_ns: round(v.delivery_ns, 0) }]))
      : null,
    item_counter_ratio: counter ? round(counter.x_v2.count_ns / counter.x_v2_before.count_ns, 3) : null,
  };
}

const itemRows = (figures) => [
  ...ITEM_SHAPES.map((shape) => {
    const f = figures.item_counter_ns_per_body?.[shape];
    const what = shape === 'x_v2_before' ? "X API v2's shape, the counter before response shapes" : `shape ${shape}`;
    return [`item counter, ${shape}`, f ? `${fmt(f.count_ns, 0)} / ${fmt(f.delivery_ns, 0)} ns` : 'n/a', `per body of 100 items, count / count and ids (criterion median): ${what}`];
  }),
  ['item_counter_ratio', fmt(figures.item_counter_ratio, 3), 'x_v2 count with shapes / before shapes, same body, same run'],
];

/**
 * `BENCH_ONLY=items`: the item counter alone (a minute, no worker), its figures written into the
 * existing results.json beside the others, with the time they were measured.
 */
async function itemsOnly() {
  const counter = await nativeItems();
  const results = JSON.parse(readFileSync(RESULTS, 'utf8'));
  const figures = itemFigures(counter);
  Object.assign(results, figures, { item_counter_measured_at: new Date().toISOString(), item_counter_loadavg: os.loadavg().map((x) => round(x, 2)) });
  const pass = figures.item_counter_ratio <= 1.1;
  results.targets = { ...results.targets, item_counter_ratio: { value: figures.item_counter_ratio, target: '<= 1.1', pass } };
  results.targets_total = Object.keys(results.targets).length;
  results.targets_met = Object.values(results.targets).filter((t) => t.pass === true).length;
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nItem counter (written to bench/results.json)\n\n${table([['metric', 'value', 'how'], ...itemRows(figures)])}\n`);
}

async function main() {
  const started = performance.now();
  mkdirSync(OUT, { recursive: true });
  if (process.env.BENCH_ONLY === 'items') {
    await itemsOnly();
    return;
  }
  // Other work on the machine skews every figure here (2 cores): say so up front.
  const loadAtStart = os.loadavg();
  if (loadAtStart[0] > 0.5) {
    say(`note: the machine is already busy (load average ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}); `
      + 'figures will be noisier than on an idle machine');
  }
  const failures = [];
  const attempt = async (what, fn) => {
    try {
      return await fn();
    } catch (e) {
      failures.push(`${what}: ${e.message}`);
      say(`FAILED ${what}: ${e.message}`);
      return null;
    }
  };

  const size = await attempt('module size', async () => moduleSize());
  const controlSize = await attempt('control module size', async () => moduleSize('control'));
  const native = await attempt('native decision', nativeDecision);
  const counter = await attempt('item counter', nativeItems);
  const wasm = await attempt('wasm decision', wasmDecision);
  const load = await attempt('throughput', throughput);

  const rounds = load?.rounds ?? [];
  const med = (f) => median(rounds.map(f));
  const perRequest = (delta, key) => (delta && delta.requests > 0 ? delta[key] / delta.requests : null);
  const apiDelta = load?.metrics.api.delta;
  const leaseDelta = load?.metrics.lease.delta;
  const strictDelta = load?.metrics.strict.delta;

  // Anything but 200 under load makes the throughput figures meaningless: say so, and fail.
  for (const r of rounds) {
    for (const side of TARGETS) {
      const x = r[side];
      const other = x.sent - x.ok;
      if (other > 0) failures.push(`round ${r.round} ${side}: ${other} of ${x.sent} requests were not 200 (${JSON.stringify(x.statuses)}, errors ${x.errors}${x.last_error ? `: ${x.last_error}` : ''})`);
    }
  }
  if (load && load.origin.refused > 0) failures.push(`the origin refused ${load.origin.refused} requests (bad context header)`);
  if (load) {
    for (const mode of ['api', 'lease', 'strict']) {
      const { rounds_counted: counted, rounds_total: total } = load.metrics[mode];
      if (counted === 0) failures.push(`${mode}: no round had consistent worker counters (reloaded every time?): no per-request figures`);
      else if (counted < total) {
        say(`note: ${mode}: ${total - counted} of ${total} rounds left out of the per-request counts (the worker was reloaded mid-round)`);
      }
    }
    writeFileSync(join(OUT, 'tollgate-wrangler.log'), load.logs.tollgate);
    writeFileSync(join(OUT, 'baseline-wrangler.log'), load.logs.baseline);
  }

  // Overshoot: a burst's answers must be 200 or 429 (anything else, a 503 from an unreachable
  // guard say, would make the served count mean something else).
  const bursts = load?.overshoot ?? [];
  for (const r of bursts) {
    for (const kind of ['long', 'short']) {
      const b = r[kind];
      const odd = Object.entries(b.statuses).filter(([st]) => st !== '200' && st !== '429');
      if (odd.length || b.errors) failures.push(`overshoot round ${r.round} ${kind}: answers other than 200/429 (${JSON.stringify(b.statuses)}, errors ${b.errors}${b.last_error ? `: ${b.last_error}` : ''})`);
      if (b.served !== b.ok) failures.push(`overshoot round ${r.round} ${kind}: the origin served ${b.served} but the client saw ${b.ok} answers 200`);
    }
  }
  const maxOf = (f) => (bursts.length ? Math.max(...bursts.map(f)) : null);
  const overshootMax = maxOf((r) => Math.max(...['long', 'short'].map((k) => Math.max(r[k].overshoot, r[k].overshoot_total ?? 0))));
  // Under-admission: only bursts whose isolate lived through them and their settlement.
  const clean = (kind) => bursts.filter((r) => !r[kind].reloaded);
  const maxClean = (kind) => (clean(kind).length ? Math.max(...clean(kind).map((r) => r[kind].under_admission)) : null);
  const underMax = maxClean('long');
  const underShortMax = maxClean('short');
  const reloadedBursts = bursts.flatMap((r) => ['long', 'short'].filter((k) => r[k].reloaded).map((k) => ({ round: r.round, kind: k, ...r[k] })));
  for (const b of reloadedBursts) {
    say(`note: the worker was reloaded during overshoot round ${b.round} ${b.kind} (or before its settlement): `
      + `served ${b.served} right after the burst, ${b.served_total} of ${BURST.limit} in all after settlement, `
      + `${b.lost_units} units never returned; left out of under_admission_max`);
  }
  const lostUnexplained = bursts.flatMap((r) => ['long', 'short'].filter((k) => !r[k].reloaded && r[k].lost_units > 0).map((k) => `${r.round} ${k}`));
  if (lostUnexplained.length) say(`note: units never returned with no reload seen: ${lostUnexplained.join(', ')}`);
  const underBound = LEASE_SIZE * BURST.tokens;
  const capped = load?.capped ?? [];
  for (const r of capped) {
    for (const kind of ['items', 'ids']) {
      const x = r[kind];
      const odd = Object.entries(x.statuses).filter(([st]) => st !== '200' && st !== '429');
      if (odd.length || x.errors) failures.push(`capped round ${r.round} ${kind}: answers other than 200/429 (${JSON.stringify(x.statuses)}, errors ${x.errors})`);
      if ((x.statuses[429] ?? 0) === 0) failures.push(`capped round ${r.round} ${kind}: the cap of ${x.cap} never bound`);
    }
  }
  const cappedMax = (kind) => (capped.length ? Math.max(...capped.map((r) => r[kind].overshoot)) : null);
  const loadAfter = os.loadavg();

  const results = {
    // Lease mode: the isolate spends slices of LEASE_SIZE units taken from the account's guard (a
    // Durable Object), settled when they run out or after LEASE_TTL_MS. Strict mode: every allowed
    // request is charged at the guard. Same seeded plan shape, same path, same load.
    // The API's plan in lease mode: app and account windows, a monthly item cap with daily de-dup,
    // a recipient in ids_only. `*_windows_only`: a plan of one account window, in lease mode.
    throughput_ratio: round(med((r) => r.ratio), 4),
    throughput_ratio_windows_only: round(med((r) => r.ratio_windows_only), 4),
    throughput_ratio_strict: round(med((r) => r.ratio_strict), 4),
    mode: 'lease',
    plan: 'api',
    tollgate_rps: round(med((r) => r.api.rps), 1),
    tollgate_rps_windows_only: round(med((r) => r.lease.rps), 1),
    tollgate_rps_strict: round(med((r) => r.strict.rps), 1),
    baseline_rps: round(med((r) => r.baseline.rps), 1),
    p50_ms: round(med((r) => r.api.p50_ms), 2),
    p99_ms: round(med((r) => r.api.p99_ms), 2),
    p50_ms_windows_only: round(med((r) => r.lease.p50_ms), 2),
    p99_ms_windows_only: round(med((r) => r.lease.p99_ms), 2),
    p50_ms_strict: round(med((r) => r.strict.p50_ms), 2),
    p99_ms_strict: round(med((r) => r.strict.p99_ms), 2),
    baseline_p50_ms: round(med((r) => r.baseline.p50_ms), 2),
    baseline_p99_ms: round(med((r) => r.baseline.p99_ms), 2),
    do_calls_per_request: round(perRequest(apiDelta, 'guard_calls'), 4),
    kv_reads_per_request: round(perRequest(apiDelta, 'kv_reads'), 5),
    do_calls_per_request_windows_only: round(perRequest(leaseDelta, 'guard_calls'), 4),
    kv_reads_per_request_windows_only: round(perRequest(leaseDelta, 'kv_reads'), 5),
    do_calls_per_request_strict: round(perRequest(strictDelta, 'guard_calls'), 4),
    kv_reads_per_request_strict: round(perRequest(strictDelta, 'kv_reads'), 5),
    decision_ns_native: round(native?.decision_ns_native, 1),
    decide_only_ns_native: round(native?.decide_only_ns_native, 1),
    ...itemFigures(counter),
    decision_ns_wasm: round(wasm?.decision_ns_wasm, 1),
    decide_only_ns_wasm: round(wasm?.decide_only_ns_wasm, 1),
    wasm_gzip_bytes: size?.wasm_gzip_bytes ?? null,
    wasm_raw_bytes: size?.wasm_raw_bytes ?? null,
    wasm_gzip_tool: size?.wasm_gzip_tool ?? null,
    control_wasm_gzip_bytes: controlSize?.wasm_gzip_bytes ?? null,
    overshoot_max: overshootMax,
    overshoot_bound: OVERSHOOT_BOUND,
    under_admission_max: underMax,
    under_admission_max_short_burst: underShortMax,
    under_admission_bound: underBound,
    item_overshoot_max: cappedMax('items'),
    item_overshoot_bound: ITEM_OVERSHOOT_BOUND,
    recipient_overshoot_max: cappedMax('ids'),
    recipient_overshoot_bound: RECIPIENT_OVERSHOOT_BOUND,
    // Bursts hit by a worker reload: their leases' units never came back (not in the two above).
    overshoot_bursts_reloaded: reloadedBursts.map((b) => ({ round: b.round, kind: b.kind, served: b.served, served_total: b.served_total, lost_units: b.lost_units })),
    targets: null, // filled in below
    config: {
      ...CONFIG,
      lease_size: LEASE_SIZE,
      lease_ttl_ms: LEASE_TTL_MS,
      request: `${CONFIG.method} ${CONFIG.path_of}, allowed, demo origin; API plan: seeded (endpoints GET /2/tweets and `
        + `/2/tweets/:id in group lookup, app and account limits of ${ROOMY_LIMIT} requests per ${WINDOW_SECONDS} s in lease mode, `
        + `a monthly_item_cap of ${ROOMY_LIMIT}, the request naming a recipient in ids_only with ${ROOMY_LIMIT} ids a 30 days); `
        + `windows only and strict: seeded plans (endpoint GET /2/tweets/:id in group lookup, one account-scope limit of `
        + `${ROOMY_LIMIT} requests per ${WINDOW_SECONDS} s, mode lease or strict, nothing else), one account and token each`,
      capped: `${CONFIG.overshoot_rounds} rounds, two fresh accounts each on the API plan: a monthly cap of ${CAPPED.month_cap}, or a `
        + `recipient entity's ${CAPPED.ids_cap} ids; a burst of ${CAPPED.requests} GET /2/tweets?ids= of ${CAPPED.page} new ids for the `
        + `recipient, ${CAPPED.concurrency} at a time; overshoot = origin items past the month's cap, ledger items past the ids cap, after settlement`,
      overshoot: `${CONFIG.overshoot_rounds} rounds, two fresh accounts each, plan with one lease-mode account-scope limit of `
        + `${BURST.limit} per ${WINDOW_SECONDS} s; a burst of ${BURST.requests} (long) or ${BURST.limit} (short) requests `
        + `round-robin over ${BURST.tokens} tokens of the account, ${CONFIG.burst_concurrency} at a time; served = the origin's count; `
        + `then, after ${LEASE_TTL_MS + 1500} ms, ${BURST.limit} more requests per account`,
      load_generator: 'bench/load.mjs: closed loop, node:http keep-alive agent, one socket per worker',
      statistics: 'medians over rounds; throughput_ratio(_strict) is the median of per-round Tollgate/baseline ratios; '
        + 'p50/p99 are per-round nearest-rank percentiles of 200 responses, then the median over rounds',
      item_counter: 'criterion, bench/decision/benches/items.rs: one page of 100 items per shape (bench/decision/src/bodies.rs); '
        + 'item_counter_ratio is x_v2 count / x_v2_before count (the counter before response shapes, bench/decision/src/before_shapes.rs)',
      decision: 'token_from_header + Token::hash + decide on records decoded once (bench/decision/src/lib.rs); '
        + 'decide_only_* is decide alone; both built with the deployable profile (opt-level 3, lto, codegen-units 1)',
    },
    rounds: rounds.map((r) => ({
      round: r.round,
      order: r.order,
      ratio: round(r.ratio, 4),
      ratio_windows_only: round(r.ratio_windows_only, 4),
      ratio_strict: round(r.ratio_strict, 4),
      api: roundRun(r.api),
      lease: roundRun(r.lease),
      strict: roundRun(r.strict),
      baseline: roundRun(r.baseline),
    })),
    worker_metrics: load?.metrics ?? null,
    overshoot_rounds: bursts,
    capped_rounds: capped,
    // wrangler dev reloads the worker when src/ changes (its [build] watch); rounds hit by one are left out above.
    worker_reloads_seen: load?.reloads ?? null,
    origin: load?.origin ?? null,
    wasm_timing: wasm?.wasm_timing ?? null,
    environment: { ...environment(), loadavg_at_start: loadAtStart.map((x) => round(x, 2)), loadavg_at_end: loadAfter.map((x) => round(x, 2)) },
    measured_at: new Date().toISOString(),
    duration_s: round((performance.now() - started) / 1000, 1),
    failures,
    reproduce: 'make bench',
  };

  // Targets: checked against what was measured; a figure that could not be measured misses.
  const check = (name, value, op, bound, digits) => {
    const pass = value === null || value === undefined ? null : op === '>=' ? value >= bound : op === '<=' ? value <= bound : value < bound;
    return { name, value, target: `${op} ${bound}`, pass, digits };
  };
  const targets = [
    check('throughput_ratio', results.throughput_ratio, '>=', 0.9, 3),
    check('do_calls_per_request', results.do_calls_per_request, '<=', 0.05, 4),
    check('kv_reads_per_request', results.kv_reads_per_request, '<=', 0.01, 5),
    check('decision_ns_native', results.decision_ns_native, '<', 10000, 1),
    check('item_counter_ratio', results.item_counter_ratio, '<=', 1.1, 3),
    check('wasm_gzip_bytes', results.wasm_gzip_bytes, '<', 400000, 0),
    check('overshoot_max', results.overshoot_max, '<=', results.overshoot_bound, 0),
    check('item_overshoot_max', results.item_overshoot_max, '<=', results.item_overshoot_bound, 0),
    check('recipient_overshoot_max', results.recipient_overshoot_max, '<=', results.recipient_overshoot_bound, 0),
  ];
  results.targets = Object.fromEntries(targets.map((t) => [t.name, { value: t.value, target: t.target, pass: t.pass }]));
  results.targets_met = targets.filter((t) => t.pass === true).length;
  results.targets_total = targets.length;
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  const c = CONFIG;
  const ad = apiDelta;
  const ld = leaseDelta;
  const sd = strictDelta;
  const counts = (d, mode) => (d ? `${d.guard_calls} / ${d.requests}, ${load.metrics[mode].rounds_counted} of ${load.metrics[mode].rounds_total} rounds` : 'n/a');
  const rows = [
    ['metric', 'value', 'how'],
    ['throughput, Tollgate API plan', `${fmt(results.tollgate_rps)} req/s`, `lease mode, windows + monthly cap + recipient ids_only; median of ${c.rounds} rounds × ${c.seconds} s, ${c.concurrency} keep-alive connections`],
    ['throughput, Tollgate windows only', `${fmt(results.tollgate_rps_windows_only)} req/s`, 'lease mode, one account window, same load'],
    ['throughput, Tollgate strict', `${fmt(results.tollgate_rps_strict)} req/s`, 'the windows-only plan with mode strict, same load'],
    ['throughput, baseline', `${fmt(results.baseline_rps)} req/s`, 'pass-through worker (bench/baseline), same runtime, origin, load'],
    ['throughput_ratio', fmt(results.throughput_ratio, 3), 'the API plan in lease mode: median of per-round Tollgate / baseline'],
    ['throughput_ratio_windows_only', fmt(results.throughput_ratio_windows_only, 3), 'windows only, lease mode: the same'],
    ['throughput_ratio_strict', fmt(results.throughput_ratio_strict, 3), 'strict mode: the same'],
    ['p50_ms / p99_ms (API plan)', `${fmt(results.p50_ms, 2)} / ${fmt(results.p99_ms, 2)}`, 'Tollgate, the API plan, client-side, median over rounds'],
    ['p50_ms / p99_ms (windows only)', `${fmt(results.p50_ms_windows_only, 2)} / ${fmt(results.p99_ms_windows_only, 2)}`, 'Tollgate lease, windows only'],
    ['p50_ms / p99_ms (strict)', `${fmt(results.p50_ms_strict, 2)} / ${fmt(results.p99_ms_strict, 2)}`, 'Tollgate strict, client-side, median over rounds'],
    ['baseline_p50_ms / p99_ms', `${fmt(results.baseline_p50_ms, 2)} / ${fmt(results.baseline_p99_ms, 2)}`, 'baseline, client-side, median over rounds'],
    ['do_calls_per_request', fmt(results.do_calls_per_request, 4), `the API plan: every guard (DO) call the worker counted, settlements included (${counts(ad, 'api')})`],
    ['do_calls_per_request_windows_only', fmt(results.do_calls_per_request_windows_only, 4), `windows only, lease: same count (${counts(ld, 'lease')})`],
    ['do_calls_per_request_strict', fmt(results.do_calls_per_request_strict, 4), `strict: same count (${counts(sd, 'strict')})`],
    ['kv_reads_per_request', fmt(results.kv_reads_per_request, 5), `the API plan: KV reads / requests (${ad ? `${ad.kv_reads} / ${ad.requests}` : 'n/a'}; isolate cache TTL 30 s)`],
    ['kv_reads_per_request_strict', fmt(results.kv_reads_per_request_strict, 5), `strict: same (${sd ? `${sd.kv_reads} / ${sd.requests}` : 'n/a'})`],
    ['decision_ns_native', fmt(results.decision_ns_native), 'criterion median: token_from_header + hash + decide'],
    ['decide_only_ns_native', fmt(results.decide_only_ns_native), 'criterion median: decide alone'],
    ...itemRows(results),
    ['decision_ns_wasm', fmt(results.decision_ns_wasm), `wasm32 in Node (V8), median of 9 timed rounds (fastest ${fmt(wasm?.wasm_timing.full.min_ns)})`],
    ['decide_only_ns_wasm', fmt(results.decide_only_ns_wasm), 'wasm32 in Node (V8), decide alone'],
    ['wasm_gzip_bytes', fmt(results.wasm_gzip_bytes, 0), `${results.wasm_gzip_tool ?? 'gzip -9'} of build/enforcer/index_bg.wasm (raw ${fmt(results.wasm_raw_bytes, 0)})`],
    ['control_wasm_gzip_bytes', fmt(results.control_wasm_gzip_bytes, 0), 'the same, of build/control/index_bg.wasm (off the request path)'],
    ['overshoot_max', fmt(results.overshoot_max, 0), `max over ${bursts.length} rounds × 2 accounts of origin served − ${BURST.limit} (lease limit; bursts of ${BURST.requests} and ${BURST.limit}, ${BURST.tokens} tokens, ${c.burst_concurrency} concurrent; and after settlement)`],
    ['overshoot_bound', fmt(results.overshoot_bound, 0), `stated in ${LEASE_SOURCE}: the guard charges a slice when it grants it`],
    ['under_admission_max', fmt(results.under_admission_max, 0), `max over rounds of ${BURST.limit} − origin served right after the ${BURST.requests}-request burst${reloadedBursts.length ? ' (rounds hit by a reload left out)' : ''}`],
    ['under_admission_max_short_burst', fmt(results.under_admission_max_short_burst, 0), `the same right after a burst of exactly ${BURST.limit} requests (units still held by leases)`],
    ['under_admission_bound', fmt(results.under_admission_bound, 0), `LEASE_SIZE ${LEASE_SIZE} × ${BURST.tokens} keys (one per token), one isolate`],
    ['item_overshoot_max', fmt(results.item_overshoot_max, 0), `API plan: max over ${capped.length} rounds of origin items past a monthly cap of ${CAPPED.month_cap} (${CAPPED.requests} pages of ${CAPPED.page}, ${CAPPED.concurrency} at a time)`],
    ['item_overshoot_bound', fmt(results.item_overshoot_bound, 0), `the responses in flight when the month ran out: ${CAPPED.concurrency} connections × ${CAPPED.page} items`],
    ['recipient_overshoot_max', fmt(results.recipient_overshoot_max, 0), `API plan: max over rounds of ids the recipient received (ledger) past its entity's ${CAPPED.ids_cap}`],
    ['recipient_overshoot_bound', fmt(results.recipient_overshoot_bound, 0), 'every id is reserved at the guard before it leaves'],
  ];
  process.stdout.write(`\nTollgate benchmark, lease and strict mode (${c.method} ${c.path}, seeded plans, demo origin)\n\n`);
  process.stdout.write(`${table(rows)}\n\n`);
  const verdict = (t) => (t.pass === null ? 'MISSED (not measured)' : t.pass ? 'pass' : 'MISSED');
  const targetRows = [['target', 'measured', 'wanted', 'result'], ...targets.map((t) => [t.name, fmt(t.value, t.digits), t.target, verdict(t)])];
  process.stdout.write(`Targets: ${results.targets_met} of ${results.targets_total} met\n\n${table(targetRows)}\n\n`);
  if (rounds.length) {
    const pr = (x) => `${fmt(x.rps)}  ${fmt(x.p50_ms, 2)}/${fmt(x.p99_ms, 2)}`;
    const perRound = [['round', 'API plan req/s  p50/p99 ms', 'windows only', 'strict', 'baseline', 'ratio API / windows / strict']];
    for (const r of results.rounds) {
      perRound.push([String(r.round), pr(r.api), pr(r.lease), pr(r.strict), pr(r.baseline), `${fmt(r.ratio, 3)} / ${fmt(r.ratio_windows_only, 3)} / ${fmt(r.ratio_strict, 3)}`]);
    }
    process.stdout.write(`${table(perRound)}\n\n`);
  }
  if (bursts.length) {
    const perBurst = [['burst', 'requests', 'served', '200 / 429', 'overshoot', 'under-admission', 'seconds', 'after settlement: served in all', 'note']];
    for (const r of bursts) {
      for (const kind of ['long', 'short']) {
        const b = r[kind];
        perBurst.push([`${r.round} ${kind}`, String(b.requests), String(b.served), `${b.ok} / ${b.refused_429}`, String(b.overshoot),
          String(b.under_admission), fmt(b.elapsed_s, 2), b.served_total === undefined ? 'n/a' : `${b.served_total} of ${r.limit}`,
          b.reloaded ? `worker reloaded: ${b.lost_units} units lost` : '']);
      }
    }
    process.stdout.write(`${table(perBurst)}\n\n`);
  }
  process.stdout.write(`Written to bench/results.json in ${fmt(results.duration_s)} s. Reproduce with \`make bench\` `
    + '(knobs: BENCH_ROUNDS, BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONCURRENCY, BENCH_OVERSHOOT_ROUNDS, BENCH_BURST_CONCURRENCY, '
    + `BENCH_NETWORK_INSPECTION; network inspection was ${CONFIG.network_inspection}).\n`);
  process.stdout.write(`Machine: ${results.environment.cpus} × ${results.environment.cpu_model}, node ${process.version}, `
    + `wrangler ${results.environment.wrangler}, load average ${loadAtStart.map((x) => x.toFixed(2)).join(' ')} at start. `
    + 'Absolute req/s in wrangler dev are local figures; compare the ratios.\n');
  if (failures.length) {
    process.stdout.write(`\n${failures.length} problem(s):\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

main().catch(async (e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  await Promise.allSettled([...children].map((c) => stopGroup(c)));
  process.exit(1);
});
