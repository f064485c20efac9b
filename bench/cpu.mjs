// `make bench-cpu`: where a request's CPU goes, process by process. A benchmark, not a test.
//
// The throughput ratio of `make bench` compares req/s measured one target after the other, and on
// this shared 2-core machine the speed drifts between runs (a pass-through round can run 30 %
// faster than the one before). CPU time per request drifts less, and it says where the cost is:
// this run starts the demo origin, Tollgate and the pass-through baseline (bench/baseline), all in
// `wrangler dev` as `make bench` does, and drives the targets in short interleaved slices (the
// order rotates each slice) with the same closed-loop load. Around each slice it reads the CPU
// time (`/proc/<pid>/stat`) of every process it started, and sums per target:
//
//   runner   the workerd that runs the workers (Tollgate: the enforcer, the control plane and its
//            guards, in one process),
//   proxy    wrangler dev's own workerd in front of it (its proxy and its inspector proxy),
//   node     wrangler dev's node process (it receives the inspector's events and the logs),
//   origin   the demo origin,
//   load     this process: the load generator, the same closed loop for every target.
//
// Targets: the API plan in lease mode, windows only in lease mode and in strict mode (the plans of
// `make bench`, seeded here), the baseline, and the same pass-through written in Rust and built
// with the enforcer's toolchain (bench/baseline-wasm, `baseline_wasm`: what being a wasm worker
// costs by itself, built here before the run). Strict mode makes two guard calls a request and
// lease mode about one in fifty, so the strict figures minus the windows-only ones, halved, are
// what one guard call costs each process.
//
// Knobs (environment): BENCH_CPU_SLICES (12 per target), BENCH_CPU_SLICE_SECONDS (2),
// BENCH_CONCURRENCY (16), BENCH_NETWORK_INSPECTION (off, as in `make bench`), BENCH_CPU_TARGETS
// (api,lease,strict,baseline_wasm,baseline; the baseline is always measured). Writes
// bench/cpu.json. Every child process is started here, in its own process group, and stopped by
// its pid.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT, newToken, startStack, tokenHash } from '../tests/harness.mjs';
import { buildWasmBaseline, cpuMsOf, descendants, knob, networkInspection, onOffKnob, processTable, rolesOf, startBaseline, stopGroup, wranglerOn } from './common.mjs';
import { runLoad } from './load.mjs';

const RESULTS = join(ROOT, 'bench/cpu.json');

