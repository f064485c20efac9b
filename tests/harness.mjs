// Starts a real stack for end-to-end tests: the demo origin, local KV seeded with the demo
// entitlements (plus whatever a test adds), and the built worker in `wrangler dev` (workerd).
// Everything listens on 127.0.0.1, lives in its own temporary folder, and is stopped by the pid
// it was started with.
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { kvEntries, tokenHash } from '../demo/seed.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEMO = JSON.parse(readFileSync(join(ROOT, 'demo/entitlements.json'), 'utf8'));
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
const run = promisify(execFile);

/** The demo token of an app, by app id. */
export const demoToken = (app) => DEMO.apps.find((a) => a.record.app === app).token;

/** A new token in Tollgate's format: tg_ + 32 random bytes + 4 checksum bytes, hex. */
export function newToken() {
  const body = randomBytes(32);
  return `tg_${body.toString('hex')}${createHash('sha256').update(body).digest().subarray(0, 4).toString('hex')}`;
}

export { tokenHash };

/**
 * Limits' windows are aligned to the clock (a window of 60 s is the clock's minute). A test that
 * counts requests against a limit calls this first: if fewer than `marginMs` are left of the
 * current window of `windowMs`, it waits until the next one has begun, so that every request it
 * counts falls in one window.
 */
export async function clearOfWindowEnd(windowMs, marginMs) {
  const left = windowMs - (Date.now() % windowMs);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 250));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function waitForLine(child, pattern, ms, what) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${ms} ms:\n${seen}`)), ms);
    const onData = (chunk) => {
      seen += chunk;
      const m = seen.match(pattern);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${seen}`));
    });
  });
}

function stopChild(child, ms = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      resolve();
    }, ms);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    // The child leads its own process group: this reaches workerd too, and nothing else.
    try { process.kill(-child.pid, 'SIGTERM'); } catch { clearTimeout(timer); resolve(); }
  });
}

/**
 * The control plane's configuration with its own vars: a copy of control/wrangler.toml in `dir`,
 * its `main` made absolute, Cloudflare Access settings filled in when `access` is given
 * ({team, aud, jwksUrl}), and `vars` (name → value) added to its `[vars]`. (`--var` on the command
 * line reaches only the first configuration of a multi-config `wrangler dev`, the enforcer's.)
 */
function controlConfig(dir, access, vars) {
  let text = readFileSync(join(ROOT, 'control/wrangler.toml'), 'utf8');
  text = text.replace(/^main = "\.\.\/(.+)"$/m, (_, path) => `main = ${JSON.stringify(join(ROOT, path))}`);
  if (access) {
    text = text.replace(/^ACCESS_TEAM_DOMAIN = .*$/m, `ACCESS_TEAM_DOMAIN = ${JSON.stringify(access.team)}`);
    text = text.replace(/^ACCESS_AUD = .*$/m, `ACCESS_AUD = ${JSON.stringify(access.aud)}\nACCESS_JWKS_URL = ${JSON.stringify(access.jwksUrl)}`);
  }
  const lines = Object.entries(vars).map(([k, v]) => `${k} = ${JSON.stringify(String(v))}`);
  if (lines.length) text = text.replace(/^\[vars\]$/m, `[vars]\n${lines.join('\n')}`);
  const path = join(dir, 'control.toml');
  writeFileSync(path, text);
  return path;
}

/**
 * Starts origin + worker. `entries` are extra raw KV entries ({key, value}); `vars` are extra
 * wrangler vars (name → value) of the enforcer, `controlVars` of the control plane, and
 * `controlSecrets` its secrets (name → value, from the environment); `access` ({team, aud,
 * jwksUrl}) turns on the control plane's Cloudflare Access sign-in.
 */
