// What the benchmark runs share (bench/run.mjs, bench/stream.mjs, bench/cpu.mjs): their knobs,
// the child processes they start (each in its own process group, stopped by its pid), the
// pass-through baseline in `wrangler dev`, the process table read from /proc, and the processes
// of one `wrangler dev` by role (the workerd running the workers, wrangler's proxy workerd, its
// node) with their CPU time.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

import WebSocket from 'ws';

import { ROOT, freePort } from '../tests/harness.mjs';

const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An integer knob from the environment, within min..max, or `fallback` when unset. */
export function knob(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}..${max}`);
  return n;
}

/** An on/off knob from the environment: `on` or `off`, `fallback` when unset. */
export function onOffKnob(name, fallback) {
  const raw = process.env[name] || fallback;
  if (raw !== 'on' && raw !== 'off') throw new Error(`${name} must be on or off`);
  return raw;
}

/** Stops a child's process group: SIGTERM, then SIGKILL after `ms`. */
export function stopGroup(child, ms = 5000) {
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

/**
 * Builds the pass-through baseline in wasm (bench/baseline-wasm) with the enforcer's toolchain, as
 * scripts/build.sh builds the enforcer (cargo rebuilds only what changed, Tollgate's core
 * included).
 */
export function buildWasmBaseline() {
  const crate = join(ROOT, 'bench/baseline-wasm');
  const env = {
    ...process.env,
    PATH: `${join(os.homedir(), '.cargo/bin')}:${process.env.PATH}`,
    CARGO_TARGET_DIR: join(ROOT, 'bench/out/target'),
    WASM_BINDGEN_BIN: process.env.WASM_BINDGEN_BIN || 'wasm-bindgen',
    WASM_OPT_BIN: process.env.WASM_OPT_BIN || join(ROOT, 'node_modules/.bin/wasm-opt'),
    ESBUILD_BIN: process.env.ESBUILD_BIN || join(ROOT, 'node_modules/.bin/esbuild'),
  };
  const run = spawnSync('worker-build', ['--release', '--out-dir', 'build', '.'], { cwd: crate, env, encoding: 'utf8', timeout: 15 * 60_000 });
  if (run.status !== 0) throw new Error(`building bench/baseline-wasm failed:\n${(run.stdout || '') + (run.stderr || '') || run.error}`);
}

/**
 * The pass-through baseline (bench/baseline) in `wrangler dev`, from a temporary copy, with the
 * same flags as the Tollgate stack (tests/harness.mjs), logging included; with `wasm`, the same
 * in Rust (bench/baseline-wasm, built first by buildWasmBaseline). The child is kept in
 * `children` while it runs, for a run's signal handler to stop.
 */
export async function startBaseline({ originUrl, signingKey, children, wasm = false }) {
  const dir = mkdtempSync(join(os.tmpdir(), 'tollgate-bench-baseline-'));
  const source = join(ROOT, wasm ? 'bench/baseline-wasm' : 'bench/baseline');
  copyFileSync(join(source, 'worker.mjs'), join(dir, 'worker.mjs'));
  copyFileSync(join(source, 'wrangler.toml'), join(dir, 'wrangler.toml'));
  if (wasm) cpSync(join(source, 'build'), join(dir, 'build'), { recursive: true });
  const port = await freePort();
  const inspector = await freePort();
  const args = ['dev', '--config', join(dir, 'wrangler.toml'), '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-port', String(inspector), '--persist-to', join(dir, 'state'),
    '--show-interactive-dev-session=false', '--log-level', 'log',
    '--var', `ORIGIN_URL:${originUrl}`, '--var', `CONTEXT_SIGNING_KEY:${signingKey}`];
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' };
  const child = spawn(WRANGLER, args, { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children?.add(child);
  let tail = '';
  const keep = (d) => { tail = (tail + d).slice(-20_000); };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const stop = async () => {
    await stopGroup(child);
    children?.delete(child);
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
  return { base, port, inspectorPort: inspector, pid: child.pid, stop, logs: () => tail };
}

/**
 * Turns the runtime's network inspection on or off in one `wrangler dev`, through its devtools
 * port (`inspectorPort`), as a devtools client would: `wrangler dev` always turns it on, for its
 * devtools' network panel; a deployed worker has none. While it is on, the runtime reports every
 * read of a subrequest's body to wrangler as a devtools event and hands a script's reads of that
 * body over 4 KiB at a time. Resolves once the runtime has answered; at most `ms`.
 */
export function networkInspection(inspectorPort, on, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const method = on ? 'Network.enable' : 'Network.disable';
    const socket = new WebSocket(`ws://127.0.0.1:${inspectorPort}/ws`);
    const id = 1;
    let settled = false;
    const done = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.terminate();
      if (error) reject(error); else resolve();
    };
    const timer = setTimeout(() => done(new Error(`the runtime did not answer ${method} in ${ms} ms`)), ms);
    socket.on('open', () => socket.send(JSON.stringify({ id, method })));
    socket.on('message', (data) => {
      let message;
      try { message = JSON.parse(String(data)); } catch { return; }
      if (message.id !== id) return;
      done(message.error ? new Error(`${method}: ${JSON.stringify(message.error)}`) : null);
    });
    socket.on('error', (e) => done(e));
    // wrangler takes one devtools client at a time: a second is closed at once, unanswered.
    socket.on('close', (code, reason) => done(new Error(`devtools port closed before ${method} was answered (${code} ${reason})`)));
  });
}