const CONFIG = {
  slices: knob('BENCH_CPU_SLICES', 12, 1, 100),
  slice_seconds: knob('BENCH_CPU_SLICE_SECONDS', 2, 1, 30),
  concurrency: knob('BENCH_CONCURRENCY', 16, 1, 256),
  network_inspection: onOffKnob('BENCH_NETWORK_INSPECTION', 'off'),
  targets: targetsKnob(process.env.BENCH_CPU_TARGETS || 'api,lease,strict,baseline_wasm,baseline'),
};
/** The targets to measure, in the order given; the baseline is always among them. */
function targetsKnob(raw) {
  const known = ['api', 'lease', 'strict', 'baseline_wasm', 'baseline'];
  const names = raw.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = names.filter((x) => !known.includes(x));
  if (unknown.length > 0) throw new Error(`BENCH_CPU_TARGETS: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return names.includes('baseline') ? names : [...names, 'baseline'];
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (text) => process.stdout.write(`bench cpu: ${text}\n`);

// The plans of `make bench` (bench/run.mjs): limits and caps far too big to bind.
const ROOMY = 100_000_000;
const WINDOW_SECONDS = 2_678_400;
const RECIPIENT = 'bench-client';
function seeded() {
  const lookup = [{ method: 'GET', path: '/2/tweets/:id', group: 'lookup' }];
  const plan = (id, mode) => ({ v: 1, id, endpoints: lookup, limits: [{ group: 'lookup', scope: 'account', requests: ROOMY, window_seconds: WINDOW_SECONDS, mode }] });
  const apiPlan = {
    v: 1, id: 'bench-api', endpoints: [{ method: 'GET', path: '/2/tweets', group: 'lookup' }, ...lookup],
    limits: ['app', 'account'].map((scope) => ({ group: 'lookup', scope, requests: ROOMY, window_seconds: WINDOW_SECONDS, mode: 'lease' })),
    monthly_item_cap: ROOMY,
  };
  const account = (id) => ({ v: 1, id, name: id, plan: id, status: 'active', use_cases: [{ id: 'bench', status: 'approved' }] });
  const apiAccount = {
    ...account('bench-api'),
    redistribution: { serves_recipients: true, mode: 'ids_only', ids_per_entity_30d: ROOMY, recipients: [{ id: RECIPIENT, class: 'commercial', entity: 'bench-entity', approval: 'approved' }] },
  };
  const app = (acct) => ({ v: 1, account: acct, app: `${acct}-app`, status: 'active', use_case: 'bench' });
  const tokens = { api: newToken(), lease: newToken(), strict: newToken() };
  const records = [
    ['plan:bench-api', apiPlan], ['account:bench-api', apiAccount], [`token:${tokenHash(tokens.api)}`, app('bench-api')],
    ['plan:bench-lease', plan('bench-lease', 'lease')], ['account:bench-lease', account('bench-lease')], [`token:${tokenHash(tokens.lease)}`, app('bench-lease')],
    ['plan:bench-strict', plan('bench-strict', 'strict')], ['account:bench-strict', account('bench-strict')], [`token:${tokenHash(tokens.strict)}`, app('bench-strict')],
  ];
  return { tokens, entries: records.map(([key, value]) => ({ key: `tollgate:v1:${key}`, value: JSON.stringify(value) })) };
}

// ---------------------------------------------------------------------------------------------

const round = (x, digits = 0) => Number(x.toFixed(digits));

const children = new Set();

async function main() {
  const seed = seeded();
  let stack;
  let baseline;
  let wasmBaseline;
  const stopAll = async () => { await Promise.allSettled([baseline?.stop(), wasmBaseline?.stop(), stack?.stop(), ...[...children].map((c) => stopGroup(c))]); };
  const onSignal = async (sig) => { say(`${sig}: stopping what this run started`); await stopAll(); process.exit(130); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    say('starting the demo origin and Tollgate (wrangler dev), with the benchmark plans seeded');
    stack = await startStack({ entries: seed.entries });
    say('starting the pass-through baseline (wrangler dev) in front of the same origin');
    baseline = await startBaseline({ originUrl: stack.originUrl, signingKey: stack.signingKey, children });
    if (CONFIG.targets.includes('baseline_wasm')) {
      say('building and starting the same pass-through in wasm (bench/baseline-wasm)');
      buildWasmBaseline();
      wasmBaseline = await startBaseline({ originUrl: stack.originUrl, signingKey: stack.signingKey, children, wasm: true });
    }
    // As in `make bench`: the runtime's network inspection off on both sides, unless asked for.
    const inspect = CONFIG.network_inspection === 'on';
    await Promise.all([stack, baseline, wasmBaseline].filter(Boolean).map((side) => networkInspection(side.inspectorPort, inspect)));
    say(`network inspection ${CONFIG.network_inspection} on every side`);
    const tollgatePort = Number(new URL(stack.base).port);
    const table = processTable();
    const originPid = descendants(process.pid, table).find((pid) => table.get(pid).cmdline.includes('demo/origin.mjs'));
    const sides = { tollgate: rolesOf(wranglerOn(tollgatePort), tollgatePort), baseline: rolesOf(baseline.pid, baseline.port) };
    if (wasmBaseline) sides.baseline_wasm = rolesOf(wasmBaseline.pid, wasmBaseline.port);
    const headers = (token) => ({ authorization: `Bearer ${token}`, accept: 'application/json' });
    const targets = {
      api: { side: 'tollgate', url: `${stack.base}/2/tweets/20`, headers: { ...headers(seed.tokens.api), 'x-tollgate-recipient': RECIPIENT } },
      lease: { side: 'tollgate', url: `${stack.base}/2/tweets/20`, headers: headers(seed.tokens.lease) },
      strict: { side: 'tollgate', url: `${stack.base}/2/tweets/20`, headers: headers(seed.tokens.strict) },
      baseline: { side: 'baseline', url: `${baseline.base}/2/tweets/20`, headers: headers(seed.tokens.lease) },
    };
    if (wasmBaseline) targets.baseline_wasm = { side: 'baseline_wasm', url: `${wasmBaseline.base}/2/tweets/20`, headers: headers(seed.tokens.lease) };
    // Every request asks for another post, as in `make bench`.
    let n = 0;
    const pathOf = () => `/2/tweets/${7 * (++n) + 1}`;
    const load = (t, seconds) => runLoad({ url: t.url, headers: t.headers, pathOf, concurrency: CONFIG.concurrency, durationMs: seconds * 1000 });
    for (const [name, t] of Object.entries(targets)) {
      const r = await load(t, 3);
      if (r.ok === 0) throw new Error(`${name}: no 200 in the warm-up (${JSON.stringify(r.statuses)})`);
    }
    const names = Object.keys(targets).filter((name) => CONFIG.targets.includes(name));
    const sum = Object.fromEntries(names.map((name) => [name, { ok: 0, runner: 0, proxy: 0, node: 0, origin: 0, load: 0, rps: [] }]));
    say(`${CONFIG.slices} slices of ${CONFIG.slice_seconds} s per target, interleaved`);
    for (let slice = 0; slice < CONFIG.slices; slice++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + slice) % names.length];
        const t = targets[name];
        const roles = sides[t.side];
        await sleep(300);
        const before = { runner: cpuMsOf(roles.runner), proxy: cpuMsOf(roles.proxy), node: cpuMsOf(roles.node), origin: cpuMsOf([originPid]), load: process.cpuUsage() };
        const r = await load(t, CONFIG.slice_seconds);
        const s = sum[name];
        s.ok += r.ok;
        s.rps.push(r.rps);
        s.runner += cpuMsOf(roles.runner) - before.runner;
        s.proxy += cpuMsOf(roles.proxy) - before.proxy;
        s.node += cpuMsOf(roles.node) - before.node;
        s.origin += cpuMsOf([originPid]) - before.origin;
        const used = process.cpuUsage(before.load);
        s.load += (used.user + used.system) / 1000;
      }
    }
    const perRequest = (s, key) => round((s[key] * 1000) / s.ok);
    const median = (v) => { const sorted = [...v].sort((a, b) => a - b); return sorted[Math.floor(sorted.length / 2)]; };
    const figures = Object.fromEntries(names.map((name) => {
      const s = sum[name];
      const f = { requests: s.ok, rps_median_slice: round(median(s.rps), 1) };
      for (const key of ['runner', 'proxy', 'node', 'origin', 'load']) f[`${key}_us`] = perRequest(s, key);
      f.total_us = f.runner_us + f.proxy_us + f.node_us + f.origin_us + f.load_us;
      return [name, f];
    }));
    const b = figures.baseline;
    const ratios = Object.fromEntries(names.filter((n) => n !== 'baseline').map((name) => [name, {
      runner: round(figures[name].runner_us / b.runner_us, 3),
      total: round(figures[name].total_us / b.total_us, 3),
      cpu_throughput_ratio: round(b.total_us / figures[name].total_us, 3),
    }]));
    const guardCall = figures.strict && figures.lease
      ? Object.fromEntries(['runner', 'proxy', 'node'].map((key) => [`${key}_us`, round((figures.strict[`${key}_us`] - figures.lease[`${key}_us`]) / 2)]))
      : null;
    const result = {
      at: new Date().toISOString(),
      config: CONFIG,
      per_request: figures,
      against_baseline: ratios,
      one_guard_call_from_strict: guardCall,
      reproduce: 'make bench-cpu',
    };
    writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
    const rows = [['target', 'req/s (median slice)', 'runner µs', 'proxy µs', 'node µs', 'origin µs', 'load µs', 'total µs', 'runner / baseline', 'baseline total / total']];
    for (const name of names) {
      const f = figures[name];
      const r = ratios[name];
      rows.push([name, f.rps_median_slice, f.runner_us, f.proxy_us, f.node_us, f.origin_us, f.load_us, f.total_us, r ? r.runner : 1, r ? r.cpu_throughput_ratio : 1]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => String(row[c]).length)));
    for (const row of rows) console.log(row.map((cell, c) => String(cell).padEnd(widths[c])).join('  '));
    if (guardCall) console.log(`one guard call (strict minus windows only, halved): runner ${guardCall.runner_us} µs, proxy ${guardCall.proxy_us} µs, node ${guardCall.node_us} µs`);
    console.log(`Written to bench/cpu.json. CPU per request of each process; 'baseline total / total' is the throughput ratio the CPU alone allows.`);
  } finally {
    await stopAll();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
