// What an account owes, end to end through `wrangler dev`: a plan with prices, real traffic
// through the enforcer, and the month's statement (JSON and CSV) reconciled exactly with the
// origin's own counts, the ledger, and an amount computed here independently; the rule that a
// price change applies from the next month; and a day's figures pinned by its seal.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';

import { ApiResponseError, TwitterApi } from 'twitter-api-v2';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { kvEntries } from '../demo/seed.mjs';
import { ROOT, clearOfWindowEnd, newToken, startStack } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const PRICE_V1 = {
  version: 1, from: '2026-01', currency: 'USD', monthly_fee: 50000, included_items: 20,
  overage_per_1000_items: 1250, per_1000_requests: { search: 400 },
};
const PLAN = {
  v: 1,
  id: 'metered',
  endpoints: [
    { method: 'GET', path: '/2/tweets/search/recent', group: 'search' },
    { method: 'GET', path: '/2/tweets', group: 'lookup' },
    { method: 'GET', path: '/2/tweets/:id', group: 'lookup' },
  ],
  limits: [{ group: 'search', scope: 'app', requests: 3, window_seconds: 900 }],
  monthly_item_cap: 100000,
  prices: [PRICE_V1],
};
const ACCOUNT = {
  v: 1, id: 'billco', name: 'Bill Co', plan: 'metered', status: 'active',
  use_cases: [{ id: 'analytics', status: 'approved', description: 'Internal analytics' }],
};
const TOKENS = { 'bill-one': newToken(), 'bill-two': newToken() };
const DOC = {
  plans: [PLAN],
  accounts: [ACCOUNT],
  apps: Object.entries(TOKENS).map(([app, token]) => ({ token, record: { v: 1, account: 'billco', app, status: 'active', use_case: 'analytics' } })),
};

let stack;
before(async () => {
  await promisify(execFile)('cargo', ['build', '--quiet', '--bin', 'tollgate-admin'], { cwd: ROOT, timeout: 300_000 });
  stack = await startStack({ entries: kvEntries(DOC) });
}, { timeout: 400_000 });
after(async () => { await stack?.stop(); });

const admin = async (method, route, body) => {
  const res = await stack.admin(method, route, body);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
};

/** What this test saw, per app and group: requests served, items, ids, refusals by reason. */
const seen = new Map();
const ids = new Set();
const line = (app, group) => {
  const key = `${app}/${group}`;
  if (!seen.has(key)) seen.set(key, { app, group, requests: 0, items: 0, refused: {} });
  return seen.get(key);
};

async function send(app, group, path) {
  const res = await stack.call(path, { token: TOKENS[app] });
  const text = await res.text();
  const l = line(app, group);
  if (res.status === 200) {
    const data = JSON.parse(text).data ?? [];
    const list = Array.isArray(data) ? data : [data];
    l.requests += 1;
    l.items += list.length;
    for (const item of list) ids.add(item.id);
  } else {
    const reason = JSON.parse(text).reason ?? JSON.parse(text).type.split('/').pop();
    l.refused[reason] = (l.refused[reason] ?? 0) + 1;
  }
  return res.status;
}

const month = new Date().toISOString().slice(0, 7);
const nextMonth = (() => {
  const [y, m] = month.split('-').map(Number);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
})();

/** The amount, computed here from the price and the counts: integers, rounded once, halves up. */
function expectedAmount(price, distinct, requestsByGroup) {
  const perThousand = (n, rate) => Math.floor((n * rate + 500) / 1000);
  let amount = price.monthly_fee + perThousand(Math.max(0, distinct - price.included_items), price.overage_per_1000_items);
  for (const [group, rate] of Object.entries(price.per_1000_requests ?? {})) amount += perThousand(requestsByGroup[group] ?? 0, rate);
  return amount;
}