/** Every process: pid → { ppid, name, cmdline }. */
export function processTable() {
  const table = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      table.set(Number(entry), { ppid, name, cmdline });
    } catch { /* gone meanwhile */ }
  }
  return table;
}

/** The processes under `root` in a process table (`root` itself not included). */
export function descendants(root, table) {
  const under = (pid) => {
    for (let p = table.get(pid)?.ppid ?? 0, hops = 0; p > 1 && hops < 64; p = table.get(p)?.ppid ?? 0, hops++) if (p === root) return true;
    return false;
  };
  return [...table.keys()].filter(under);
}

/** CPU time a process has used (user and system), in ms; the kernel counts it in 10 ms ticks. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The processes of one `wrangler dev` (under `root`, listening on `port`), by role. */
export function rolesOf(root, port) {
  const table = processTable();
  const pids = descendants(root, table);
  const workerd = pids.filter((pid) => table.get(pid).cmdline.includes('workerd'));
  const proxy = workerd.filter((pid) => table.get(pid).cmdline.includes(`entry=127.0.0.1:${port} `));
  const runner = workerd.filter((pid) => !proxy.includes(pid));
  const node = pids.filter((pid) => !table.get(pid).cmdline.includes('workerd') && table.get(pid).cmdline.includes('wrangler'));
  if (proxy.length !== 1 || runner.length !== 1 || node.length < 1) {
    throw new Error(`expected one proxy workerd, one runner workerd and wrangler's node under ${root}; found ${workerd.length} workerd, ${node.length} node`);
  }
  return { runner, proxy, node };
}

/** CPU time of a set of processes together, in ms (a process gone meanwhile counts nothing more). */
export function cpuMsOf(pids) {
  return pids.reduce((sum, pid) => {
    try { return sum + cpuMs(pid); } catch { return sum; /* gone meanwhile */ }
  }, 0);
}

/**
 * The outermost process of the `wrangler dev` this run started on `port` (the one on that port
 * whose parent is not), found among this process's own descendants.
 */
export function wranglerOn(port) {
  const table = processTable();
  const onPort = descendants(process.pid, table).filter((pid) => table.get(pid).cmdline.includes(`--port ${port} `) && !table.get(pid).cmdline.includes('workerd'));
  const root = onPort.find((pid) => !onPort.includes(table.get(pid).ppid));
  if (root === undefined) throw new Error(`no wrangler dev of this run on port ${port}`);
  return root;
}
