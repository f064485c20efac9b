// `make bench`, the stream figure: one stream endpoint through Tollgate and through the
// pass-through baseline worker (bench/baseline), side by side in one run, both in `wrangler dev`
// in front of the same demo origin. Writes bench/stream.json and prints a table. A benchmark,
// not a test.
//
// `wrangler dev` turns on the runtime's network inspection for its devtools, which a deployed
// worker does not have: the runtime then reports every read of a subrequest's body to wrangler
// as a devtools event, and hands a script's reads of that body over 4 KiB at a time. Steps 1 to 3
// run with it off on both sides (turned off through each `wrangler dev`'s devtools port, as a
// devtools client would); step 4 measures the lines per second again with it on.
//
// 1. First-line latency: a stream request, until its first whole line; BENCH_STREAM_TRIALS each,
//    Tollgate and the baseline alternating. The median.
// 2. Lines per second: BENCH_STREAM_ROUNDS rounds, each a stream of BENCH_STREAM_LINES lines
//    through each target (the order alternating), the origin sending as fast as the reader takes
//    them (it writes under backpressure, at most 64 KiB a write). Before each stream, the run
//    waits for every process it started to be idle, so what one stream leaves behind does not
//    slow the next. Per round, Tollgate's lines/s over the baseline's; the median ratio (goal
//    >= 0.90). Per round and side, the CPU a line costs each process of its `wrangler dev`: the
//    workerd running the worker, wrangler's proxy workerd and wrangler's node.
// 3. One long stream through Tollgate, BENCH_STREAM_LONG_LINES (1,000,000) lines, with the RSS of
//    the workerd process serving it (found under this process in /proc: the bench starts it)
//    sampled every 250 ms: idle before, as each tenth of the stream passes, and the peak (goal:
//    flat). Then the account's ledger items against the lines the origin sent (goal: equal).
// 4. Lines per second as in step 2, with network inspection on: BENCH_STREAM_ROUNDS rounds of
//    BENCH_STREAM_INSPECTED_LINES lines.
//
// Every child process is started here (through tests/harness.mjs for Tollgate), in its own
// process group, and stopped by its pid.
//
// Knobs (environment): BENCH_STREAM_TRIALS (15), BENCH_STREAM_ROUNDS (9), BENCH_STREAM_LINES
// (1000000), BENCH_STREAM_LONG_LINES (1000000), BENCH_STREAM_INSPECTED_LINES (100000).
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';

import { ROOT, newToken, startStack, tokenHash } from '../tests/harness.mjs';
import { cpuMs, cpuMsOf, descendants, knob, networkInspection, processTable, rolesOf, startBaseline, stopGroup, wranglerOn } from './common.mjs';

const BENCH = join(ROOT, 'bench');
const RESULTS = join(BENCH, 'stream.json');
const PATH = '/2/tweets/search/stream';
// Lines a second the origin is asked for: more than either worker carries, so the reader's pace
// (backpressure) sets the rate, not the origin's clock.
const ORIGIN_RATE = 1_000_000;
// The processes whose CPU each round measures, per side (see `rolesOf`).
const ROLES = ['runner', 'proxy', 'node'];

