// The billing export end to end: real traffic through the enforcer, sealed days, usage events
// read by cursor in both forms, and the export pass through the billing queue (wrangler runs
// Queues locally) to a real receiver on loopback that refuses some deliveries and one event
// always, until it is fixed: retries deliver the rest, the dead-letter queue keeps the one, a
// replay delivers it, and in the end every event arrived exactly once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { kvEntries } from '../demo/seed.mjs';
import { ROOT, newToken, startStack } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ACCOUNTS = ['exp-one', 'exp-two', 'exp-three'];
const PLAN = {
  v: 1,
  id: 'exported',
  endpoints: [
    { method: 'GET', path: '/2/tweets/search/recent', group: 'search' },
    { method: 'GET', path: '/2/tweets', group: 'lookup' },
  ],
};
const TOKENS = {};
for (const account of ACCOUNTS) for (const app of ['a', 'b']) TOKENS[`${account}-${app}`] = newToken();
const DOC = {
  plans: [PLAN],
  accounts: ACCOUNTS.map((id) => ({
    v: 1, id, name: id, plan: 'exported', status: 'active', use_cases: [{ id: 'uc', status: 'approved' }],
    // One account names its Stripe customer; the others are billed under their account id.
    ...(id === 'exp-two' ? { stripe_customer_id: 'cus_ExpTwo123' } : {}),
  })),
  apps: Object.entries(TOKENS).map(([app, token]) => ({ token, record: { v: 1, account: app.replace(/-[ab]$/, ''), app, status: 'active', use_case: 'uc' } })),
};

/** The receiver: a real HTTP server that refuses the first attempt of every other event, and
 * every attempt of a poisoned one. */
const RECEIVER_TOKEN = randomBytes(24).toString('hex');
const receiver = {
  attempts: [], // { id, status }
  accepted: new Map(), // id → [bodies]
  seen: new Set(),
  firstRefused: 0,
  poisoned: new Set(),
};
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const id = req.headers['idempotency-key'];
    let status = 200;
    if (req.headers.authorization !== `Bearer ${RECEIVER_TOKEN}`) status = 401;
    else if (req.headers['content-type'] !== 'application/cloudevents+json') status = 415;
    else if (receiver.poisoned.has(id)) status = 500;
    else if (!receiver.seen.has(id)) {
      receiver.seen.add(id);
      if (receiver.seen.size % 2 === 0) { status = 503; receiver.firstRefused += 1; }
    }
    receiver.attempts.push({ id, status });
    if (status === 200) {
      const list = receiver.accepted.get(id) ?? [];
      list.push(JSON.parse(body));
      receiver.accepted.set(id, list);
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: status === 200 }));
  });
});

