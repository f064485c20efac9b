// The admins' command, `tollgate-admin`, against a running stack: validate an entitlement file,
// issue, use, export usage, revoke; clear exit codes for every failure.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { ROOT, freePort, startStack } from './harness.mjs';

const BIN = join(ROOT, 'target/debug/tollgate-admin');
let stack;
let scratch;

before(async () => {
  await promisify(execFile)('cargo', ['build', '--quiet', '--bin', 'tollgate-admin'], { cwd: ROOT, timeout: 300_000 });
  scratch = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
  stack = await startStack();
}, { timeout: 400_000 });
after(async () => {
  await stack?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs the command; resolves with its exit code and output, whatever the code. */
function admin(args, env = {}) {
  return new Promise((resolve) => {
    execFile(BIN, args, {
      env: { PATH: process.env.PATH, TOLLGATE_URL: stack.base, TOLLGATE_ADMIN_SECRET: stack.adminSecret, ...env },
      timeout: 30_000,
    }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
}

test('validate accepts the demo file and rejects a broken one with each problem named', async () => {
  const good = await admin(['validate', join(ROOT, 'demo/entitlements.json')]);
  assert.equal(good.code, 0, good.stderr);
  const bad = join(scratch, 'bad.json');
  writeFileSync(bad, JSON.stringify({
    plans: [{ v: 1, id: 'p', endpoints: [{ method: 'GET', path: 'x', group: 'g' }] }],
    accounts: [{ v: 1, id: 'a', name: 'A', plan: 'missing', status: 'active' }],
    apps: [{ token: 'tg_short', record: { v: 1, account: 'a', app: 'x', status: 'active' } }],
  }));
  const res = await admin(['validate', bad]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /plans\[0\]: record field `endpoints`/);
  assert.match(res.stderr, /accounts\[0\]: plan `missing` is not in the file/);
  assert.match(res.stderr, /apps\[0\]: the token has the wrong length/);
});

test('issue, use, usage and revoke through the admin API', async () => {
  const issued = await admin(['issue', '--account', 'acme', '--app', 'cli-app', '--use-case', 'brand-monitoring']);
  assert.equal(issued.code, 0, issued.stderr);
  const token = issued.stdout.trim();
  assert.match(token, /^tg_[0-9a-f]{72}$/);
  const res = await stack.call('/2/tweets/20', { token });
  assert.equal(res.status, 200);
  await new Promise((r) => setTimeout(r, 300));
  const usage = await admin(['usage', '--account', 'acme', '--csv']);
  assert.equal(usage.code, 0, usage.stderr);
  assert.match(usage.stdout, /,cli-app,lookup,,1,1,1,/);
  const revoked = await admin(['revoke', '--token', token]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((await stack.call('/2/tweets/20', { token })).status, 401);
});

test('failures have their own exit codes', async () => {
  assert.equal((await admin(['frobnicate'])).code, 2);
  assert.equal((await admin(['issue', '--account', 'acme'])).code, 2, '--app is required');
  const wrong = await admin(['usage', '--account', 'acme'], { TOLLGATE_ADMIN_SECRET: 'w'.repeat(64) });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /401/);
  const port = await freePort();
  const down = await admin(['usage', '--account', 'acme', '--url', `http://127.0.0.1:${port}`]);
  assert.equal(down.code, 3);
});