const CONFIG = {
  trials: knob('BENCH_STREAM_TRIALS', 15, 1, 100),
  rounds: knob('BENCH_STREAM_ROUNDS', 9, 1, 15),
  lines: knob('BENCH_STREAM_LINES', 1_000_000, 1_000, 10_000_000),
  inspected_lines: knob('BENCH_STREAM_INSPECTED_LINES', 100_000, 1_000, 10_000_000),
  long_lines: knob('BENCH_STREAM_LONG_LINES', 1_000_000, 1_000, 100_000_000),
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (text) => process.stdout.write(`bench stream: ${text}\n`);
const round = (x, digits) => (x === null || x === undefined ? null : Number(x.toFixed(digits)));

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// ---------------------------------------------------------------------------------------------
// What is seeded: a plan with the stream endpoint and a window that never binds, no monthly cap,
// no recipient (the common case), and one account per phase, so each ledger holds one phase.

function seeded() {
  const plan = {
    v: 1, id: 'bench-stream',
    endpoints: [{ method: 'GET', path: PATH, group: 'stream', stream: true }],
    limits: [{ group: 'stream', scope: 'app', requests: 1_000_000, window_seconds: 2_678_400 }],
  };
  const accounts = ['bench-stream-first', 'bench-stream-rate', 'bench-stream-long'];
  const tokens = Object.fromEntries(accounts.map((a) => [a, newToken()]));
  const useCases = [{ id: 'bench', status: 'approved' }];
  const entries = [
    { key: 'tollgate:v1:plan:bench-stream', value: JSON.stringify(plan) },
    ...accounts.map((id) => ({ key: `tollgate:v1:account:${id}`, value: JSON.stringify({ v: 1, id, name: id, plan: 'bench-stream', status: 'active', use_cases: useCases }) })),
    ...accounts.map((id) => ({
      key: `tollgate:v1:token:${tokenHash(tokens[id])}`,
      value: JSON.stringify({ v: 1, account: id, app: `${id}-app`, status: 'active', use_case: 'bench' }),
    })),
  ];
  return { entries, tokens };
}

// ---------------------------------------------------------------------------------------------
// Processes: the baseline's wrangler dev (Tollgate's is the harness's), found in /proc.

const children = new Set();

/**
 * Waits until every process this run started is idle (together under 10 ms of CPU in 500 ms,
 * one kernel tick), at most `maxMs`: what a stream leaves behind (its last report, the guard's
 * work, a collector) must not slow the next one down, or the order of the targets would decide
 * the ratio.
 */
async function settle(maxMs = 15_000) {
  const deadline = Date.now() + maxMs;
  const total = () => {
    let sum = 0;
    for (const pid of descendants(process.pid, processTable())) {
      try { sum += cpuMs(pid); } catch { /* gone meanwhile */ }
    }
    return sum;
  };
  for (let before = total(); Date.now() < deadline;) {
    await sleep(500);
    const now = total();
    if (now - before <= 10) return;
    before = now;
  }
}

/** Resident memory of a process, in MB. */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1]);
  return round(kb / 1024, 1);
}

// ---------------------------------------------------------------------------------------------
// Reading a stream: node:http, counting line ends as the bytes come.

/**
 * Reads a stream to its end (or `stopAfterLines`): its status, the time to the first whole line,
 * the lines, and the time from the first line to the last.
 */
