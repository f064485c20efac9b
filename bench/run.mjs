// `make bench`: measures Tollgate and writes bench/results.json. A benchmark, not a test.
//
// 1. the deployable module's size (gzip -9 of build/index_bg.wasm);
// 2. the pure policy decision on the host (criterion, bench/decision);
// 3. the same decision compiled to wasm32 and timed in Node's WebAssembly (bench/decision-wasm);
// 4. throughput and latency through Tollgate and through a pass-through baseline worker
//    (bench/baseline), both in `wrangler dev` in front of the same demo origin, with the same
//    load generator (bench/load.mjs), in alternating rounds; and the worker's own count of Durable
//    Object calls and KV reads per request (admin metrics, delta between two snapshots).
//
// Steps 2 and 3 run before any worker starts, so their timings are not disturbed. Every child
// process is started here, in its own process group, and stopped by its pid.
//
// Knobs (environment): BENCH_ROUNDS (5), BENCH_SECONDS (8), BENCH_WARMUP_SECONDS (3),
// BENCH_CONCURRENCY (16).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';

import { DEMO, ROOT, demoToken, freePort, startStack } from '../tests/harness.mjs';
import { runLoad } from './load.mjs';

const BENCH = join(ROOT, 'bench');
const OUT = join(BENCH, 'out');
const TARGET_DIR = join(OUT, 'target');
const CRITERION_HOME = join(OUT, 'criterion');
const RESULTS = join(BENCH, 'results.json');
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');

