// The ledger, the audit trail and the admin API end to end through `wrangler dev`: an account
// created and served entirely through the admin API, usage that reconciles with the origin's own
// count, a tamper-evident audit chain, and every kind of bad admin input refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { startStack, tokenHash } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); }, { timeout: 200_000 });
after(async () => { await stack?.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const admin = async (method, route, body, opts) => {
  const res = await stack.admin(method, route, body, opts);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
};

const PLAN = {
  v: 1,
  id: 'ledger-plan',
  endpoints: [
    { method: 'GET', path: '/2/tweets/search/recent', group: 'search' },
    { method: 'GET', path: '/2/tweets', group: 'lookup' },
    { method: 'GET', path: '/2/tweets/:id', group: 'lookup' },
  ],
  limits: [{ group: 'lookup', scope: 'account', requests: 100000, window_seconds: 900 }],
};
const ACCOUNT = {
  v: 1, id: 'ledgerco', name: 'Ledger Co', plan: 'ledger-plan', status: 'active',
  use_cases: [{ id: 'analytics', status: 'approved', description: 'Internal analytics' }],
};

let token;
let hash;

describe('admin API and usage', () => {
  test('a plan, an account and a token are created through the admin API', async () => {
    assert.equal((await admin('PUT', 'plans/ledger-plan', PLAN)).status, 200);
    assert.equal((await admin('PUT', 'accounts/ledgerco', ACCOUNT)).status, 200);
    const read = await admin('GET', 'accounts/ledgerco');
    // Read back in the stored layout: what was sent, with the documented defaults filled in.
    assert.deepEqual(read.json, {
      ...ACCOUNT,
      redistribution: { serves_recipients: false, mode: 'none', ids_per_entity_30d: 1500000, recipients: [] },
    });
    const issued = await admin('POST', 'accounts/ledgerco/tokens', { app: 'ledger-app', use_case: 'analytics' });
    assert.equal(issued.status, 200, issued.text);
    token = issued.json.token;
    hash = issued.json.token_sha256;
    assert.match(token, /^tg_[0-9a-f]{72}$/);
    assert.equal(hash, tokenHash(token));
    const listed = await admin('GET', 'accounts/ledgerco/tokens');
    assert.equal(listed.json.tokens.length, 1);
    assert.equal(listed.json.tokens[0].token_sha256, hash);
    assert.ok(!listed.text.includes(token), 'the token was shown a second time');
  });

  test('usage export finds exactly what the origin served, repeats counted once as distinct', async () => {
    await stack.resetOrigin();
    const calls = [
      ['/2/tweets?ids=1,2,3', 200], // 3 items, 3 new
      ['/2/tweets?ids=1,2,3', 200], // 3 items, none new today
      ['/2/tweets/20', 200], // 1 item, new
      ['/2/tweets/search/recent?query=ledger', 200], // 10 items, new
      ['/2/users/1/tweets', 403], // not in the plan: refused, recorded
    ];
    for (const [path, status] of calls) {
      const res = await stack.call(path, { token });
      assert.equal(res.status, status, path);
      await res.arrayBuffer();
    }
    await sleep(500); // ledger lines are written just after each response
    const origin = await stack.originStats();
    const usage = await admin('GET', 'accounts/ledgerco/usage');
    assert.equal(usage.status, 200, usage.text);
    const t = usage.json.totals;
    assert.equal(t.forwarded, origin.served);
    assert.equal(t.forwarded, 4);
    assert.equal(t.items, origin.items);
    assert.equal(t.items, 17);
    assert.equal(t.distinct_items, 14);
    assert.equal(t.refused, 1);
    const lookup = usage.json.rows.find((r) => r.group === 'lookup');
    assert.equal(lookup.items, 7);
    assert.equal(lookup.distinct_items, 4);
    const refusedRow = usage.json.rows.find((r) => r.refused['endpoint-not-in-plan']);
    assert.equal(refusedRow.refused['endpoint-not-in-plan'], 1);
    assert.ok(t.bytes > 0);

    const csv = await admin('GET', 'accounts/ledgerco/usage?format=csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type'), /^text\/csv/);
    const lines = csv.text.trim().split('\n');
    assert.match(lines[0], /^day,app,group,recipient,forwarded,items,distinct_items,bytes,refused_total/);
    assert.ok(lines.some((l) => l.includes(',ledger-app,lookup,,3,7,4,')), csv.text);
  });

  test('revoking the token refuses its very next request', async () => {
    const res = await admin('POST', `tokens/${hash}/revoke`);
    assert.equal(res.status, 200, res.text);
    const next = await stack.call('/2/tweets/20', { token });
    assert.equal(next.status, 401);
    assert.equal((await next.json()).reason, 'revoked-token');
    const again = await admin('POST', `tokens/${hash}/reinstate`);
    assert.equal(again.status, 409, 'a revoked token came back');
  });

  test('rotation revokes the old token and returns a working new one once', async () => {
    const issued = await admin('POST', 'accounts/ledgerco/tokens', { app: 'rotating-app', use_case: 'analytics' });
    const old = issued.json.token;
    assert.equal((await stack.call('/2/tweets/20', { token: old })).status, 200);
    const rotated = await admin('POST', `tokens/${issued.json.token_sha256}/rotate`);
    assert.equal(rotated.status, 200, rotated.text);
    assert.notEqual(rotated.json.token, old);
    assert.equal((await stack.call('/2/tweets/20', { token: old })).status, 401);
    assert.equal((await stack.call('/2/tweets/20', { token: rotated.json.token })).status, 200);
  });
});

describe('load', () => {
  test('after a concurrent load the ledger equals the origin count exactly', { timeout: 120_000 }, async () => {
    const tokens = [];
    for (let i = 0; i < 3; i++) {
      tokens.push((await admin('POST', 'accounts/ledgerco/tokens', { app: `load-app-${i}`, use_case: 'analytics' })).json.token);
    }
    await sleep(300);
    const before = (await admin('GET', 'accounts/ledgerco/usage')).json.totals;
    await stack.resetOrigin();
    const paths = ['/2/tweets/20', '/2/tweets?ids=1,2,3,4,5', '/2/tweets/search/recent?query=load&max_results=20'];
    const TOTAL = 240;
    const CONCURRENCY = 16;
    let next = 0;
    const statuses = {};
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        const res = await stack.call(paths[i % paths.length], { token: tokens[i % tokens.length] });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.deepEqual(statuses, { 200: TOTAL });
    await sleep(1500);
    const origin = await stack.originStats();
    const after = (await admin('GET', 'accounts/ledgerco/usage')).json.totals;
    assert.equal(after.forwarded - before.forwarded, origin.served);
    assert.equal(origin.served, TOTAL);
    assert.equal(after.items - before.items, origin.items);
  });
});

describe('audit trail', () => {
  test('changes and revocations are in the chain, refusals in the ledger only, and it verifies', async () => {
    const audit = await admin('GET', 'accounts/ledgerco/audit');
    const kinds = audit.json.entries.map((e) => e.kind);
    for (const kind of ['admin:account_written', 'admin:token_issued', 'admin:token_revoked']) {
      assert.ok(kinds.includes(kind), `${kind} missing from ${kinds}`);
    }
    // Refusals are ledger counts: a flood of them cannot grow the chain.
    assert.ok(!kinds.includes('refusal'), `refusals in the chain: ${kinds}`);
    assert.ok(!audit.text.includes(token), 'a token reached the audit trail');
    const verify = await admin('GET', 'accounts/ledgerco/audit/verify');
    assert.equal(verify.json.ok, true);
    assert.equal(verify.json.entries, audit.json.entries.length);
    const plans = await admin('GET', 'audit');
    assert.ok(plans.json.entries.some((e) => e.kind === 'admin:plan_written'));
  });

  test('a refusal flood leaves the chain as it was', async () => {
    const issued = await admin('POST', 'accounts/ledgerco/tokens', { app: 'ledger-flood', use_case: 'analytics' });
    const tokenOfFlood = issued.json.token;
    stack.secret(tokenOfFlood);
    const before = (await admin('GET', 'accounts/ledgerco/report')).json.audit_entries;
    for (let i = 0; i < 60; i++) {
      const res = await stack.call('/2/users/1/tweets', { token: tokenOfFlood });
      assert.equal(res.status, 403);
      await res.arrayBuffer();
    }
    await sleep(500);
    assert.equal((await admin('GET', 'accounts/ledgerco/report')).json.audit_entries, before);
    const usage = await admin('GET', 'accounts/ledgerco/usage');
    const refused = usage.json.rows.filter((r) => r.app === 'ledger-flood').reduce((n, r) => n + (r.refused['endpoint-not-in-plan'] ?? 0), 0);
    assert.equal(refused, 60);
  });

  test('export is paged with a cursor, and verify goes on from its checkpoint', async () => {
    const all = (await admin('GET', 'accounts/ledgerco/audit')).json.entries;
    assert.ok(all.length >= 4, `${all.length} entries`);
    const first = await admin('GET', 'accounts/ledgerco/audit?limit=2');
    assert.deepEqual(first.json.entries.map((e) => e.seq), [1, 2]);
    assert.equal(first.json.next, 2);
    const second = await admin('GET', `accounts/ledgerco/audit?after=${first.json.next}&limit=2`);
    assert.deepEqual(second.json.entries.map((e) => e.seq), [3, 4]);
    const last = await admin('GET', `accounts/ledgerco/audit?after=${all.length - 1}&limit=2`);
    assert.equal(last.json.entries.length, 1);
    assert.equal(last.json.next, null);
    assert.equal((await admin('GET', 'accounts/ledgerco/audit?limit=0')).status, 400);
    assert.equal((await admin('GET', 'accounts/ledgerco/audit?limit=10001')).status, 400);
    // An earlier test verified the chain; since then one token was issued: only it is walked.
    const again = await admin('GET', 'accounts/ledgerco/audit/verify');
    assert.equal(again.json.ok, true);
    assert.equal(again.json.from_seq, all.length - 1);
    assert.equal(again.json.checked, 1);
    assert.equal((await admin('GET', 'accounts/ledgerco/audit/verify')).json.checked, 0);
    const full = await admin('GET', 'accounts/ledgerco/audit/verify?full=true');
    assert.equal(full.json.checked, all.length);
  });

  test("a finished day is sealed, and a changed ledger row no longer matches the day's seal", async () => {
    // Yesterday's traffic, made by moving today's rows back a day behind the guard's back.
    sqliteOfLedgerco([
      'db.execute("UPDATE ledger SET day = day - 1")',
      'db.execute("UPDATE refusals SET day = day - 1")',
      // The guard marked yesterday done at today's first command, when it had no rows.
      'db.execute("DELETE FROM marks WHERE k = \'sealed_through\'")',
    ]);
    const sealed = await admin('POST', 'accounts/ledgerco/housekeep');
    assert.equal(sealed.status, 200, sealed.text);
    assert.equal(sealed.json.sealed.length, 1);
    const seals = (await admin('GET', 'accounts/ledgerco/audit')).json.entries.filter((e) => e.kind === 'seal');
    assert.equal(seals.length, 1);
    assert.equal(JSON.parse(seals[0].detail).day, sealed.json.sealed[0]);
    assert.equal((await admin('POST', 'accounts/ledgerco/housekeep')).json.sealed.length, 0, 'a day was sealed twice');
    assert.equal((await admin('GET', 'accounts/ledgerco/audit/verify?full=true')).json.ok, true);
    sqliteOfLedgerco(['db.execute("UPDATE ledger SET forwarded = forwarded - 1 WHERE forwarded > 0")']);
    const verify = await admin('GET', 'accounts/ledgerco/audit/verify?full=true');
    assert.equal(verify.json.ok, false, verify.text);
    assert.equal(verify.json.first_break.reason, "the day's ledger rows do not match their seal");
    assert.equal(verify.json.first_break.seq, seals[0].seq);
    assert.equal(verify.json.first_break.day, sealed.json.sealed[0]);
  });

  test('altering one stored entry is reported at that entry', () => {
    // Change entry 1 behind the guard's back.
    const out = sqliteOfLedgerco(['db.execute("UPDATE audit SET detail = replace(detail, \'Ledger Co\', \'Someone Else\') WHERE seq = 1")']);
    assert.equal(out.length, 1, `tampered with: ${out}`);
  });

  test('verify reports the first break', async () => {
    // Entry 1 was verified before the change: only a full walk reads it again.
    const verify = await admin('GET', 'accounts/ledgerco/audit/verify?full=true');
    assert.equal(verify.json.ok, false, verify.text);
    assert.deepEqual(verify.json.first_break, { seq: 1, reason: 'content does not match its hash' });
  });
});

/** Runs Python statements (on `db`) against the ledgerco guard's database; returns the paths changed. */
function sqliteOfLedgerco(lines) {
  const walk = (dir) => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  const dbs = walk(stack.persist).filter((p) => p.endsWith('.sqlite'));
  const script = `
import sqlite3, sys
for path in sys.argv[1:]:
    db = sqlite3.connect(path, timeout=10)
    try:
        rows = db.execute("SELECT detail FROM audit WHERE seq = 1").fetchall()
    except sqlite3.Error:
        continue
    if rows and '"ledgerco"' in rows[0][0]:
${lines.map((l) => `        ${l}`).join('\n')}
        db.commit()
        print(path)
`;
  return execFileSync('python3', ['-c', script, ...dbs], { encoding: 'utf8', timeout: 30_000 }).trim().split('\n').filter(Boolean);
}

describe('bad admin input', () => {
  test('each kind of bad input is a 400 naming what is wrong, and nothing is written', async () => {
    const cases = [
      ['PUT', 'plans/bad-plan', { ...PLAN, id: 'bad-plan', endpoints: [{ method: 'GET', path: 'no-slash', group: 'g' }] }, /endpoints/],
      ['PUT', 'plans/bad-plan', { ...PLAN, id: 'bad-plan', limits: [{ group: 'nope', scope: 'app', requests: 1 }] }, /limits/],
      ['PUT', 'plans/bad-plan', { ...PLAN, id: 'other' }, /`id`/],
      ['PUT', 'plans/bad-plan', { ...PLAN, id: 'bad-plan', colour: 'red' }, /colour/],
      ['PUT', 'accounts/bad-acct', { ...ACCOUNT, id: 'bad-acct', name: '' }, /name/],
      ['PUT', 'accounts/bad-acct', { ...ACCOUNT, id: 'bad-acct', redistribution: { ids_per_entity_30d: 0 } }, /redistribution/],
      ['PUT', 'accounts/Bad Acct', ACCOUNT, /not an id/],
      ['PUT', 'accounts/ledgerco/recipients/r1', { class: 'spaceship', entity: 'e', approval: 'approved' }, /class|variant/],
      ['PUT', 'accounts/ledgerco/use-cases/uc', { status: 'maybe' }, /status|variant/],
      ['POST', 'accounts/ledgerco/tokens', { app: 'Not Valid' }, /`app`/],
      ['POST', 'accounts/ledgerco/tokens', { app: 'ok-app', extra: 1 }, /extra/],
      ['POST', 'tokens/abc/revoke', undefined, /64 lowercase hex/],
    ];
    for (const [method, route, body, detail] of cases) {
      const res = await admin(method, route, body);
      assert.equal(res.status, 400, `${method} ${route}: ${res.text}`);
      assert.equal(res.json.status, 400);
      assert.match(res.json.detail, detail, `${method} ${route}`);
    }
    assert.equal((await admin('GET', 'plans/bad-plan')).status, 404, 'a refused plan was written');
    assert.equal((await admin('GET', 'accounts/bad-acct')).status, 404, 'a refused account was written');
    const unchanged = await admin('GET', 'accounts/ledgerco');
    assert.equal(unchanged.json.redistribution?.recipients?.length ?? 0, 0);
    assert.equal((await admin('POST', 'accounts/nobody/tokens', { app: 'x' })).status, 404);
    assert.equal((await admin('GET', 'no/such/route')).status, 404);
    const unparsable = await fetch(`${stack.base}/_tollgate/admin/v1/plans/p`, {
      method: 'PUT', headers: { authorization: `Bearer ${stack.adminSecret}` }, body: '{not json',
    });
    assert.equal(unparsable.status, 400);
  });

  test('a missing or wrong secret is refused, and repeated failures are throttled', async () => {
    const none = await fetch(`${stack.base}/_tollgate/admin/v1/accounts`);
    assert.equal(none.status, 401);
    const wrong = await admin('GET', 'accounts', undefined, { secret: 'y'.repeat(64) });
    assert.equal(wrong.status, 401);
    let throttled;
    for (let i = 0; i < 12; i++) {
      throttled = await admin('GET', 'accounts', undefined, { secret: `wrong-${i}`.padEnd(64, 'x') });
    }
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '60');
  });
});