function readStream(url, token, { stopAfterLines = Infinity } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - started) / 1e6;
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      let lines = 0;
      let first = null;
      let last = null;
      let bytes = 0;
      const done = () => resolve({ status: res.statusCode, first_line_ms: first, lines, bytes, lines_ms: last === null ? null : last - first });
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', done);
        return;
      }
      res.on('data', (chunk) => {
        bytes += chunk.length;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
        if (lines > 0) {
          last = ms();
          if (first === null) first = last;
        }
        if (lines >= stopAfterLines) {
          req.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', () => done());
    });
    req.on('error', (e) => (e.code === 'ECONNRESET' ? null : reject(e)));
    req.setTimeout(600_000, () => req.destroy(new Error('stream read timed out')));
  });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const seed = seeded();
  let stack;
  let baseline;
  let sampler;
  const stopAll = async () => {
    clearInterval(sampler);
    await Promise.allSettled([baseline?.stop(), stack?.stop()]);
    await Promise.allSettled([...children].map((c) => stopGroup(c)));
  };
  const onSignal = async (sig) => {
    say(`${sig}: stopping what this run started`);
    await stopAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const load = os.loadavg().map((x) => round(x, 2));
  say(`load average at start: ${load.join(' ')} (${os.cpus().length} cores)`);
  try {
    say('starting the demo origin and Tollgate (wrangler dev), with a stream plan seeded');
    stack = await startStack({ entries: seed.entries });
    for (const token of Object.values(seed.tokens)) stack.secret(token);
    say('starting the pass-through baseline (wrangler dev) in front of the same origin');
    baseline = await startBaseline({ originUrl: stack.originUrl, signingKey: stack.signingKey, children });
    // Each side's processes: the workerd that runs the worker (for Tollgate, not the proxy on the
    // public port), wrangler's proxy workerd and wrangler's node.
    const tollgatePort = Number(new URL(stack.base).port);
    const roles = { tollgate: rolesOf(wranglerOn(tollgatePort), tollgatePort), baseline: rolesOf(baseline.pid, baseline.port) };
    const [workerd] = roles.tollgate.runner;
    const [proxy] = roles.tollgate.proxy;
    const origin = async (config) => {
      const res = await fetch(`${stack.originUrl}/__origin/stream`, { method: 'POST', body: JSON.stringify(config) });
      if (res.status !== 204) throw new Error(`origin stream hook answered ${res.status}: ${await res.text()}`);
    };
    const originCounts = async () => (await fetch(`${stack.originUrl}/__origin/stream`)).json();
    const target = {
      tollgate: (token) => `${stack.base}${PATH}`,
      baseline: () => `${baseline.base}${PATH}`,
    };
    const read = async (name, token, opts) => {
      const r = await readStream(target[name](token), token, opts);
      if (r.status !== 200) throw new Error(`${name} answered ${r.status}`);
      return r;
    };

    // The deployed runtime has no devtools: both sides run with `wrangler dev`'s network
    // inspection off, but for the rounds that measure it on (step 4).
    const inspection = (on) => Promise.all([networkInspection(stack.inspectorPort, on), networkInspection(baseline.inspectorPort, on)]);
    await inspection(false);

    // 1. First-line latency.
    say(`first-line latency: ${CONFIG.trials} streams through each`);
    await origin({ rate: ORIGIN_RATE, lines: 1 });
    const first = { tollgate: [], baseline: [] };
    for (let i = 0; i < CONFIG.trials; i++) {
      for (const name of i % 2 ? ['baseline', 'tollgate'] : ['tollgate', 'baseline']) {
        const r = await read(name, seed.tokens['bench-stream-first']);
        if (r.lines !== 1) throw new Error(`${name} sent ${r.lines} lines of 1`);
        first[name].push(r.first_line_ms);
      }
    }

    // 2. Lines per second, side by side: as deployed (network inspection off).
    const lineRounds = async (lines, label) => {
      say(`lines per second, ${label}: ${CONFIG.rounds} rounds of ${lines} lines through each`);
      await origin({ rate: ORIGIN_RATE, lines });
      const rounds = [];
      for (let r = 0; r < CONFIG.rounds; r++) {
        const result = {};
        const cpu = {};
        for (const name of r % 2 ? ['baseline', 'tollgate'] : ['tollgate', 'baseline']) {
          await settle();
          const before = Object.fromEntries(ROLES.map((role) => [role, cpuMsOf(roles[name][role])]));
          const got = await read(name, seed.tokens['bench-stream-rate']);
          if (got.lines !== lines) throw new Error(`${name} sent ${got.lines} lines of ${lines}`);
          result[name] = got.lines / (got.lines_ms / 1000);
          cpu[name] = Object.fromEntries(ROLES.map((role) => [role, ((cpuMsOf(roles[name][role]) - before[role]) * 1000) / got.lines]));
        }
        const ratio = result.tollgate / result.baseline;
        rounds.push({
          round: r + 1, tollgate_lines_per_s: round(result.tollgate, 0), baseline_lines_per_s: round(result.baseline, 0), ratio: round(ratio, 3),
          tollgate_cpu_us_per_line: round(cpu.tollgate.runner, 1), baseline_cpu_us_per_line: round(cpu.baseline.runner, 1),
          // The CPU a line costs each process, µs: the worker's workerd, wrangler's proxy and node.
          cpu_us_per_line: Object.fromEntries(['tollgate', 'baseline'].map((n) => [n, Object.fromEntries(ROLES.map((role) => [role, round(cpu[n][role], 1)]))])),
        });
        const of = (n) => ROLES.map((role) => `${role} ${cpu[n][role].toFixed(1)}`).join(', ');
        say(`round ${r + 1}: Tollgate ${result.tollgate.toFixed(0)} lines/s, baseline ${result.baseline.toFixed(0)} lines/s, ratio ${ratio.toFixed(3)}; `
          + `CPU per line, µs: Tollgate ${of('tollgate')}; baseline ${of('baseline')}`);
      }
      return rounds;
    };
    const rounds = await lineRounds(CONFIG.lines, 'network inspection off');

    // 3. One long stream through Tollgate: workerd's memory as it flows, then the ledger.
    await settle();
    const idle = rssMb(workerd);
    say(`one stream of ${CONFIG.long_lines} lines through Tollgate; workerd (pid ${workerd}) at ${idle} MB RSS before it`);
    await stack.resetOrigin();
    await origin({ rate: ORIGIN_RATE, lines: CONFIG.long_lines });
    const samples = [];
    const t0 = Date.now();
    const sample = () => samples.push({ s: round((Date.now() - t0) / 1000, 1), rss_mb: rssMb(workerd), proxy_rss_mb: proxy ? rssMb(proxy) : null });
    sampler = setInterval(sample, 250);
    const long = await read('tollgate', seed.tokens['bench-stream-long']);
    clearInterval(sampler);
    sample();
    const sent = (await originCounts()).lines;
    if (long.lines !== CONFIG.long_lines) throw new Error(`Tollgate sent ${long.lines} lines of ${CONFIG.long_lines}`);
    // The last report lands just after the stream ends.
    let ledger;
    for (let i = 0; i < 100; i++) {
      const res = await stack.admin('GET', 'accounts/bench-stream-long/usage');
      ledger = (await res.json()).totals;
      if (ledger.items >= sent) break;
      await sleep(200);
    }
    // How the long stream moved: its origin's chunks and the writes to the client (the pump's
    // `stream_ended` log line).
    const ended = endedLine(stack.logs(), 'bench-stream-long');
    // RSS as each tenth of the stream passed (by time: the stream flows at an even pace).
    const span = samples.at(-1).s;
    const byTenth = Array.from({ length: 10 }, (_, i) => (samples.find((x) => x.s >= (span * (i + 1)) / 10) ?? samples.at(-1)).rss_mb);
    const peak = Math.max(...samples.map((x) => x.rss_mb));
    const end = samples.at(-1).rss_mb;

    // 4. Lines per second again, with `wrangler dev`'s network inspection on, as it runs by
    // default: every read of the origin's body is a devtools event, and a script's reads come
    // 4 KiB at a time.
    await inspection(true);
    const inspected = await lineRounds(CONFIG.inspected_lines, 'network inspection on');

    const ratio = median(rounds.map((r) => r.ratio));
    const linesPerS = (of) => ({
      tollgate: round(median(of.map((r) => r.tollgate_lines_per_s)), 0),
      baseline: round(median(of.map((r) => r.baseline_lines_per_s)), 0),
      ratio: round(median(of.map((r) => r.ratio)), 3),
      // CPU time of the workerd running each worker, per line: less moved by other work on the
      // machine than the rate is.
      tollgate_cpu_us_per_line: round(median(of.map((r) => r.tollgate_cpu_us_per_line)), 1),
      baseline_cpu_us_per_line: round(median(of.map((r) => r.baseline_cpu_us_per_line)), 1),
      // The median of the rounds, per process: where the machine's CPU goes a line.
      cpu_us_per_line: Object.fromEntries(['tollgate', 'baseline'].map((n) => [n, Object.fromEntries(ROLES.map((role) => [role, round(median(of.map((r) => r.cpu_us_per_line[n][role])), 1)]))])),
      rounds: of,
    });
    const result = {
      measured_at: new Date().toISOString(),
      machine: { cores: os.cpus().length, load_average_at_start: load },
      config: { ...CONFIG, origin_rate: ORIGIN_RATE, path: PATH },
      first_line_ms: { tollgate: round(median(first.tollgate), 1), baseline: round(median(first.baseline), 1), trials: first },
      // Network inspection off, as deployed (the goal's figure).
      lines_per_s: linesPerS(rounds),
      // Network inspection on, as `wrangler dev` runs by default.
      lines_per_s_inspected: linesPerS(inspected),
      long_stream: {
        lines: long.lines,
        bytes: long.bytes,
        seconds: round(long.lines_ms / 1000, 1),
        lines_per_s: round(long.lines / (long.lines_ms / 1000), 0),
        workerd_pid: workerd,
        proxy_workerd_pid: proxy,
        rss_mb: { idle_before: idle, by_tenth: byTenth, end, peak, growth_after_first_tenth: round(end - byTenth[0], 1), growth_second_half: round(byTenth[9] - byTenth[4], 1) },
        origin_reads: ended?.origin_reads ?? null,
        client_writes: ended?.client_writes ?? null,
        lines_per_write: ended?.client_writes ? round(long.lines / ended.client_writes, 1) : null,
        samples,
      },
      ledger: { origin_lines_sent: sent, items: ledger.items, distinct_items: ledger.distinct_items, equal: ledger.items === sent },
      targets: {
        ratio: { goal: '>= 0.90', value: round(ratio, 3), pass: ratio >= 0.9 },
        ledger_equals_origin: { goal: 'items == lines sent', value: `${ledger.items} == ${sent}`, pass: ledger.items === sent },
      },
    };
    writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
    report(result);
    return result.ledger.equal ? 0 : 1;
  } finally {
    await stopAll();
  }
}