export async function startStack({ entries = [], vars = {}, controlVars = {}, controlSecrets = {}, access = null } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  // A fresh signing key per run: tests never depend on the public demo key.
  const signingKey = randomBytes(32).toString('hex');
  const adminSecret = randomBytes(32).toString('hex');
  const logs = [];
  // Every secret this stack sees: none may appear in anything the worker or wrangler logs.
  const secrets = new Set([signingKey, adminSecret, ...DEMO.apps.map((a) => a.token)]);
  let origin;
  let worker;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopChild(worker);
    await stopChild(origin);
    rmSync(dir, { recursive: true, force: true });
    const text = logs.join('');
    const leaked = [...secrets].filter((s) => s && text.includes(s));
    if (leaked.length) throw new Error(`${leaked.length} secret(s) appeared in the worker's logs`);
  };
  try {
    origin = spawn(process.execPath, [join(ROOT, 'demo/origin.mjs'), '--port', '0'], {
      env: { ...process.env, TOLLGATE_CONTEXT_KEY: signingKey },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    origin.stdout.setEncoding('utf8');
    const [, originUrl] = await waitForLine(origin, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 10_000, 'demo origin');

    const bulk = join(dir, 'entries.json');
    writeFileSync(bulk, JSON.stringify([...kvEntries(DEMO), ...entries]));
    const persist = join(dir, 'state');
    const env = {
      ...process.env,
      TOLLGATE_PREBUILT: '1',
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      NO_COLOR: '1',
    };
    await run(WRANGLER, ['kv', 'bulk', 'put', bulk, '--binding', 'ENTITLEMENTS', '--local', '--persist-to', persist], {
      cwd: ROOT, env, timeout: 60_000,
    });

    const port = await freePort();
    const inspector = await freePort();
    const allVars = { ORIGIN_URL: originUrl, CONTEXT_SIGNING_KEY: signingKey, ...vars };
    // The enforcer first (it gets the port and the --var values), then the control plane (the
    // guards and the admin API) and the console's static-files Worker that its bindings reach.
    // The control plane takes its secret from the environment: wrangler loads the names its
    // configuration lists under [secrets] and no others.
    const control = access || Object.keys(controlVars).length ? controlConfig(dir, access, controlVars) : 'control/wrangler.toml';
    const args = ['dev', '--config', 'wrangler.toml', '--config', control, '--config', 'www/wrangler.toml',
      '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
      '--persist-to', persist, '--show-interactive-dev-session=false', '--log-level', 'log'];
    for (const [k, v] of Object.entries(allVars)) args.push('--var', `${k}:${v}`);
    // `controlSecrets` holds the control plane's other secrets (the billing endpoint); without
    // them, the billing export is off.
    const workerEnv = {
      ...env, CLOUDFLARE_INCLUDE_PROCESS_ENV: 'true', ADMIN_SECRET: adminSecret,
      BILLING_ENDPOINT: 'none', BILLING_ENDPOINT_TOKEN: 'none', ...controlSecrets,
    };
    for (const value of Object.values(controlSecrets)) secrets.add(value);
    worker = spawn(WRANGLER, args, { cwd: ROOT, env: workerEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout.setEncoding('utf8');
    worker.stderr.setEncoding('utf8');
    worker.stdout.on('data', (d) => logs.push(d));
    worker.stderr.on('data', (d) => logs.push(d));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (worker.exitCode !== null) throw new Error(`wrangler dev exited:\n${logs.join('')}`);
      try {
        await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`wrangler dev did not answer in time:\n${logs.join('')}`);
        await sleep(250);
      }
    }

    const hook = async (path, init) => {
      const res = await fetch(`${originUrl}/__origin/${path}`, init);
      return res.status === 204 ? null : res.json();
    };
    return {
      base,
      inspectorPort: inspector,
      originUrl,
      persist,
      signingKey,
      adminSecret,
      logs: () => logs.join(''),
      stop,
      originStats: () => hook('stats'),
      originLast: () => hook('last'),
      resetOrigin: () => hook('reset', { method: 'POST' }),
      fault: (body) => hook('fault', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      /**
       * An admin API call, with the break-glass secret unless told otherwise:
       * `admin('GET', 'accounts/acme')`, `admin('GET', 'whoami', undefined, { secret: key })`,
       * `admin('PUT', 'roles', record, { headers: { 'cf-access-jwt-assertion': jwt } })`.
       */
      admin: (method, route, body, { secret = adminSecret, headers = {} } = {}) => (secrets.add(secret), fetch(`${base}/_tollgate/admin/v1/${route}`, {
        method,
        headers: { ...(secret ? { authorization: `Bearer ${secret}` } : {}), 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      })),
      /** Adds a secret (an issued token, say) to those the logs are checked for at stop. */
      secret: (s) => secrets.add(s),
      /** A request to the worker with a bearer token (or none). */
      call: (path, { token, headers = {}, ...init } = {}) => (token && secrets.add(token), fetch(`${base}${path}`, {
        ...init,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        signal: AbortSignal.timeout(30_000),
      })),
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
