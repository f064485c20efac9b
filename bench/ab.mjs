// `make bench-ab AB_REV=<revision>`: this checkout's build against another revision's, side by
// side in one run. A measurement, not a test.
//
// On this shared 2-core machine a figure measured one build after another moves more between
// runs than most changes move it (see the README's benchmark sections). This run puts the two
// builds on the machine at once and interleaves them: it checks the other revision out into a
// temporary git worktree, builds it there (its own `scripts/build.sh`; the cargo target
// directory is this checkout's, so only the crate itself compiles), starts both stacks (the demo
// origin and `wrangler dev`, each from its own tree, through that tree's own tests/harness.mjs),
// then alternates between them:
//
//   api      the API plan of `make bench` in lease mode (app and account windows, a monthly cap,
//            a recipient in ids_only), closed-loop at BENCH_CONCURRENCY connections, in
//            AB_SLICES slices of AB_SLICE_SECONDS each per build, the order alternating;
//   stream   AB_STREAMS streams of AB_STREAM_LINES lines per build (the plan of
//            `make bench-stream`), alternating, each after the machine is idle.
//
// For each build: requests, the median slice's req/s, p50 and p99, the CPU of its workerd
// (the one running the workers) per request, the machine's CPU per request (every process the run
// started, both builds' included: what throughput on two cores follows), and guard calls per
// request (the worker's own counters); lines per second, and workerd's and the machine's CPU per
// line of the streams. Slice by slice (stream by stream) the ratio of this build to the other,
// and its median. `AB_REV=HEAD` on a clean checkout compares a build with itself: what the
// method cannot resolve. Writes bench/ab.json.
//
// Both builds run with `wrangler dev`'s network inspection off, as `make bench` does (a deployed
// worker has none; bench/common.mjs `networkInspection`), unless AB_NETWORK_INSPECTION=on.
//
// Knobs (environment): AB_REV (required), AB_SLICES (10), AB_SLICE_SECONDS (3), AB_STREAMS (8),
// AB_STREAM_LINES (1000000), BENCH_CONCURRENCY (16), AB_NETWORK_INSPECTION (off). Every child
// process is started here, each in its own process group, and stopped by its pid; the worktree is
// removed at the end.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import * as here from '../tests/harness.mjs';
import { cpuMs, cpuMsOf, descendants, knob, networkInspection, onOffKnob, processTable } from './common.mjs';
import { runLoad } from './load.mjs';