/** A day's digest in the seal's form (src/domain/record/seal.rs). */
function dayDigest(rows) {
  const sorted = [...rows].sort((a, b) => (a.app + '\0' + a.group + '\0' + a.recipient).localeCompare(b.app + '\0' + b.group + '\0' + b.recipient));
  const h = createHash('sha256');
  for (const r of sorted) {
    const refused = Object.keys(r.refused).sort().map((k) => `${k}=${r.refused[k]}`).join(',');
    h.update(`${r.app}\t${r.group}\t${r.recipient}\t${r.forwarded}\t${r.items}\t${r.distinct_items}\t${r.bytes}\t${refused}\n`);
  }
  return h.digest('hex');
}

describe('monthly statement', () => {
  test('reconciles exactly with the origin, the ledger and an amount computed independently', async () => {
    // The search limit's window is the clock's quarter of an hour: its 3 count in one.
    await clearOfWindowEnd(900_000, 10_000);
    await stack.resetOrigin();
    const calls = [
      ['bill-one', 'search', '/2/tweets/search/recent?query=bills&max_results=10', 200],
      ['bill-one', 'search', '/2/tweets/search/recent?query=more&max_results=12', 200],
      ['bill-one', 'search', '/2/tweets/search/recent?query=bills&max_results=10', 200], // repeats: not distinct
      ['bill-one', 'search', '/2/tweets/search/recent?query=over', 429], // the app's 3 per window
      ['bill-one', 'lookup', '/2/tweets?ids=1,2,3', 200],
      ['bill-one', 'lookup', '/2/tweets?ids=1,2,3', 200],
      ['bill-two', 'lookup', '/2/tweets/77', 200],
      ['bill-two', 'search', '/2/tweets/search/recent?query=two&max_results=15', 200],
      ['bill-two', '-', '/2/users/1/tweets', 403], // not in the plan
    ];
    for (const [app, group, path, status] of calls) assert.equal(await send(app, group, path), status, path);
    await sleep(800); // deliveries are recorded just after each response

    const origin = await stack.originStats();
    const statement = await admin('GET', 'accounts/billco/statement');
    assert.equal(statement.status, 200, statement.text);
    const s = statement.json;
    assert.equal(s.account, 'billco');
    assert.equal(s.month, month);
    assert.equal(s.plan, 'metered');
    assert.equal(s.price_version, 1);
    assert.equal(s.currency, 'USD');
    assert.equal(s.final, false);

    // The origin's own counts.
    assert.equal(s.totals.requests, origin.served);
    assert.equal(s.totals.items, origin.items);
    // What the client received, line by line.
    const mine = [...seen.values()].sort((a, b) => `${a.app}/${a.group}`.localeCompare(`${b.app}/${b.group}`));
    assert.deepEqual(
      s.lines.map((l) => ({ app: l.app, group: l.group, requests: l.requests, items: l.items, refused: l.refused })),
      mine,
    );
    assert.equal(s.totals.distinct_items, ids.size);
    assert.equal(s.totals.refused, 2);

    // The amount, from the price and the counts.
    const byGroup = {};
    for (const l of s.lines) byGroup[l.group] = (byGroup[l.group] ?? 0) + l.requests;
    const amount = expectedAmount(PRICE_V1, ids.size, byGroup);
    assert.equal(s.amount_due_minor, amount);
    assert.equal(s.amount_due, (amount / 100).toFixed(2));
    assert.equal(s.charges.reduce((sum, c) => sum + c.amount_minor, 0), amount);
    assert.ok(Number.isInteger(s.amount_due_minor));

    // The ledger: the usage export says the same, and the digest of its rows is the one pinned.
    const usage = (await admin('GET', 'accounts/billco/usage')).json;
    assert.equal(usage.totals.forwarded, s.totals.requests);
    assert.equal(usage.totals.items, s.totals.items);
    assert.equal(usage.totals.distinct_items, s.totals.distinct_items);
    assert.equal(usage.totals.refused, s.totals.refused);
    const days = [...new Set(usage.rows.map((r) => r.day))].sort();
    const monthDigest = createHash('sha256');
    for (const day of days) {
      const digest = dayDigest(usage.rows.filter((r) => r.day === day));
      assert.equal(s.pinned_by.days.find((d) => d.day === day).ledger_sha256, digest);
      monthDigest.update(`${day}\t${digest}\n`);
    }
    assert.equal(s.pinned_by.ledger_sha256, monthDigest.digest('hex'));
    // The chain's head when the statement was made.
    const audit = (await admin('GET', 'accounts/billco/audit')).json.entries;
    if (audit.length) assert.deepEqual(s.pinned_by.audit_head, { seq: audit.at(-1).seq, hash: audit.at(-1).hash });
    else assert.equal(s.pinned_by.audit_head, null);

    // The CSV carries the same figures.
    const csv = await admin('GET', 'accounts/billco/statement?format=csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type'), /^text\/csv/);
    const [head, lines, charges] = csv.text.trim().split('\n\n').map((b) => b.split('\n').map((l) => l.split(',')));
    const heading = Object.fromEntries(head[0].map((k, i) => [k, head[1][i]]));
    assert.equal(Number(heading.amount_due_minor), amount);
    assert.equal(heading.ledger_sha256, s.pinned_by.ledger_sha256);
    assert.equal(lines.length - 1, s.lines.length);
    const col = lines[0].indexOf('requests');
    assert.equal(lines.slice(1).reduce((sum, l) => sum + Number(l[col]), 0), origin.served);
    assert.equal(charges.slice(1).reduce((sum, c) => sum + Number(c.at(-1)), 0), amount);
  });

  test("the admins' command prints the same statement", async () => {
    const cli = (args) => promisify(execFile)(join(ROOT, 'target/debug/tollgate-admin'), args, {
      env: { PATH: process.env.PATH, TOLLGATE_URL: stack.base, TOLLGATE_ADMIN_SECRET: stack.adminSecret }, timeout: 30_000,
    }).then((r) => r.stdout);
    const api = (await admin('GET', 'accounts/billco/statement')).json;
    const json = JSON.parse(await cli(['statement', '--account', 'billco', '--json']));
    delete api.pinned_by.audit_head;
    delete json.pinned_by.audit_head;
    assert.deepEqual(json, api);
    const csv = await cli(['statement', '--account', 'billco', '--csv', '--month', month]);
    assert.equal(csv.split('\n')[1].split(',')[8], String(api.amount_due_minor));
    const summary = await cli(['statement', '--account', 'billco']);
    assert.match(summary, new RegExp(`amount due: ${api.amount_due.replace('.', '\\.')} USD`));
    assert.match(summary, /bill-one\s+search\s+3\s+/);
  });

  test("a stock client reads the customer's own usage: the numbers the statement bills", async () => {
    // The usage endpoint's window is the clock's quarter of an hour: its 50 count in one.
    await clearOfWindowEnd(900_000, 10_000);
    const origin = await stack.originStats();
    const statement = (await admin('GET', 'accounts/billco/statement')).json;
    const agent = new http.Agent({ keepAlive: false });
    const toTollgate = {
      onBeforeRequestConfig({ params }) {
        if (!params.url.startsWith('https://api.x.com/2/')) throw new Error(`unexpected request: ${params.url}`);
        params.url = `${stack.base}/2/${params.url.slice('https://api.x.com/2/'.length)}`;
      },
    };
    stack.secret(TOKENS['bill-two']);
    const client = new TwitterApi(TOKENS['bill-two'], { httpAgent: agent, plugins: [toTollgate] }).readOnly.v2;
    try {
      const all = ['cap_reset_day', 'daily_client_app_usage', 'daily_project_usage', 'project_cap', 'project_id', 'project_usage'];
      const { data } = await client.usage({ days: 7, 'usage.fields': all });
      // The project is the token's account, and its usage is the statement's distinct items.
      assert.equal(data.project_id, 'billco');
      assert.equal(data.project_usage, String(statement.totals.distinct_items));
      assert.equal(data.project_cap, '100000');
      assert.ok(Number.isInteger(data.cap_reset_day) && data.cap_reset_day >= 1 && data.cap_reset_day <= 31);
      // Every app of the account is a client app, with the statement's distinct items.
      const perApp = {};
      for (const l of statement.lines) perApp[l.app] = (perApp[l.app] ?? 0) + l.distinct_items;
      const apps = Object.fromEntries(data.daily_client_app_usage.map((a) => [a.client_app_id, a.usage.reduce((n, d) => n + Number(d.usage), 0)]));
      for (const [app, n] of Object.entries(perApp)) if (n > 0) assert.equal(apps[app], n, app);
      assert.equal(data.daily_project_usage.project_id, 'billco');
      assert.equal(data.daily_project_usage.usage.length, 7);
      const today = new Date().toISOString().slice(0, 10);
      assert.equal(data.daily_project_usage.usage.at(-1).date, `${today}T00:00:00.000Z`);
      assert.equal(data.daily_project_usage.usage.at(-1).usage, String(statement.totals.distinct_items));
      // The raw call, with the default fields.
      const plain = await client.get('usage/tweets');
      assert.deepEqual(Object.keys(plain.data).sort(), ['cap_reset_day', 'project_cap', 'project_id', 'project_usage']);
      assert.equal(plain.data.project_usage, data.project_usage);

      // Never forwarded: the origin saw none of it.
      const after = await stack.originStats();
      assert.equal(after.served, origin.served);
      assert.equal(after.by_path['/2/usage/tweets'], undefined);
      // Nor ledgered: the statement is what it was.
      assert.deepEqual((await admin('GET', 'accounts/billco/statement')).json.totals, statement.totals);

      // Its own window: 50 requests per app per 15 minutes, then a 429 the library reads.
      let served = 3; // above: two through the library and this app's first below
      const first = await stack.call('/2/usage/tweets', { token: TOKENS['bill-two'] });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-rate-limit-limit'), '50');
      assert.equal(first.headers.get('x-rate-limit-remaining'), String(50 - served));
      await first.arrayBuffer();
      for (;;) {
        const res = await stack.call('/2/usage/tweets', { token: TOKENS['bill-two'] });
        await res.arrayBuffer();
        if (res.status !== 200) { assert.equal(res.status, 429); break; }
        served += 1;
        assert.ok(served <= 50, 'more than 50 served');
      }
      assert.equal(served, 50);
      let caught;
      try { await client.usage(); } catch (e) { caught = e; }
      assert.ok(caught instanceof ApiResponseError, String(caught));
      assert.equal(caught.code, 429);
      assert.equal(caught.rateLimit.limit, 50);
      assert.equal(caught.rateLimit.remaining, 0);
      // The other app has a window of its own.
      assert.equal((await stack.call('/2/usage/tweets', { token: TOKENS['bill-one'] })).status, 200);
    } finally {
      agent.destroy();
    }
  });

  test('the usage endpoint refuses bad queries and bad tokens in the API error shape', async () => {
    for (const query of ['days=0', 'days=91', 'usage.fields=everything', 'since=yesterday']) {
      const res = await stack.call(`/2/usage/tweets?${query}`, { token: TOKENS['bill-one'] });
      assert.equal(res.status, 400, query);
      const body = await res.json();
      assert.equal(body.reason, 'query-invalid');
      assert.match(body.type, /invalid-request$/);
    }
    assert.equal((await stack.call('/2/usage/tweets')).status, 401);
    assert.equal((await stack.call('/2/usage/tweets', { token: newToken() })).status, 401);
  });

  test('a price change applies from the next month, and the statement names its version', async () => {
    const changed = await admin('PUT', 'plans/metered', { ...PLAN, prices: [{ ...PRICE_V1, monthly_fee: 1 }] });
    assert.equal(changed.status, 400, changed.text);
    assert.match(changed.json.detail, /prices/);
    const thisMonth = { version: 2, from: month, currency: 'USD', monthly_fee: 1 };
    assert.equal((await admin('PUT', 'plans/metered', { ...PLAN, prices: [PRICE_V1, thisMonth] })).status, 400);
    assert.equal((await admin('PUT', 'plans/metered', { ...PLAN, prices: [] })).status, 400, 'prices in force were removed');
    const v2 = { version: 2, from: nextMonth, currency: 'USD', monthly_fee: 70000, included_items: 0, overage_per_1000_items: 0 };
    const ok = await admin('PUT', 'plans/metered', { ...PLAN, prices: [PRICE_V1, v2] });
    assert.equal(ok.status, 200, ok.text);
    const now = (await admin('GET', 'accounts/billco/statement')).json;
    assert.equal(now.price_version, 1);
    const next = (await admin('GET', `accounts/billco/statement?month=${nextMonth}`)).json;
    assert.equal(next.price_version, 2);
    assert.deepEqual(next.lines, []);
    assert.equal(next.amount_due_minor, 70000);
    assert.equal(next.amount_due, '700.00');
    for (const bad of ['2026-13', 'soon', '2026-1']) {
      assert.equal((await admin('GET', `accounts/billco/statement?month=${bad}`)).status, 400, bad);
    }
    assert.equal((await admin('GET', 'accounts/billco/statement?format=xml')).status, 400);
    assert.equal((await admin('GET', 'accounts/nobody/statement')).status, 404);
  });

  test("a sealed day's figures are pinned by its seal", async () => {
    // Yesterday's traffic, made by moving today's rows back a day behind the guard's back.
    const changed = sqliteOf('bill-one', [
      'db.execute("UPDATE ledger SET day = day - 1")',
      'db.execute("UPDATE refusals SET day = day - 1")',
      'db.execute("DELETE FROM marks WHERE k = \'sealed_through\'")',
    ]);
    assert.equal(changed.length, 1);
    const sealed = await admin('POST', 'accounts/billco/housekeep');
    assert.equal(sealed.json.sealed.length, 1, sealed.text);
    const day = sealed.json.sealed[0];
    const s = (await admin('GET', `accounts/billco/statement?month=${day.slice(0, 7)}`)).json;
    const pin = s.pinned_by.days.find((d) => d.day === day);
    assert.equal(pin.matches_seal, true);
    const seal = (await admin('GET', 'accounts/billco/audit')).json.entries.find((e) => e.kind === 'seal');
    assert.equal(pin.seal_seq, seal.seq);
    assert.equal(JSON.parse(seal.detail).ledger_sha256, pin.ledger_sha256);
    // A count lowered behind the guard's back shows on the statement.
    sqliteOf('bill-one', ['db.execute("UPDATE ledger SET forwarded = forwarded - 1 WHERE forwarded > 0")']);
    const after = (await admin('GET', `accounts/billco/statement?month=${day.slice(0, 7)}`)).json;
    assert.equal(after.pinned_by.days.find((d) => d.day === day).matches_seal, false);
  });
});

/** Runs Python statements (on `db`) against the guard database whose ledger has `app`; returns the paths changed. */
function sqliteOf(app, lines) {
  const walk = (dir) => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  const dbs = walk(stack.persist).filter((p) => p.endsWith('.sqlite'));
  const script = `
import sqlite3, sys
for path in sys.argv[2:]:
    db = sqlite3.connect(path, timeout=10)
    try:
        rows = db.execute("SELECT COUNT(*) FROM ledger WHERE app = ?", (sys.argv[1],)).fetchall()
    except sqlite3.Error:
        continue
    if rows and rows[0][0] > 0:
${lines.map((l) => `        ${l}`).join('\n')}
        db.commit()
        print(path)
`;
  return execFileSync('python3', ['-c', script, app, ...dbs], { encoding: 'utf8', timeout: 30_000 }).trim().split('\n').filter(Boolean);
}
