// The admins' command, `tollgate-admin`, against a running stack: every command, its summary and
// its `--json` answer, and clear exit codes for every failure.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { ROOT, freePort, startStack, tokenHash } from './harness.mjs';

const BIN = join(ROOT, 'target/debug/tollgate-admin');
let stack;
let scratch;
/** The owner's admin key the commands run with (TOLLGATE_ADMIN_KEY), issued with break-glass. */
let ownerKey;

before(async () => {
  await promisify(execFile)('cargo', ['build', '--quiet', '--bin', 'tollgate-admin'], { cwd: ROOT, timeout: 300_000 });
  scratch = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
  stack = await startStack();
  const issued = await stack.admin('POST', 'keys', { owner: 'cli-tests', role: 'owner', expires_at: Math.floor(Date.now() / 1000) + 3600 });
  ownerKey = (await issued.json()).key;
  stack.secret(ownerKey);
}, { timeout: 400_000 });
after(async () => {
  await stack?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs the command; resolves with its exit code and output, whatever the code. */
function admin(args, env = {}, input) {
  return new Promise((resolve) => {
    const child = execFile(BIN, args, {
      env: { PATH: process.env.PATH, TOLLGATE_URL: stack.base, TOLLGATE_ADMIN_KEY: ownerKey, ...env },
      timeout: 30_000,
    }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Runs the command, expects success, and returns its standard output. */
async function ok(args, input) {
  const res = await admin(args, {}, input);
  assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
  return res.stdout;
}

const parsed = async (args, input) => JSON.parse(await ok([...args, '--json'], input));

test('validate accepts the demo file and rejects a broken one with each problem named', async () => {
  const good = await admin(['validate', join(ROOT, 'demo/entitlements.json')]);
  assert.equal(good.code, 0, good.stderr);
  const bad = join(scratch, 'bad.json');
  writeFileSync(bad, JSON.stringify({
    plans: [
      { v: 1, id: 'p', endpoints: [{ method: 'GET', path: 'x', group: 'g' }] },
      { v: 1, id: 'q', shape: { items: '/data', keep: ['/name'] }, endpoints: [{ method: 'GET', path: '/x', group: 'g' }] },
      { v: 1, id: 'r', endpoints: [{ method: 'GET', path: '/x', group: 'g', shape: { items: 'results' } }] },
      { v: 1, id: 's', endpoints: [{ method: 'GET', path: '/2/tweets', group: 'g' }], stream_connections_per_app: 1 },
    ],
    accounts: [{ v: 1, id: 'a', name: 'A', plan: 'missing', status: 'active' }],
    apps: [{ token: 'tg_short', record: { v: 1, account: 'a', app: 'x', status: 'active' } }],
  }));
  const res = await admin(['validate', bad]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /plans\[0\]: record field `endpoints`/);
  assert.match(res.stderr, /plans\[1\]: record field `shape` is invalid: `keep` must keep the id/);
  assert.match(res.stderr, /plans\[2\]: .*JSON Pointer/);
  assert.match(res.stderr, /plans\[3\]: record field `stream_connections_per_app` is invalid: the plan has no stream endpoint/);
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
  const wrong = await admin(['usage', '--account', 'acme'], { TOLLGATE_ADMIN_KEY: '', TOLLGATE_ADMIN_SECRET: 'w'.repeat(64) });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /401/);
  const forged = await admin(['usage', '--account', 'acme'], { TOLLGATE_ADMIN_KEY: `tgk_${'0'.repeat(72)}` });
  assert.equal(forged.code, 1);
  assert.match(forged.stderr, /^401: The admin key is not one that was issued/);
  const port = await freePort();
  const down = await admin(['usage', '--account', 'acme', '--url', `http://127.0.0.1:${port}`]);
  assert.equal(down.code, 3);
});

test('plans: list, get, put from a file and from standard input', async () => {
  assert.ok((await ok(['plans', 'list'])).split('\n').includes('standard'));
  assert.ok((await parsed(['plans', 'list'])).ids.includes('trial'));
  const plan = await parsed(['plans', 'get', 'trial']);
  assert.equal(plan.id, 'trial');
  plan.limits[0].requests = 7;
  const file = join(scratch, 'plan.json');
  writeFileSync(file, JSON.stringify(plan));
  assert.equal((await ok(['plans', 'put', 'trial', file])).trim(), 'plan `trial` written');
  assert.equal((await parsed(['plans', 'get', 'trial'])).limits[0].requests, 7);
  plan.limits[0].requests = 5;
  assert.deepEqual(await parsed(['plans', 'put', 'trial', '-'], JSON.stringify(plan)), { plan: 'trial', written: true });
  const bad = await admin(['plans', 'put', 'trial', '-'], {}, JSON.stringify({ ...plan, limits: 'x' }));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^400: record is not valid/);
});

test('accounts: list, get, put, suspend, reinstate, report', async () => {
  assert.ok((await ok(['accounts', 'list'])).split('\n').includes('acme'));
  const account = { v: 1, id: 'cli-co', name: 'CLI Co', plan: 'basic', status: 'active', use_cases: [] };
  assert.equal((await ok(['accounts', 'put', 'cli-co', '-'], JSON.stringify(account))).trim(), 'account `cli-co` written');
  assert.equal((await parsed(['accounts', 'get', 'cli-co'])).name, 'CLI Co');
  assert.match(await ok(['accounts', 'suspend', 'cli-co']), /account `cli-co` suspended/);
  assert.equal((await parsed(['accounts', 'get', 'cli-co'])).status, 'suspended');
  assert.deepEqual(await parsed(['accounts', 'reinstate', 'cli-co']), { account: 'cli-co', status: 'active' });
  const report = await ok(['accounts', 'report', 'cli-co']);
  assert.match(report, /^month \d{4}-\d{2}: 0 distinct items$/m);
  assert.match(report, /^audit entries: 3$/m);
  assert.equal((await parsed(['accounts', 'report', 'cli-co'])).audit_entries, 3);
  const missing = await admin(['accounts', 'get', 'nobody']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^404: /);
});

test('use cases and recipients', async () => {
  assert.equal((await ok(['use-cases', 'set', 'cli-co', 'study', '--status', 'approved', '--description', 'A study'])).trim(),
    'use case `study` of `cli-co` is approved');
  assert.equal((await admin(['use-cases', 'set', 'cli-co', 'study', '--status', 'maybe'])).code, 2);
  assert.match(await ok(['recipients', 'set', 'cli-co', 'uni', '--class', 'academic', '--entity', 'uni', '--approval', 'approved']),
    /recipient `uni` of `cli-co` written/);
  await ok(['recipients', 'set', 'cli-co', 'council', '--class', 'government', '--entity', 'council', '--approval', 'approved',
    '--government-reference', 'LTR-1', '--government-approved-at', '1790000000']);
  await ok(['recipients', 'set', 'cli-co', 'shop', '--file', '-'], JSON.stringify({ class: 'commercial', entity: 'shop', approval: 'pending', mode: 'ids_only' }));
  const account = await parsed(['accounts', 'get', 'cli-co']);
  assert.deepEqual(account.use_cases, [{ id: 'study', status: 'approved', description: 'A study' }]);
  const byId = Object.fromEntries(account.redistribution.recipients.map((r) => [r.id, r]));
  assert.equal(byId.uni.class, 'academic');
  assert.deepEqual(byId.council.government_approval, { reference: 'LTR-1', approved_at: 1790000000 });
  assert.equal(byId.shop.mode, 'ids_only');
  // A government approval needs both its reference and its date.
  assert.equal((await admin(['recipients', 'set', 'cli-co', 'x', '--class', 'government', '--entity', 'x', '--approval', 'approved', '--government-reference', 'L'])).code, 2);
  const refused = await admin(['recipients', 'set', 'cli-co', 'spy', '--class', 'spies', '--entity', 'x', '--approval', 'approved']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^400: /);
});

test('tokens: issue, list, suspend, reinstate, rotate, revoke', async () => {
  const issued = await admin(['tokens', 'issue', '--account', 'cli-co', '--app', 'cli-study', '--use-case', 'study']);
  assert.equal(issued.code, 0, issued.stderr);
  const token = issued.stdout.trim();
  stack.secret(token);
  assert.match(token, /^tg_[0-9a-f]{72}$/);
  assert.match(issued.stderr, /shown once/);
  const hash = tokenHash(token);
  assert.equal((await stack.call('/2/tweets/20', { token })).status, 200);

  const listed = await ok(['tokens', 'list', 'cli-co']);
  assert.match(listed, new RegExp(`^${hash}  cli-study +active$`, 'm'));
  assert.deepEqual((await parsed(['tokens', 'list', 'cli-co'])).tokens.map((t) => [t.token_sha256, t.app, t.status]), [[hash, 'cli-study', 'active']]);

  assert.match(await ok(['tokens', 'suspend', '--token-sha256', hash]), /is suspended$/m);
  assert.equal((await stack.call('/2/tweets/20', { token })).status, 401);
  assert.equal((await parsed(['tokens', 'reinstate', '--token-sha256', hash])).status, 'active');
  assert.equal((await stack.call('/2/tweets/20', { token })).status, 200);

  const rotated = await admin(['tokens', 'rotate', '--token', token]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const fresh = rotated.stdout.trim();
  stack.secret(fresh);
  assert.match(fresh, /^tg_[0-9a-f]{72}$/);
  assert.equal((await stack.call('/2/tweets/20', { token })).status, 401, 'the rotated token still works');
  assert.equal((await stack.call('/2/tweets/20', { token: fresh })).status, 200);

  assert.match(await ok(['tokens', 'revoke', '--token-sha256', tokenHash(fresh)]), /is revoked$/m);
  assert.equal((await stack.call('/2/tweets/20', { token: fresh })).status, 401);
  const again = await admin(['tokens', 'reinstate', '--token-sha256', tokenHash(fresh)]);
  assert.equal(again.code, 1, 'a revoked token came back');
  assert.match(again.stderr, /^409: /);
  assert.equal((await admin(['tokens', 'revoke', '--token', token, '--token-sha256', hash])).code, 2);
});

test('usage as a summary, JSON and CSV', async () => {
  const summary = await ok(['usage', '--account', 'cli-co']);
  assert.match(summary, /^cli-co \d{4}-\d{2}: forwarded \d+, refused \d+, items \d+, distinct items \d+, bytes \d+$/m);
  assert.match(summary, /cli-study +lookup/);
  const json = await parsed(['usage', '--account', 'cli-co']);
  assert.ok(json.totals.forwarded >= 3, JSON.stringify(json.totals));
  assert.ok((await ok(['usage', '--account', 'cli-co', '--csv'])).startsWith('day,'));
  assert.equal((await admin(['usage', '--account', 'cli-co', '--month', '2026-13'])).code, 1);
});

test('audit: export and verify, per account and for the admin log', async () => {
  const entries = await ok(['audit', 'export', '--account', 'cli-co']);
  assert.match(entries, /^1\t\d+\tadmin:account_written\t/m);
  assert.match(entries, /\tadmin:token_rotated\t/);
  assert.equal((await parsed(['audit', 'export', '--account', 'cli-co'])).entries[0].seq, 1);
  assert.match(await ok(['audit', 'verify', '--account', 'cli-co']), /^verified: \d+ entries; head [0-9a-f]{64}$/m);
  assert.equal((await parsed(['audit', 'verify'])).ok, true);
  assert.match(await ok(['audit', 'verify', '--account', 'cli-co', '--full']), /^walked \d+ entries after entry 0$/m);
  assert.match(await ok(['audit', 'export']), /admin:plan_written/);
  // Pages: two at a time, followed to the end with --all.
  const page = await parsed(['audit', 'export', '--account', 'cli-co', '--limit', '2']);
  assert.deepEqual(page.entries.map((e) => e.seq), [1, 2]);
  assert.equal(page.next, 2);
  const every = (await ok(['audit', 'export', '--account', 'cli-co', '--limit', '2', '--all'])).trim().split('\n');
  assert.deepEqual(every.map((l) => Number(l.split('\t')[0])), Array.from({ length: every.length }, (_, i) => i + 1));
  assert.ok(every.length > 2);
});

test('accounts housekeep seals and prunes at once', async () => {
  assert.match(await ok(['accounts', 'housekeep', 'cli-co']), /^sealed (nothing|\d{4}-\d\d-\d\d.*); pruned \d+ rows/m);
  assert.deepEqual(Object.keys(await parsed(['accounts', 'housekeep', 'cli-co'])).sort(), ['more', 'pruned', 'sealed']);
});

test('shell completions', async () => {
  assert.match(await ok(['completions', 'bash']), /_tollgate-admin\(\)|_tollgate__admin\(\)/);
  assert.match(await ok(['completions', 'zsh']), /#compdef tollgate-admin/);
  assert.match(await ok(['completions', 'fish']), /complete -c tollgate-admin/);
  assert.equal((await admin(['completions', 'tcsh'])).code, 2);
});

test('whoami, roles and admin keys: the key from the environment, break-glass from TOLLGATE_ADMIN_SECRET', async () => {
  const me = await parsed(['whoami']);
  assert.equal(me.role, 'owner');
  assert.equal(me.via, 'key');
  assert.match(await ok(['whoami']), /^k-[0-9a-f]{12} \(owner, via key\)$/m);
  const glass = await admin(['whoami'], { TOLLGATE_ADMIN_KEY: '', TOLLGATE_ADMIN_SECRET: stack.adminSecret });
  assert.equal(glass.stdout.trim(), 'break-glass (owner, via break_glass)');

  const roles = join(scratch, 'roles.json');
  writeFileSync(roles, JSON.stringify({ v: 1, identities: [{ email: 'ann@example.com', role: 'auditor' }] }));
  assert.match(await ok(['roles', 'put', roles]), /^roles written: 1 identities$/m);
  assert.deepEqual(JSON.parse(await ok(['roles', 'get'])).identities, [{ email: 'ann@example.com', role: 'auditor' }]);
  writeFileSync(roles, JSON.stringify({ v: 1, identities: [{ email: 'ann@example.com', role: 'chief' }] }));
  assert.equal((await admin(['roles', 'put', roles])).code, 1);

  const issued = await admin(['keys', 'issue', '--owner', 'nightly-export', '--role', 'auditor', '--days', '30']);
  assert.equal(issued.code, 0, issued.stderr);
  const key = issued.stdout.trim();
  stack.secret(key);
  assert.match(key, /^tgk_[0-9a-f]{72}$/);
  const [, id] = issued.stderr.match(/admin key (k-[0-9a-f]{12}) for `nightly-export` as auditor/);
  assert.match(await ok(['keys', 'list']), new RegExp(`^${id}\\s+auditor\\s+\\d+\\s+issued\\s+nightly-export$`, 'm'));
  const asAuditor = await admin(['accounts', 'suspend', 'cli-co'], { TOLLGATE_ADMIN_KEY: key });
  assert.equal(asAuditor.code, 1);
  assert.match(asAuditor.stderr, /^403: /);
  assert.match(await ok(['keys', 'revoke', id]), new RegExp(`admin key ${id} revoked`));
  assert.match(await ok(['keys', 'list']), new RegExp(`^${id}\\s+auditor\\s+\\d+\\s+revoked`, 'm'));
  const revoked = await admin(['whoami'], { TOLLGATE_ADMIN_KEY: key });
  assert.equal(revoked.code, 1);
  assert.match(revoked.stderr, /^401: The admin key was revoked/);
  assert.match(await ok(['audit', 'export']), /\tadmin:key_revoked\tk-[0-9a-f]{12} \(owner\)\t/);
  assert.equal((await admin(['keys', 'issue', '--owner', 'x', '--role', 'auditor'])).code, 2);
});

test('every command has help, and the secret is never taken from the command line', async () => {
  for (const args of [['--help'], ['plans', '--help'], ['accounts', 'suspend', '--help'], ['tokens', 'rotate', '--help'], ['audit', 'verify', '--help']]) {
    const res = await admin(args);
    assert.equal(res.code, 0, args.join(' '));
    assert.match(res.stdout, /Usage: tollgate-admin/);
  }
  assert.equal((await admin(['plans', 'list', '--secret', 'x'])).code, 2);
  const unset = await admin(['plans', 'list'], { TOLLGATE_ADMIN_KEY: '', TOLLGATE_ADMIN_SECRET: '' });
  assert.equal(unset.code, 2);
  assert.match(unset.stderr, /TOLLGATE_ADMIN_KEY/);
});