const { ROOT } = here;
const RESULTS = join(ROOT, 'bench/ab.json');
const CONFIG = {
  rev: process.env.AB_REV ?? '',
  slices: knob('AB_SLICES', 10, 1, 100),
  slice_seconds: knob('AB_SLICE_SECONDS', 3, 1, 30),
  streams: knob('AB_STREAMS', 8, 0, 50),
  stream_lines: knob('AB_STREAM_LINES', 1_000_000, 1_000, 10_000_000),
  concurrency: knob('BENCH_CONCURRENCY', 16, 1, 256),
  network_inspection: onOffKnob('AB_NETWORK_INSPECTION', 'off'),
};
const STREAM_PATH = '/2/tweets/search/stream';
const RECIPIENT = 'bench-client';
const ROOMY = 100_000_000;
const WINDOW_SECONDS = 2_678_400;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (text) => process.stdout.write(`bench ab: ${text}\n`);
const round = (x, digits = 0) => Number(x.toFixed(digits));
const median = (values) => {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** The API plan of `make bench` and the stream plan of `make bench-stream`, one token each. */
function seeded(h) {
  const lookup = [{ method: 'GET', path: '/2/tweets/:id', group: 'lookup' }];
  const apiPlan = {
    v: 1, id: 'ab-api', endpoints: [{ method: 'GET', path: '/2/tweets', group: 'lookup' }, ...lookup],
    limits: ['app', 'account'].map((scope) => ({ group: 'lookup', scope, requests: ROOMY, window_seconds: WINDOW_SECONDS, mode: 'lease' })),
    monthly_item_cap: ROOMY,
  };
  const streamPlan = {
    v: 1, id: 'ab-stream', endpoints: [{ method: 'GET', path: STREAM_PATH, group: 'stream', stream: true }],
    limits: [{ group: 'stream', scope: 'app', requests: 1_000_000, window_seconds: WINDOW_SECONDS }],
  };
  const useCases = [{ id: 'bench', status: 'approved' }];
  const apiAccount = {
    v: 1, id: 'ab-api', name: 'ab-api', plan: 'ab-api', status: 'active', use_cases: useCases,
    redistribution: { serves_recipients: true, mode: 'ids_only', ids_per_entity_30d: ROOMY, recipients: [{ id: RECIPIENT, class: 'commercial', entity: 'bench-entity', approval: 'approved' }] },
  };
  const streamAccount = { v: 1, id: 'ab-stream', name: 'ab-stream', plan: 'ab-stream', status: 'active', use_cases: useCases };
  const tokens = { api: h.newToken(), stream: h.newToken() };
  const app = (account) => ({ v: 1, account, app: `${account}-app`, status: 'active', use_case: 'bench' });
  const records = [
    ['plan:ab-api', apiPlan], ['account:ab-api', apiAccount], [`token:${h.tokenHash(tokens.api)}`, app('ab-api')],
    ['plan:ab-stream', streamPlan], ['account:ab-stream', streamAccount], [`token:${h.tokenHash(tokens.stream)}`, app('ab-stream')],
  ];
  return { tokens, entries: records.map(([key, value]) => ({ key: `tollgate:v1:${key}`, value: JSON.stringify(value) })) };
}

/** Checks `rev` out into a temporary worktree and builds it there; returns its directory. */
function checkout(rev, dir) {
  execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', dir, rev], { stdio: 'inherit' });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  say(`building ${rev} in ${dir}`);
  execFileSync('bash', ['scripts/build.sh'], { cwd: dir, stdio: 'inherit', env: { ...process.env, TOLLGATE_PREBUILT: '', CARGO_TARGET_DIR: join(ROOT, 'target') } });
}

/** The worker's own counters (requests, guard calls), from the admin API. */
async function counters(stack) {
  const res = await fetch(`${stack.base}/_tollgate/admin/v1/metrics`, { headers: { authorization: `Bearer ${stack.adminSecret}` }, signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`admin metrics answered ${res.status}`);
  return res.json();
}

/** Reads a stream to its end: its lines and the ms from the first line to the last. */
function readStream(url, token) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      let lines = 0;
      let first = null;
      let last = null;
      res.on('data', (chunk) => {
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
        if (lines > 0) {
          last = performance.now();
          first ??= last;
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, lines, ms: last === null ? null : last - first }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(600_000, () => req.destroy(new Error('stream read timed out')));
  });
}

/**
 * CPU of every process this run started (both builds' stacks and origins; not the load
 * generator, which is this process), in ms: what the two cores spend, which throughput follows.
 */
function machineMs() {
  return cpuMsOf(descendants(process.pid, processTable()));
}

/** Waits until every process this run started is idle (under one 10 ms tick in 500 ms), at most 15 s. */
async function settle() {
  const deadline = Date.now() + 15_000;
  for (let before = machineMs(); Date.now() < deadline;) {
    await sleep(500);
    const now = machineMs();
    if (now - before <= 10) return;
    before = now;
  }
}

async function main() {
  if (!CONFIG.rev) throw new Error('AB_REV must name the revision to compare with (for example AB_REV=HEAD~1)');
  const sha = execFileSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${CONFIG.rev}^{commit}`], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
  const dir = join(mkdtempSync(join(os.tmpdir(), 'tollgate-ab-')), 'tree');
  const sides = {};
  const stopAll = async () => {
    await Promise.allSettled(Object.values(sides).map((s) => s.stack.stop()));
    try { execFileSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' }); } catch { /* not made */ }
    rmSync(join(dir, '..'), { recursive: true, force: true });
  };
  const onSignal = async (sig) => { say(`${sig}: stopping what this run started`); await stopAll(); process.exit(130); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    checkout(sha, dir);
    const other = await import(pathToFileURL(join(dir, 'tests/harness.mjs')).href);
    const builds = [['this', here, `this checkout (${execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()}${dirty ? ' with its changes' : ''})`], ['other', other, `${CONFIG.rev} (${sha.slice(0, 7)})`]];
    for (const [name, h, label] of builds) {
      say(`starting ${label}`);
      const seed = seeded(h);
      const before = new Set(descendants(process.pid, processTable()));
      const stack = await h.startStack({ entries: seed.entries });
      const table = processTable();
      const port = new URL(stack.base).port;
      const runner = descendants(process.pid, table).filter((pid) => !before.has(pid) && table.get(pid).name === 'workerd' && !table.get(pid).cmdline.includes(`entry=127.0.0.1:${port} `));
      if (runner.length !== 1) throw new Error(`expected one workerd running ${label}'s workers, found ${runner.length}`);
      // Its devtools port, from its wrangler's command line (an older revision's harness does not
      // return it): network inspection off, as in `make bench`, unless AB_NETWORK_INSPECTION=on.
      const wrangler = descendants(process.pid, table).find((pid) => !before.has(pid) && table.get(pid).cmdline.includes(`--port ${port} `) && table.get(pid).cmdline.includes('--inspector-port '));
      const inspectorPort = Number(table.get(wrangler ?? -1)?.cmdline.match(/--inspector-port (\d+)/)?.[1]);
      if (!inspectorPort) throw new Error(`no devtools port found for ${label}'s wrangler dev`);
      await networkInspection(inspectorPort, CONFIG.network_inspection === 'on');
      await fetch(`${stack.originUrl}/__origin/stream`, { method: 'POST', body: JSON.stringify({ rate: 1_000_000, lines: CONFIG.stream_lines }) });
      sides[name] = { label, stack, tokens: seed.tokens, runner, api: { ok: 0, cpu: 0, machine: 0, guard: 0, slices: [] }, stream: { streams: [] } };
    }

    let n = 0;
    const pathOf = () => `/2/tweets/${7 * (++n) + 1}`;
    const load = (s, seconds) => runLoad({
      url: `${s.stack.base}/2/tweets/20`, pathOf, concurrency: CONFIG.concurrency, durationMs: seconds * 1000,
      headers: { authorization: `Bearer ${s.tokens.api}`, accept: 'application/json', 'x-tollgate-recipient': RECIPIENT },
    });
    for (const s of Object.values(sides)) {
      const r = await load(s, 3);
      if (r.ok === 0) throw new Error(`${s.label}: no 200 in the warm-up (${JSON.stringify(r.statuses)})`);
    }
    for (const s of Object.values(sides)) s.api.counted = await counters(s.stack);
    const order = (i) => (i % 2 ? ['other', 'this'] : ['this', 'other']);
    say(`API plan: ${CONFIG.slices} slices of ${CONFIG.slice_seconds} s per build, interleaved`);
    for (let i = 0; i < CONFIG.slices; i++) {
      for (const name of order(i)) {
        const s = sides[name];
        await sleep(300);
        const c0 = cpuMs(s.runner[0]);
        const m0 = machineMs();
        const r = await load(s, CONFIG.slice_seconds);
        s.api.ok += r.ok;
        s.api.cpu += cpuMs(s.runner[0]) - c0;
        s.api.machine += machineMs() - m0;
        s.api.slices.push({ rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms, ok: r.ok, errors: r.errors });
      }
    }
    // Guard calls over the whole phase, once the last leases have settled (2 s after their grant).
    await sleep(3000);
    for (const s of Object.values(sides)) {
      const m = await counters(s.stack);
      s.api.guard = m.guard_calls - s.api.counted.guard_calls;
      s.api.requests_counted = m.requests - s.api.counted.requests;
    }
    if (CONFIG.streams > 0) say(`streams: ${CONFIG.streams} of ${CONFIG.stream_lines} lines per build, interleaved`);
    for (let i = 0; i < CONFIG.streams; i++) {
      for (const name of order(i)) {
        const s = sides[name];
        await settle();
        const c0 = cpuMs(s.runner[0]);
        const m0 = machineMs();
        const r = await readStream(`${s.stack.base}${STREAM_PATH}`, s.tokens.stream);
        if (r.status !== 200 || r.lines !== CONFIG.stream_lines) throw new Error(`${s.label}: stream answered ${r.status} with ${r.lines} lines`);
        s.stream.streams.push({
          lines_per_s: r.lines / (r.ms / 1000),
          cpu_us_per_line: ((cpuMs(s.runner[0]) - c0) * 1000) / r.lines,
          machine_cpu_us_per_line: ((machineMs() - m0) * 1000) / r.lines,
        });
      }
    }

    const summary = Object.fromEntries(Object.entries(sides).map(([name, s]) => [name, {
      build: s.label,
      api: {
        requests: s.api.ok,
        rps_median_slice: round(median(s.api.slices.map((x) => x.rps)), 1),
        p50_ms_median_slice: round(median(s.api.slices.map((x) => x.p50_ms)), 1),
        p99_ms_median_slice: round(median(s.api.slices.map((x) => x.p99_ms)), 1),
        workerd_cpu_us_per_request: round((s.api.cpu * 1000) / s.api.ok),
        machine_cpu_us_per_request: round((s.api.machine * 1000) / s.api.ok),
        guard_calls_per_request: round(s.api.guard / s.api.requests_counted, 4),
        slices: s.api.slices,
      },
      stream: s.stream.streams.length === 0 ? null : {
        lines_per_s_median: round(median(s.stream.streams.map((x) => x.lines_per_s))),
        workerd_cpu_us_per_line_median: round(median(s.stream.streams.map((x) => x.cpu_us_per_line)), 2),
        machine_cpu_us_per_line_median: round(median(s.stream.streams.map((x) => x.machine_cpu_us_per_line)), 2),
        streams: s.stream.streams.map((x) => ({ lines_per_s: round(x.lines_per_s), cpu_us_per_line: round(x.cpu_us_per_line, 2), machine_cpu_us_per_line: round(x.machine_cpu_us_per_line, 2) })),
      },
    }]));
    const rpsPairs = sides.this.api.slices.map((x, i) => x.rps / sides.other.api.slices[i].rps);
    // Stream by stream, one figure of this build over the other's.
    const streamPairs = (figure) => sides.this.stream.streams.map((x, i) => x[figure] / sides.other.stream.streams[i][figure]);
    const linePairs = streamPairs('lines_per_s');
    const pairsMedian = (pairs) => (pairs.length ? round(median(pairs), 3) : null);
    const result = {
      at: new Date().toISOString(),
      config: CONFIG,
      this: summary.this,
      other: summary.other,
      this_over_other: {
        api_rps_by_slice: rpsPairs.map((x) => round(x, 3)),
        api_rps_median: round(median(rpsPairs), 3),
        api_workerd_cpu_per_request: round(summary.this.api.workerd_cpu_us_per_request / summary.other.api.workerd_cpu_us_per_request, 3),
        api_machine_cpu_per_request: round(summary.this.api.machine_cpu_us_per_request / summary.other.api.machine_cpu_us_per_request, 3),
        stream_lines_per_s_by_stream: linePairs.map((x) => round(x, 3)),
        stream_lines_per_s_median: pairsMedian(linePairs),
        stream_workerd_cpu_per_line_median: pairsMedian(streamPairs('cpu_us_per_line')),
        stream_machine_cpu_per_line_median: pairsMedian(streamPairs('machine_cpu_us_per_line')),
      },
      reproduce: `AB_REV=${CONFIG.rev} make bench-ab`,
    };
    writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
    const rows = [['build', 'req/s (median slice)', 'p50 ms', 'p99 ms', 'workerd µs/req', 'machine µs/req', 'guard calls/req', 'stream lines/s', 'workerd µs/line', 'machine µs/line']];
    for (const name of ['this', 'other']) {
      const f = summary[name];
      rows.push([f.build, f.api.rps_median_slice, f.api.p50_ms_median_slice, f.api.p99_ms_median_slice, f.api.workerd_cpu_us_per_request, f.api.machine_cpu_us_per_request,
        f.api.guard_calls_per_request, f.stream?.lines_per_s_median ?? '-', f.stream?.workerd_cpu_us_per_line_median ?? '-', f.stream?.machine_cpu_us_per_line_median ?? '-']);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => String(row[c]).length)));
    for (const row of rows) say(row.map((cell, c) => String(cell).padEnd(widths[c])).join('  '));
    const t = result.this_over_other;
    say(`this over other, API plan req/s slice by slice: ${t.api_rps_by_slice.join(' ')} (median ${t.api_rps_median}); workerd CPU a request ${t.api_workerd_cpu_per_request}, the machine's ${t.api_machine_cpu_per_request}`);
    if (linePairs.length) say(`this over other, stream lines/s stream by stream: ${t.stream_lines_per_s_by_stream.join(' ')} (median ${t.stream_lines_per_s_median}); workerd CPU a line ${t.stream_workerd_cpu_per_line_median}, the machine's ${t.stream_machine_cpu_per_line_median}`);
    say(`written to ${RESULTS}`);
    return 0;
  } finally {
    await stopAll();
  }
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`bench ab: ${e.stack ?? e}\n`);
  process.exit(1);
});
