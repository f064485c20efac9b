// The deployable bundles build: `wrangler deploy --dry-run` with the real configurations of the
// enforcer, the control plane and the console.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

import { ROOT } from './harness.mjs';

/** `wrangler deploy --dry-run` of one configuration: its output and its wasm module's sizes. */
async function dryRun(config) {
  const out = mkdtempSync(join(tmpdir(), 'tollgate-dry-'));
  try {
    const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', out, '-c', config], {
      cwd: ROOT,
      env: { ...process.env, TOLLGATE_PREBUILT: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      timeout: 170_000,
    });
    const wasm = readdirSync(out).find((f) => f.endsWith('.wasm'));
    assert.ok(wasm, `no wasm module in the bundle of ${config}`);
    const raw = statSync(join(out, wasm)).size;
    const gz = gzipSync(readFileSync(join(out, wasm)), { level: 9 }).length;
    console.log(`${config}: deployable wasm ${raw} bytes raw, ${gz} bytes gzipped`);
    return { stdout, raw, gz };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

test('wrangler deploy --dry-run builds the enforcer with every binding, within its size budget', { timeout: 180_000 }, async () => {
  const { stdout, gz } = await dryRun('wrangler.toml');
  assert.match(stdout, /env\.ENTITLEMENTS/);
  assert.match(stdout, /env\.ACCOUNT_GUARD \(AccountGuard, defined in tollgate-control\)/);
  assert.match(stdout, /env\.CONTROL \(tollgate-control\)/);
  assert.match(stdout, /env\.CONSOLE \(tollgate-console\)/);
  assert.match(stdout, /--dry-run: exiting now/);
  assert.ok(gz < 400_000, `enforcer wasm gzipped ${gz} bytes`);
});

test('wrangler deploy --dry-run builds the control plane: the guards and the admin API', { timeout: 180_000 }, async () => {
  const { stdout, gz } = await dryRun('control/wrangler.toml');
  assert.match(stdout, /env\.ENTITLEMENTS/);
  assert.match(stdout, /env\.ACCOUNT_GUARD \(AccountGuard\)/);
  assert.doesNotMatch(stdout, /defined in/, 'the control plane hosts the guard class itself');
  // The billing export's queue and the control plane's own database.
  assert.match(stdout, /env\.BILLING_QUEUE \(tollgate-billing\)/);
  assert.match(stdout, /env\.CONTROL_DB \(tollgate-control\)/);
  assert.match(stdout, /--dry-run: exiting now/);
  // Off the request path, so not held to the enforcer's budget; far inside the platform's limit
  // for one Worker (3 MB gzipped on the free plan).
  assert.ok(gz < 1_000_000, `control wasm gzipped ${gz} bytes`);
});

test('wrangler deploy --dry-run builds the console: static files only, with their security headers', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tollgate-dry-console-'));
  try {
    const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', out, '-c', 'www/wrangler.toml'], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      timeout: 110_000,
    });
    assert.match(stdout, /Read \d+ files from the assets directory \S*www\/dist/);
    assert.match(stdout, /--dry-run: exiting now/);
    // The files it would upload are the console's, and its headers file comes with them.
    for (const file of ['_tollgate/console/index.html', '_tollgate/console/app.js', '_headers']) {
      assert.ok(statSync(join(ROOT, 'www/dist', file)).size > 0, `www/dist/${file} is missing or empty`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
