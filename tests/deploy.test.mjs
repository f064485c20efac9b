// The deployable bundle builds: `wrangler deploy --dry-run` with the real wrangler.toml.
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

test('wrangler deploy --dry-run builds the bundle with every binding', { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tollgate-dry-'));
  try {
    const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', out], {
      cwd: ROOT,
      env: { ...process.env, TOLLGATE_PREBUILT: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      timeout: 170_000,
    });
    assert.match(stdout, /env\.ENTITLEMENTS/);
    assert.match(stdout, /env\.ACCOUNT_GUARD \(AccountGuard\)/);
    assert.match(stdout, /env\.CONSOLE \(tollgate-console\)/);
    assert.match(stdout, /--dry-run: exiting now/);
    const wasm = readdirSync(out).find((f) => f.endsWith('.wasm'));
    assert.ok(wasm, 'no wasm module in the bundle');
    const raw = statSync(join(out, wasm)).size;
    const gz = gzipSync(readFileSync(join(out, wasm)), { level: 9 }).length;
    console.log(`deployable wasm: ${raw} bytes raw, ${gz} bytes gzipped`);
    assert.ok(gz < 400_000, `wasm gzipped ${gz} bytes`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
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