/** The last `stream_ended` log line of an account's stream, parsed; null if there is none. */
function endedLine(logs, account) {
  const lines = logs.split('\n').filter((l) => l.includes('"stream_ended"') && l.includes(`"account":"${account}"`));
  const last = lines.at(-1);
  if (!last) return null;
  try {
    return JSON.parse(last.slice(last.indexOf('{')));
  } catch {
    return null;
  }
}

function report(r) {
  const rows = [
    ['first line (median)', `${r.first_line_ms.tollgate} ms`, `${r.first_line_ms.baseline} ms`],
    ...[['', r.lines_per_s, 'goal >= 0.90'], [', inspection on', r.lines_per_s_inspected, '']].flatMap(([how, l, goal]) => [
      [`lines per second (median)${how}`, `${l.tollgate}`, `${l.baseline}`],
      [`ratio Tollgate / baseline (median of rounds)${how}`, `${l.ratio}`, goal],
      [`workerd CPU per line (median)${how}`, `${l.tollgate_cpu_us_per_line} µs`, `${l.baseline_cpu_us_per_line} µs`],
      [`wrangler's proxy workerd and node, CPU per line${how}`, ...['tollgate', 'baseline'].map((n) => `${l.cpu_us_per_line[n].proxy} µs and ${l.cpu_us_per_line[n].node} µs`)],
    ]),
    [`long stream: ${r.long_stream.lines} lines`, `${r.long_stream.seconds} s, ${r.long_stream.lines_per_s} lines/s`, ''],
    ['long stream: origin chunks read; writes to the client', `${r.long_stream.origin_reads}; ${r.long_stream.client_writes} (${r.long_stream.lines_per_write} lines a write)`, ''],
    ['workerd RSS: idle; at each tenth of the stream', `${r.long_stream.rss_mb.idle_before}; ${r.long_stream.rss_mb.by_tenth.join(', ')} MB`, ''],
    ['workerd RSS: peak; growth over the second half', `${r.long_stream.rss_mb.peak} MB; ${r.long_stream.rss_mb.growth_second_half} MB`, ''],
    ['ledger items vs origin lines', `${r.ledger.items} vs ${r.ledger.origin_lines_sent}`, r.ledger.equal ? 'equal' : 'NOT EQUAL'],
  ];
  const width = Math.max(...rows.map((x) => x[0].length));
  say('');
  say(`${'figure'.padEnd(width)} | Tollgate | baseline`);
  for (const [a, b, c] of rows) say(`${a.padEnd(width)} | ${b} | ${c}`);
  say(`written to ${RESULTS}`);
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`bench stream: ${e.stack ?? e}\n`);
  process.exit(1);
});