let stack;
before(async () => {
  await promisify(execFile)('cargo', ['build', '--quiet', '--bin', 'tollgate-admin'], { cwd: ROOT, timeout: 300_000 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${server.address().port}/ingest`;
  stack = await startStack({ entries: kvEntries(DOC), controlSecrets: { BILLING_ENDPOINT: endpoint, BILLING_ENDPOINT_TOKEN: RECEIVER_TOKEN } });
}, { timeout: 200_000 });
after(async () => {
  await stack?.stop();
  await new Promise((resolve) => server.close(resolve));
});

const admin = async (method, route, body) => {
  const res = await stack.admin(method, route, body);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
};

async function waitFor(what, check, ms = 90_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** Every event of an account, read by cursor `limit` at a time. */
async function readAll(account, form = 'cloudevents', limit = 2) {
  const events = [];
  let after = '';
  for (let pages = 0; pages < 50; pages++) {
    const page = await admin('GET', `accounts/${account}/billing-events?form=${form}&limit=${limit}&after=${encodeURIComponent(after)}`);
    assert.equal(page.status, 200, page.text);
    events.push(...page.json.events);
    if (!page.json.more) return events;
    after = page.json.next;
  }
  throw new Error('too many pages');
}

/** Moves every guard's ledger back one day, as if a day had passed (see ledger.test.mjs). */
function yesterday() {
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
        n = db.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
    except sqlite3.Error:
        continue
    if n > 0:
        db.execute("UPDATE ledger SET day = day - 1")
        db.execute("UPDATE refusals SET day = day - 1")
        db.execute("DELETE FROM marks WHERE k = 'sealed_through'")
        db.commit()
        print(path)
`;
  return execFileSync('python3', ['-c', script, ...dbs], { encoding: 'utf8', timeout: 30_000 }).trim().split('\n').filter(Boolean);
}

const expected = new Map(); // id → CloudEvent

describe('billing export', () => {
  test('a sealed day becomes one event per account, app and group, readable by cursor in both forms', async () => {
    for (const [app, token] of Object.entries(TOKENS)) {
      for (const path of ['/2/tweets/search/recent?query=bill&max_results=10', '/2/tweets?ids=1,2,3']) {
        const res = await stack.call(path, { token });
        assert.equal(res.status, 200, `${app} ${path}`);
        await res.arrayBuffer();
      }
    }
    await sleep(800);
    // Today is not over: no event yet.
    assert.deepEqual((await admin('GET', 'accounts/exp-one/billing-events')).json.events, []);

    assert.equal(yesterday().length, ACCOUNTS.length);
    for (const account of ACCOUNTS) {
      const sealed = await admin('POST', `accounts/${account}/housekeep`);
      assert.equal(sealed.json.sealed.length, 1, sealed.text);
    }
    for (const account of ACCOUNTS) {
      const events = await readAll(account);
      // Two apps × two groups.
      assert.equal(events.length, 4, JSON.stringify(events));
      const usage = (await admin('GET', `accounts/${account}/usage?month=${events[0].data.day.slice(0, 7)}`)).json;
      for (const e of events) {
        assert.equal(e.specversion, '1.0');
        assert.equal(e.type, 'com.tollgate.usage.daily');
        assert.equal(e.subject, account);
        assert.match(e.id, /^tgu_[0-9a-f]{32}$/);
        assert.equal(e.time, `${e.data.day}T00:00:00Z`);
        const row = usage.rows.find((r) => r.app === e.data.app && r.group === e.data.group && r.day === e.data.day);
        assert.deepEqual([e.data.requests, e.data.items, e.data.distinct_items], [row.forwarded, row.items, row.distinct_items]);
        assert.ok(e.data.seal_seq > 0 && /^[0-9a-f]{64}$/.test(e.data.ledger_sha256), 'each event names its seal');
        expected.set(e.id, e);
      }
      // The Stripe form: the same ids, the distinct items as the meter's value.
      const stripe = await readAll(account, 'stripe', 3);
      assert.deepEqual(stripe.map((s) => s.identifier), events.map((e) => e.id));
      for (const s of stripe) {
        const e = expected.get(s.identifier);
        assert.equal(s.event_name, 'tollgate_distinct_items');
        assert.equal(s.payload.value, String(e.data.distinct_items));
        assert.equal(s.payload.stripe_customer_id, account === 'exp-two' ? 'cus_ExpTwo123' : account);
        assert.equal(s.timestamp, Date.parse(e.time) / 1000);
      }
      // The same bucket read again has the same id.
      assert.deepEqual((await readAll(account, 'cloudevents', 100)).map((e) => e.id), events.map((e) => e.id));
    }
    assert.equal(expected.size, ACCOUNTS.length * 4);
    for (const bad of ['after=nonsense', 'limit=0', 'limit=1001', 'form=xml']) {
      assert.equal((await admin('GET', `accounts/exp-one/billing-events?${bad}`)).status, 400, bad);
    }
  });

  test('pushed through the queue to a receiver that fails some deliveries: none lost, none doubled', { timeout: 240_000 }, async () => {
    const poison = [...expected.keys()][5];
    receiver.poisoned.add(poison);
    const pass = await admin('POST', 'billing/export');
    assert.equal(pass.status, 200, pass.text);
    assert.equal(pass.json.enabled, true);
    assert.equal(pass.json.events, expected.size);
    assert.deepEqual(pass.json.failed, []);

    // Everything but the poisoned event arrives, the refused first attempts retried.
    await waitFor('the deliveries', () => receiver.accepted.size === expected.size - 1);
    // The poisoned one runs out of retries (1 + 4 attempts) and is kept as a dead letter.
    const dead = await waitFor('the dead letter', async () => {
      const list = (await admin('GET', 'billing/dead-letters')).json.dead_letters;
      return list.length ? list : null;
    });
    assert.deepEqual(dead.map((d) => d.id), [poison]);
    assert.equal(dead[0].account, expected.get(poison).subject);
    assert.equal(receiver.attempts.filter((a) => a.id === poison).length, 5);
    // A second pass sends nothing: the guards' marks moved past what was sent.
    assert.equal((await admin('POST', 'billing/export')).json.events, 0);

    // The receiver is fixed; the dead letter is replayed and delivered.
    receiver.poisoned.clear();
    const replay = await admin('POST', 'billing/dead-letters/replay');
    assert.deepEqual(replay.json, { replayed: 1 });
    await waitFor('the replayed event', () => receiver.accepted.has(poison));
    assert.deepEqual((await admin('GET', 'billing/dead-letters')).json.dead_letters, []);
    await sleep(3000); // anything late would show now

    // None lost, none doubled: each expected event accepted exactly once, and as it was read.
    assert.deepEqual([...receiver.accepted.keys()].sort(), [...expected.keys()].sort());
    for (const [id, bodies] of receiver.accepted) {
      assert.equal(bodies.length, 1, `${id} accepted ${bodies.length} times`);
      assert.deepEqual(bodies[0], expected.get(id));
    }
    // Deliveries did fail, and were retried.
    assert.ok(receiver.firstRefused >= expected.size / 2 - 1, `${receiver.firstRefused} first attempts refused`);
    assert.ok(receiver.attempts.length >= expected.size + receiver.firstRefused + 4, `${receiver.attempts.length} attempts`);
    assert.ok(receiver.attempts.every((a) => a.status !== 401 && a.status !== 415), 'a delivery without the token or the form');
    // The admins' command reads the same events and says the export has nothing left to send.
    const cli = (args) => promisify(execFile)(join(ROOT, 'target/debug/tollgate-admin'), args, {
      env: { PATH: process.env.PATH, TOLLGATE_URL: stack.base, TOLLGATE_ADMIN_SECRET: stack.adminSecret }, timeout: 30_000,
    });
    const listed = await cli(['billing', 'events', '--account', 'exp-one', '--limit', '1', '--all']);
    const fromCli = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(fromCli, [...expected.values()].filter((e) => e.subject === 'exp-one'));
    assert.match(listed.stderr, /^next: \d+:exp-one-b:search$/m);
    assert.match((await cli(['billing', 'export'])).stdout, /^0 events of \d+ accounts sent; 0 accounts failed$/m);
    assert.equal((await cli(['billing', 'dead-letters'])).stdout, '');
    console.log(`billing export: ${expected.size} events, ${receiver.attempts.length} delivery attempts, ${receiver.firstRefused} first attempts refused, 1 dead letter replayed`);
  });
});
