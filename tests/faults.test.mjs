// Faults end to end through `wrangler dev`: an origin that refuses, hangs, dies midway, answers
// garbage or a huge body; a failing account guard. Each gets its documented answer, the worker
// keeps serving others, and the ledger neither loses nor doubles a request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { demoToken, freePort, newToken, startStack, tokenHash } from './harness.mjs';

const openToken = newToken();
const entries = [
  {
    key: 'tollgate:v1:plan:open-plan',
    value: JSON.stringify({
      v: 1, id: 'open-plan', guard_failure: 'open',
      endpoints: [{ method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
    }),
  },
  {
    key: 'tollgate:v1:account:openco',
    value: JSON.stringify({ v: 1, id: 'openco', name: 'Open Co', plan: 'open-plan', status: 'active', use_cases: [{ id: 'x', status: 'approved' }] }),
  },
  { key: `tollgate:v1:token:${tokenHash(openToken)}`, value: JSON.stringify({ v: 1, account: 'openco', app: 'open-app', status: 'active', use_case: 'x' }) },
];

let stack;
before(async () => { stack = await startStack({ entries, vars: { ORIGIN_TIMEOUT_MS: '1500' } }); }, { timeout: 200_000 });
after(async () => { await stack?.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const acme = () => demoToken('acme-backfill');
async function usage(account) {
  await sleep(400);
  return (await (await stack.admin('GET', `accounts/${account}/usage`)).json()).totals;
}
async function withFault(fault, fn) {
  await stack.fault(fault);
  try {
    return await fn();
  } finally {
    await stack.fault({ mode: 'none' });
  }
}

describe('origin faults', () => {
  test('an origin that refuses connections is a 502, charged once, and others keep working', async () => {
    const port = await freePort(); // nothing listens there
    const down = await startStack({ vars: { ORIGIN_URL: `http://127.0.0.1:${port}` } });
    try {
      const res = await down.call('/2/tweets/20', { token: acme() });
      assert.equal(res.status, 502);
      assert.equal((await res.json()).type.endsWith('/bad-gateway'), true);
      await sleep(400);
      const t = (await (await down.admin('GET', 'accounts/acme/usage')).json()).totals;
      assert.equal(t.forwarded, 1, 'the admitted request is charged once');
      assert.equal(t.items, 0);
    } finally {
      await down.stop();
    }
  });

  test('an origin that dies midway through a body is a 502; the next request is served', async () => {
    const before = await usage('acme');
    await withFault({ mode: 'truncate' }, async () => {
      const res = await stack.call('/2/tweets/20', { token: acme() });
      assert.equal(res.status, 502);
    });
    const ok = await stack.call('/2/tweets/20', { token: acme() });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const after = await usage('acme');
    assert.equal(after.forwarded - before.forwarded, 2);
    assert.equal(after.items - before.items, 1, 'only the delivered response counts items');
  });

  test('garbage from the origin passes through uncounted, but never to a recipient', async () => {
    await withFault({ mode: 'garbage' }, async () => {
      const res = await stack.call('/2/tweets/20', { token: acme() });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^<html>oops/);
      const filtered = await stack.call('/2/tweets/20', { token: demoToken('relay-feed'), headers: { 'x-tollgate-recipient': 'northwind-east' } });
      assert.equal(filtered.status, 502);
      assert.equal((await filtered.json()).reason, 'origin-response-unfilterable');
    });
  });

  test('a huge body is delivered and counted, and filtered for a recipient', { timeout: 120_000 }, async () => {
    await withFault({ mode: 'huge' }, async () => {
      const res = await fetch(`${stack.base}/2/tweets/search/recent?query=huge`, {
        headers: { authorization: `Bearer ${acme()}` },
        signal: AbortSignal.timeout(100_000),
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.ok(body.data.length > 100_000, `${body.data.length} items`);
      const filtered = await stack.call('/2/tweets/20', { token: demoToken('relay-feed'), headers: { 'x-tollgate-recipient': 'northwind-east' } });
      assert.equal(filtered.status, 200);
      const ids = await filtered.json();
      assert.equal(ids.data.length, 100, 'cut to what one response may carry');
      assert.deepEqual(Object.keys(ids.data[0]), ['id']);
    });
    assert.equal((await stack.call('/2/tweets/20', { token: acme() })).status, 200);
  });

  test('an origin error status passes through with its own body', async () => {
    await withFault({ mode: 'status', status: 503 }, async () => {
      const res = await stack.call('/2/tweets/20', { token: acme() });
      assert.equal(res.status, 503);
      assert.equal((await res.json()).title, 'Service Unavailable');
    });
  });
});

describe('guard faults', () => {
  test('a failing guard refuses a closed plan with 503, forwards an open one, and spares others', async () => {
    // Warm both guards, then break their storage behind their backs.
    assert.equal((await stack.call('/2/tweets/20', { token: openToken })).status, 200);
    assert.equal((await stack.call('/2/tweets/21', { token: demoToken('initech-app') })).status, 403);
    assert.equal((await stack.call('/2/tweets/20', { token: acme() })).status, 200);
    await sleep(300);
    const walk = (dir) => readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
    const dbs = walk(stack.persist).filter((p) => p.endsWith('.sqlite'));
    const script = `
import sqlite3, sys
broken = 0
for path in sys.argv[1:]:
    db = sqlite3.connect(path, timeout=10)
    try:
        apps = [r[0] for r in db.execute("SELECT DISTINCT app FROM ledger")]
    except sqlite3.Error:
        continue
    if 'open-app' in apps or 'acme-backfill' in apps:
        # Every charge reads the revocation list: make it unreadable.
        db.execute("DROP TABLE revoked")
        db.execute("CREATE VIEW revoked AS SELECT 1 AS unrelated")
        db.commit()
        broken += 1
print(broken)
`;
    const broken = execFileSync('python3', ['-c', script, ...dbs], { encoding: 'utf8', timeout: 30_000 }).trim();
    assert.equal(broken, '2');
    const closed = await stack.call('/2/tweets/20', { token: acme() });
    assert.equal(closed.status, 503);
    assert.equal((await closed.json()).reason, 'guard-unavailable');
    const open = await stack.call('/2/tweets/20', { token: openToken });
    assert.equal(open.status, 200, 'the open plan forwards');
    await open.arrayBuffer();
    for (let i = 0; i < 40 && !/guard_bypassed/.test(stack.logs()); i++) await sleep(100);
    assert.match(stack.logs(), /"account":"openco"[^\n]*"event":"guard_bypassed"/);
    // Another account's guard is untouched.
    const other = await stack.call('/2/tweets/20', { token: demoToken('globex-lookup') });
    assert.equal(other.status, 200);
    assert.doesNotMatch(stack.logs(), /panicked|RuntimeError/);
  });

  test('a lease settlement the guard fails is kept, sent again, and counted once', async () => {
    const bulk = demoToken('bulk-archiver');
    // A first lease and its settlement: the account's guard now has its ledger.
    assert.equal((await stack.call('/2/tweets/20', { token: bulk })).status, 200);
    // Due 2 s after the grant; waited for up to 10 s more (`usage` waits 0.4 s a call), as a
    // loaded machine runs timers late.
    await sleep(2000);
    let before = await usage('bulk');
    for (let i = 0; i < 20 && before.forwarded < 1; i++) before = await usage('bulk');
    assert.equal(before.forwarded, 1);
    // Every ledger write now fails in the guard's own SQLite. A settlement marks its id settled
    // before it counts: only the command's transaction keeps the id from staying marked.
    const failLedger = (on) => guardSql('bulk-archiver', on
      ? ['CREATE TRIGGER fail_insert BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, \'injected\'); END',
        'CREATE TRIGGER fail_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, \'injected\'); END']
      : ['DROP TRIGGER fail_insert', 'DROP TRIGGER fail_update']);
    failLedger(true);
    let restored = false;
    try {
      for (let i = 0; i < 10; i++) assert.equal((await stack.call('/2/tweets/20', { token: bulk })).status, 200);
      // The lease's settlement (due 2 s after its grant) fails, and is logged with its counts.
      for (let i = 0; i < 80 && !/lease_not_settled/.test(stack.logs()); i++) await sleep(100);
      assert.match(stack.logs(), /"account":"bulk"[^\n]*"event":"lease_not_settled"[^\n]*"requests":10/);
      assert.equal((await usage('bulk')).forwarded, 1, 'nothing of the failed settlement was kept');
      failLedger(false);
      restored = true;
      // Sent again within seconds, and settled once.
      let after = before;
      for (let i = 0; i < 40 && after.forwarded === before.forwarded; i++) after = await usage('bulk');
      assert.equal(after.forwarded, 11);
      await sleep(5000);
      assert.equal((await usage('bulk')).forwarded, 11, 'counted once');
    } finally {
      if (!restored) failLedger(false);
    }
  });
});

describe('guard storage full', () => {
  // Every guard of this stack fails a command that grows its database past LIMIT bytes, as
  // SQLite does when it cannot grow (test-only GUARD_STORAGE_LIMIT_BYTES; the platform's limit is
  // 10 GB). Two accounts on a strict plan with a monthly cap fill theirs with pages of 100 new
  // items: one plan fails closed, the other open. Nothing may be lost in silence: what the
  // origin served is in the ledger or in a log line with its counts.
  const LIMIT = 512 * 1024;
  const full = { closed: newToken(), open: newToken() };
  const plan = (id, failure) => ({
    v: 1, id, guard_failure: failure, monthly_item_cap: 100_000_000,
    endpoints: [{ method: 'GET', path: '/2/tweets', group: 'lookup' }],
  });
  const seed = [
    ['plan:fill-closed', plan('fill-closed', 'closed')],
    ['plan:fill-open', plan('fill-open', 'open')],
    ['account:fullclosed', { v: 1, id: 'fullclosed', name: 'Full Closed', plan: 'fill-closed', status: 'active', use_cases: [{ id: 'x', status: 'approved' }] }],
    ['account:fullopen', { v: 1, id: 'fullopen', name: 'Full Open', plan: 'fill-open', status: 'active', use_cases: [{ id: 'x', status: 'approved' }] }],
    [`token:${tokenHash(full.closed)}`, { v: 1, account: 'fullclosed', app: 'closed-app', status: 'active', use_case: 'x' }],
    [`token:${tokenHash(full.open)}`, { v: 1, account: 'fullopen', app: 'open-app', status: 'active', use_case: 'x' }],
  ].map(([key, value]) => ({ key: `tollgate:v1:${key}`, value: JSON.stringify(value) }));
  let small;
  before(async () => { small = await startStack({ entries: seed, controlVars: { GUARD_STORAGE_LIMIT_BYTES: LIMIT } }); }, { timeout: 200_000 });
  after(async () => { await small?.stop(); });

  const page = (n) => `/2/tweets?ids=${Array.from({ length: 100 }, (_, k) => 7 * (n * 100 + k) + 1).join(',')}`;
  /** The worker's log lines of one event for one account, parsed. */
  const lines = (event, account) => small.logs().split('\n')
    .filter((l) => l.includes(`"event":"${event}"`) && (!account || l.includes(`"account":"${account}"`)))
    .map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  /** Pages of new items until a delivery of the account is not recorded (its guard is full),
   * then `after` more; the statuses. */
  async function fill(token, account, after) {
    const statuses = [];
    let extra = -1;
    for (let n = 0; n < 2_000 && extra < after; n++) {
      const res = await small.call(page(n), { token });
      await res.arrayBuffer();
      statuses.push(res.status);
      if (extra >= 0 || lines('delivery_not_recorded', account).length > 0) extra += 1;
    }
    return statuses;
  }
  const totals = async (account) => (await (await small.admin('GET', `accounts/${account}/usage`)).json()).totals;

  test('a closed plan is refused with 503 once its guard is full, and every item served is in the ledger or logged', async () => {
    const before = await small.originStats();
    const statuses = await fill(full.closed, 'fullclosed', 5);
    const origin = await small.originStats();
    const served = origin.served - before.served;
    const items = origin.items - before.items;
    assert.ok(statuses.includes(503), `the storage never filled: ${statuses.length} pages`);
    // Once refused, refused: the traffic waits until the guard has room.
    const first = statuses.indexOf(503);
    assert.deepEqual([...new Set(statuses.slice(first))], [503]);
    assert.ok(statuses.slice(0, first).every((st) => st === 200));
    const full503 = await small.call(page(0), { token: full.closed });
    assert.equal((await full503.json()).reason, 'guard-unavailable');
    // The guard says what it could not keep, with its counts; the edge, what it refused.
    await sleep(1000);
    const storage = lines('guard_storage_full');
    assert.ok(storage.length >= 1 && storage[0].command === 'delivered' && storage[0].items === 100, JSON.stringify(storage[0]));
    assert.ok(storage[0].database_bytes <= LIMIT, 'nothing of the refused command was kept');
    assert.ok(lines('guard_unavailable', 'fullclosed').length >= 6);
    // Reads still work, and the ledger with the logged deliveries is exactly what was served.
    const ledger = await totals('fullclosed');
    const logged = lines('delivery_not_recorded', 'fullclosed').reduce((n, l) => n + l.items, 0);
    assert.equal(ledger.forwarded, served, 'every request served was charged');
    assert.ok(logged >= 100, 'the delivery that did not fit is logged');
    assert.equal(ledger.items + logged, items, `ledger ${ledger.items} + logged ${logged} = served ${items}`);
  });

  test('an open plan goes on uncounted once its guard is full, and logs every request and item', async () => {
    const before = await small.originStats();
    const statuses = await fill(full.open, 'fullopen', 10);
    const origin = await small.originStats();
    assert.deepEqual([...new Set(statuses)], [200], 'an open plan forwards');
    await sleep(1000);
    const ledger = await totals('fullopen');
    const bypassed = lines('guard_bypassed', 'fullopen').length;
    const logged = lines('delivery_not_recorded', 'fullopen').reduce((n, l) => n + l.items, 0);
    assert.ok(bypassed >= 10, `${bypassed} requests bypassed the guard`);
    assert.equal(ledger.forwarded + bypassed, origin.served - before.served, 'every request charged or logged');
    assert.equal(ledger.items + logged, origin.items - before.items, 'every item counted or logged');
  });
});

/** Runs SQL statements in the SQLite file of the guard whose ledger names `app`. */
function guardSql(app, statements) {
  const walk = (dir) => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  const dbs = walk(stack.persist).filter((p) => p.endsWith('.sqlite'));
  const script = `
import json, sqlite3, sys
app, statements = sys.argv[1], json.loads(sys.argv[2])
done = 0
for path in sys.argv[3:]:
    db = sqlite3.connect(path, timeout=10)
    try:
        apps = [r[0] for r in db.execute("SELECT DISTINCT app FROM ledger")]
    except sqlite3.Error:
        continue
    if app in apps:
        for statement in statements:
            db.execute(statement)
        db.commit()
        done += 1
print(done)
`;
  const done = execFileSync('python3', ['-c', script, app, JSON.stringify(statements), ...dbs], { encoding: 'utf8', timeout: 30_000 }).trim();
  assert.equal(done, '1', `the guard of ${app}`);
}