function knob(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}..${max}`);
  return n;
}

const CONFIG = {
  rounds: knob('BENCH_ROUNDS', 5, 1, 15),
  seconds: knob('BENCH_SECONDS', 8, 1, 60),
  warmup_seconds: knob('BENCH_WARMUP_SECONDS', 3, 1, 30),
  concurrency: knob('BENCH_CONCURRENCY', 16, 1, 256),
  app: 'acme-search',
  method: 'GET',
  path: '/2/tweets/20',
};

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

function stopGroup(child, ms = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      resolve();
    }, ms);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    try { process.kill(-child.pid, 'SIGTERM'); } catch { clearTimeout(timer); resolve(); }
  });
}

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

function moduleSize() {
  const file = join(ROOT, 'build/index_bg.wasm');
  if (!existsSync(file)) throw new Error('build/index_bg.wasm is missing: run `make build` (make bench does)');
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
    const warmupEnd = performance.now() + 500;
    while (performance.now() < warmupEnd) time(fn, n);
    for (let i = 0; i < 20 && time(fn, n) < 100; i++) n *= 2;
    const perRound = [];
    for (let r = 0; r < 9; r++) perRound.push((time(fn, n) * 1e6) / n);
    return { ns: median(perRound), iterations_per_round: n, rounds_ns: perRound.map((x) => round(x, 1)) };
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

/** The pass-through baseline in `wrangler dev`, from a temporary copy of bench/baseline. */
async function startBaseline({ originUrl, signingKey }) {
  const dir = mkdtempSync(join(os.tmpdir(), 'tollgate-bench-baseline-'));
  copyFileSync(join(BENCH, 'baseline/worker.mjs'), join(dir, 'worker.mjs'));
  copyFileSync(join(BENCH, 'baseline/wrangler.toml'), join(dir, 'wrangler.toml'));
  const port = await freePort();
  const inspector = await freePort();
  // The same flags as the Tollgate stack (tests/harness.mjs), logging included.
  const args = ['dev', '--config', join(dir, 'wrangler.toml'), '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-port', String(inspector), '--persist-to', join(dir, 'state'),
    '--show-interactive-dev-session=false', '--log-level', 'log',
    '--var', `ORIGIN_URL:${originUrl}`, '--var', `CONTEXT_SIGNING_KEY:${signingKey}`];
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' };
  const child = spawn(WRANGLER, args, { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let tail = '';
  const keep = (d) => { tail = (tail + d).slice(-20_000); };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const stop = async () => {
    await stopGroup(child);
    children.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) { await stop(); throw new Error(`baseline wrangler dev exited:\n${tail}`); }
    try {
      await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) });
      break;
    } catch {
      if (Date.now() > deadline) { await stop(); throw new Error(`baseline did not answer in time:\n${tail}`); }
      await sleep(250);
    }
  }
  return { base, stop, logs: () => tail };
}

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

async function throughput() {
  const token = demoToken(CONFIG.app);
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
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
    say('starting the demo origin and Tollgate (wrangler dev)');
    // One retry: wrangler dev can exit at start when build/ is rewritten under it (a concurrent
    // `make build`, or its watcher rerunning the [build] command because src/ changed).
    for (let attempt = 1; !stack; attempt++) {
      try {
        stack = await startStack();
      } catch (e) {
        if (attempt >= 2) throw e;
        say(`Tollgate did not start (${e.message.split('\n')[0]}); trying once more`);
        await sleep(5000);
      }
    }
    say('starting the pass-through baseline (wrangler dev) in front of the same origin');
    baseline = await startBaseline({ originUrl: stack.originUrl, signingKey: stack.signingKey });
    const targets = {
      tollgate: `${stack.base}${CONFIG.path}`,
      baseline: `${baseline.base}${CONFIG.path}`,
    };
    await checkOnce('Tollgate', stack.base, headers);
    await checkOnce('baseline', baseline.base, headers);

    const load = (url, seconds) => runLoad({ url, headers, concurrency: CONFIG.concurrency, durationMs: seconds * 1000 });
    say(`warm-up: ${CONFIG.warmup_seconds} s each`);
    await load(targets.tollgate, CONFIG.warmup_seconds);
    await load(targets.baseline, CONFIG.warmup_seconds);
    await sleep(1000); // let the warm-up's wait_until work finish before the first snapshot
    const originBefore = await stack.originStats();

    // The worker's counters are per isolate and start from zero when wrangler dev reloads the
    // worker (it watches src/ for the [build] command). So they are read around every Tollgate
    // run, and only runs with no reload in between count: the worker must have counted exactly
    // the requests that were sent.
    const tollgateRun = async () => {
      const m0 = await workerMetrics(stack);
      const result = await load(targets.tollgate, CONFIG.seconds);
      await sleep(1000); // items are recorded in wait_until, after the response: let them land
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
      // Alternate the order (ABBA…) so drift and ordering effects fall on both sides alike.
      const order = r % 2 === 0 ? ['tollgate', 'baseline'] : ['baseline', 'tollgate'];
      const result = {};
      for (const name of order) {
        await sleep(500);
        result[name] = name === 'tollgate' ? await tollgateRun() : await load(targets.baseline, CONFIG.seconds);
      }
      const ratio = result.tollgate.rps / result.baseline.rps;
      rounds.push({ round: r + 1, ratio, tollgate: result.tollgate, baseline: result.baseline });
      const m = result.tollgate.worker_metrics;
      say(`round ${r + 1}/${CONFIG.rounds}: Tollgate ${result.tollgate.rps.toFixed(1)} req/s, `
        + `baseline ${result.baseline.rps.toFixed(1)} req/s, ratio ${ratio.toFixed(3)}; worker counted `
        + `${m.delta.requests} requests, ${m.delta.guard_calls} guard calls, ${m.delta.kv_reads} KV reads`
        + `${m.consistent ? '' : ' (INCONSISTENT: the worker was reloaded, or another isolate answered)'}`);
    }
    const originAfter = await stack.originStats();

    const counted = rounds.filter((r) => r.tollgate.worker_metrics.consistent);
    const sum = (key) => counted.reduce((n, r) => n + r.tollgate.worker_metrics.delta[key], 0);
    const logs = stack.logs();
    return {
      rounds,
      metrics: {
        rounds_counted: counted.length,
        rounds_total: rounds.length,
        delta: counted.length ? { requests: sum('requests'), kv_reads: sum('kv_reads'), guard_calls: sum('guard_calls') } : null,
      },
      reloads: (logs.match(/reload/gi) ?? []).length,
      origin: {
        served: originAfter.served - originBefore.served,
        refused: originAfter.refused - originBefore.refused,
      },
      logs: { tollgate: logs, baseline: baseline.logs() },
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
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => String(c ?? '').padEnd(widths[i])).join('  ').trimEnd();
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

async function main() {
  const started = performance.now();
  mkdirSync(OUT, { recursive: true });
  // Other work on the machine skews every figure here (2 cores): say so up front.
  const loadAtStart = os.loadavg();
  if (loadAtStart[0] > 0.5) {
    say(`note: the machine is already busy (load average ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}); `
      + 'figures will be noisier than on an idle machine');
  }
  if (!DEMO.apps.some((a) => a.record.app === CONFIG.app)) throw new Error(`demo/entitlements.json has no app ${CONFIG.app}`);
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
  const native = await attempt('native decision', nativeDecision);
  const wasm = await attempt('wasm decision', wasmDecision);
  const load = await attempt('throughput', throughput);

  const rounds = load?.rounds ?? [];
  const tollgateRps = median(rounds.map((r) => r.tollgate.rps));
  const baselineRps = median(rounds.map((r) => r.baseline.rps));
  const ratio = median(rounds.map((r) => r.ratio));
  const delta = load?.metrics.delta;
  const perRequest = (n) => (delta && delta.requests > 0 ? n / delta.requests : null);

  // Anything but 200 under load makes the throughput figures meaningless: say so, and fail.
  for (const r of rounds) {
    for (const side of ['tollgate', 'baseline']) {
      const x = r[side];
      const other = x.sent - x.ok;
      if (other > 0) failures.push(`round ${r.round} ${side}: ${other} of ${x.sent} requests were not 200 (${JSON.stringify(x.statuses)}, errors ${x.errors}${x.last_error ? `: ${x.last_error}` : ''})`);
    }
  }
  if (load && load.origin.refused > 0) failures.push(`the origin refused ${load.origin.refused} requests (bad context header)`);
  if (load) {
    const { rounds_counted: counted, rounds_total: total } = load.metrics;
    if (counted === 0) failures.push('no round had consistent worker counters (reloaded every time?): no per-request figures');
    else if (counted < total) {
      say(`note: ${total - counted} of ${total} rounds left out of the per-request counts (the worker was reloaded mid-round)`);
    }
    writeFileSync(join(OUT, 'tollgate-wrangler.log'), load.logs.tollgate);
    writeFileSync(join(OUT, 'baseline-wrangler.log'), load.logs.baseline);
  }
  const loadAfter = os.loadavg();

  const results = {
    // Strict mode: every allowed request is charged at the account's guard (a Durable Object).
    // Lease mode is not implemented yet, so `throughput_ratio` is the strict figure.
    throughput_ratio: round(ratio, 4),
    throughput_ratio_strict: round(ratio, 4),
    throughput_ratio_lease: null,
    lease_mode_implemented: false,
    mode: 'strict',
    tollgate_rps: round(tollgateRps, 1),
    baseline_rps: round(baselineRps, 1),
    p50_ms: round(median(rounds.map((r) => r.tollgate.p50_ms)), 2),
    p99_ms: round(median(rounds.map((r) => r.tollgate.p99_ms)), 2),
    baseline_p50_ms: round(median(rounds.map((r) => r.baseline.p50_ms)), 2),
    baseline_p99_ms: round(median(rounds.map((r) => r.baseline.p99_ms)), 2),
    do_calls_per_request: round(perRequest(delta?.guard_calls), 4),
    kv_reads_per_request: round(perRequest(delta?.kv_reads), 5),
    decision_ns_native: round(native?.decision_ns_native, 1),
    decide_only_ns_native: round(native?.decide_only_ns_native, 1),
    decision_ns_wasm: round(wasm?.decision_ns_wasm, 1),
    decide_only_ns_wasm: round(wasm?.decide_only_ns_wasm, 1),
    wasm_gzip_bytes: size?.wasm_gzip_bytes ?? null,
    wasm_raw_bytes: size?.wasm_raw_bytes ?? null,
    wasm_gzip_tool: size?.wasm_gzip_tool ?? null,
    // Lease mode does not exist yet: there is no overshoot to measure.
    overshoot_max: null,
    config: {
      ...CONFIG,
      request: `${CONFIG.method} ${CONFIG.path} with the demo token of ${CONFIG.app}, allowed, demo origin`,
      load_generator: 'bench/load.mjs: closed loop, node:http keep-alive agent, one socket per worker',
      statistics: 'medians over rounds; throughput_ratio is the median of per-round Tollgate/baseline ratios; '
        + 'p50/p99 are per-round nearest-rank percentiles of 200 responses, then the median over rounds',
      decision: 'token_from_header + Token::hash + decide on records decoded once (bench/decision/src/lib.rs); '
        + 'decide_only_* is decide alone; both built with the deployable profile (opt-level s, lto, codegen-units 1)',
    },
    rounds: rounds.map((r) => ({
      round: r.round,
      ratio: round(r.ratio, 4),
      tollgate: { ...r.tollgate, rps: round(r.tollgate.rps, 1), p50_ms: round(r.tollgate.p50_ms, 2), p90_ms: round(r.tollgate.p90_ms, 2), p99_ms: round(r.tollgate.p99_ms, 2), elapsed_s: round(r.tollgate.elapsed_s, 3) },
      baseline: { ...r.baseline, rps: round(r.baseline.rps, 1), p50_ms: round(r.baseline.p50_ms, 2), p90_ms: round(r.baseline.p90_ms, 2), p99_ms: round(r.baseline.p99_ms, 2), elapsed_s: round(r.baseline.elapsed_s, 3) },
    })),
    worker_metrics: load?.metrics ?? null,
    worker_reload_lines: load?.reloads ?? null,
    origin: load?.origin ?? null,
    wasm_timing: wasm?.wasm_timing ?? null,
    environment: { ...environment(), loadavg_at_start: loadAtStart.map((x) => round(x, 2)), loadavg_at_end: loadAfter.map((x) => round(x, 2)) },
    measured_at: new Date().toISOString(),
    duration_s: round((performance.now() - started) / 1000, 1),
    failures,
    reproduce: 'make bench',
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  const c = CONFIG;
  const rows = [
    ['metric', 'value', 'how'],
    ['throughput, Tollgate', `${fmt(results.tollgate_rps)} req/s`, `median of ${c.rounds} rounds × ${c.seconds} s, ${c.concurrency} keep-alive connections`],
    ['throughput, baseline', `${fmt(results.baseline_rps)} req/s`, 'pass-through worker (bench/baseline), same runtime, origin, load'],
    ['throughput_ratio_strict', fmt(results.throughput_ratio_strict, 3), 'median of per-round Tollgate / baseline'],
    ['throughput_ratio', fmt(results.throughput_ratio, 3), 'the strict figure: lease mode is not implemented yet'],
    ['p50_ms / p99_ms', `${fmt(results.p50_ms, 2)} / ${fmt(results.p99_ms, 2)}`, 'Tollgate, client-side, median over rounds'],
    ['baseline_p50_ms / p99_ms', `${fmt(results.baseline_p50_ms, 2)} / ${fmt(results.baseline_p99_ms, 2)}`, 'baseline, client-side, median over rounds'],
    ['do_calls_per_request', fmt(results.do_calls_per_request, 3), `every guard (DO) call the worker counted, on the path and in wait_until (${delta ? `${delta.guard_calls} / ${delta.requests}, ${load.metrics.rounds_counted} of ${load.metrics.rounds_total} rounds` : 'n/a'})`],
    ['kv_reads_per_request', fmt(results.kv_reads_per_request, 5), `KV reads / requests, same deltas (${delta ? `${delta.kv_reads} / ${delta.requests}` : 'n/a'}; isolate cache TTL 30 s)`],
    ['decision_ns_native', fmt(results.decision_ns_native), 'criterion median: token_from_header + hash + decide'],
    ['decide_only_ns_native', fmt(results.decide_only_ns_native), 'criterion median: decide alone'],
    ['decision_ns_wasm', fmt(results.decision_ns_wasm), 'wasm32 in Node (V8), median of 9 timed rounds'],
    ['decide_only_ns_wasm', fmt(results.decide_only_ns_wasm), 'wasm32 in Node (V8), decide alone'],
    ['wasm_gzip_bytes', fmt(results.wasm_gzip_bytes, 0), `${results.wasm_gzip_tool ?? 'gzip -9'} of build/index_bg.wasm (raw ${fmt(results.wasm_raw_bytes, 0)})`],
    ['overshoot_max', 'null', 'lease mode is not implemented yet: nothing to measure'],
  ];
  process.stdout.write(`\nTollgate benchmark, strict mode (${c.method} ${c.path}, demo token ${c.app}, demo origin)\n\n`);
  process.stdout.write(`${table(rows)}\n\n`);
  if (rounds.length) {
    const perRound = [['round', 'Tollgate req/s  p50/p99 ms', 'baseline req/s  p50/p99 ms  ratio']];
    for (const r of results.rounds) {
      perRound.push([String(r.round), `${fmt(r.tollgate.rps)}  ${fmt(r.tollgate.p50_ms, 2)}/${fmt(r.tollgate.p99_ms, 2)}`,
        `${fmt(r.baseline.rps)}  ${fmt(r.baseline.p50_ms, 2)}/${fmt(r.baseline.p99_ms, 2)}  ${fmt(r.ratio, 3)}`]);
    }
    process.stdout.write(`${table(perRound)}\n\n`);
  }
  process.stdout.write(`Written to bench/results.json in ${fmt(results.duration_s)} s. Reproduce with \`make bench\` `
    + '(knobs: BENCH_ROUNDS, BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONCURRENCY).\n');
  process.stdout.write(`Machine: ${results.environment.cpus} × ${results.environment.cpu_model}, node ${process.version}, `
    + `wrangler ${results.environment.wrangler}. Absolute req/s in wrangler dev are local figures; compare the ratios.\n`);
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
