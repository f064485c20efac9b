// The fleet at a glance, end to end: 200 accounts send real traffic through the enforcer; their
// guards write their months to D1 (wrangler runs D1 locally); one admin API call answers for
// all of them from one D1 query, priced as their statements are, sortable by every column; its
// time is printed, and so is how long an account's new traffic takes to show.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { kvEntries } from '../demo/seed.mjs';
import { ROOT, newToken, startStack } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ACCOUNTS = 200;
const ROLLUP_SECONDS = 30;

const PRICED = {
  v: 1,
  id: 'fleet-priced',
  endpoints: [{ method: 'GET', path: '/2/tweets', group: 'lookup' }],
  monthly_item_cap: 40,
  prices: [{ version: 1, from: '2026-01', currency: 'USD', monthly_fee: 10000, included_items: 5, overage_per_1000_items: 30000, per_1000_requests: { lookup: 700 } }],
};
const UNPRICED = { v: 1, id: 'fleet-unpriced', endpoints: [{ method: 'GET', path: '/2/tweets', group: 'lookup' }] };
const name = (i) => `fleet-${String(i).padStart(3, '0')}`;
const tokens = Array.from({ length: ACCOUNTS }, () => newToken());
const DOC = {
  plans: [PRICED, UNPRICED],
  accounts: tokens.map((_, i) => ({
    v: 1, id: name(i), name: `Fleet customer ${i}`, plan: i % 10 === 9 ? 'fleet-unpriced' : 'fleet-priced',
    status: i % 50 === 7 ? 'suspended' : 'active', use_cases: [{ id: 'uc', status: 'approved' }],
  })),
  apps: tokens.map((token, i) => ({ token, record: { v: 1, account: name(i), app: `${name(i)}-app`, status: 'active', use_case: 'uc' } })),
};

let stack;
before(async () => {
  await promisify(execFile)('cargo', ['build', '--quiet', '--bin', 'tollgate-admin'], { cwd: ROOT, timeout: 300_000 });
  stack = await startStack({ entries: kvEntries(DOC) });
}, { timeout: 400_000 });
after(async () => { await stack?.stop(); });

const admin = async (method, route) => {
  const res = await stack.admin(method, route);
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), text };
};

/** What each account was sent and received. */
const sent = new Map();

/** The amount, computed here: integers, rounded once per charge, halves up. */
function amount(price, distinct, requests) {
  const perThousand = (n, rate) => Math.floor((n * rate + 500) / 1000);
  return price.monthly_fee + perThousand(Math.max(0, distinct - price.included_items), price.overage_per_1000_items)
    + perThousand(requests, price.per_1000_requests.lookup);
}

async function waitFor(what, check, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1000);
  }
}

describe('fleet', () => {
  test(`${ACCOUNTS} accounts' months in one admin call, from one D1 query`, { timeout: 240_000 }, async () => {
    // A plan written through the admin API wakes the admin log's guard too: it is no account.
    assert.equal((await stack.admin('PUT', 'plans/fleet-unpriced', UNPRICED)).status, 200);
    // Account i sends (i % 4) + 1 lookups of (i % 7) + 1 new ids each; the suspended ones are refused.
    const jobs = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      for (let r = 0; r < (i % 4) + 1; r++) {
        const ids = Array.from({ length: (i % 7) + 1 }, (_, k) => 1000 * i + 10 * r + k + 1).join(',');
        jobs.push([i, `/2/tweets?ids=${ids}`]);
      }
    }
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < jobs.length) {
        const [i, path] = jobs[next++];
        const res = await stack.call(path, { token: tokens[i] });
        const body = await res.json();
        const s = sent.get(i) ?? { requests: 0, items: 0, refused: 0 };
        if (res.status === 200) { s.requests += 1; s.items += (body.data ?? []).length; } else s.refused += 1;
        sent.set(i, s);
      }
    }));
    const synced = await admin('POST', 'fleet/sync');
    assert.equal(synced.status, 200, synced.text);
    assert.ok(synced.json.synced >= ACCOUNTS, synced.text);

    // The guards write their rollups within ROLLUP_SECONDS of their last command.
    const waited = Date.now();
    const fleet = await waitFor('every rollup', async () => {
      const f = (await admin('GET', 'fleet')).json;
      const mine = f.lines.filter((l) => l.account.startsWith('fleet-'));
      return mine.length === ACCOUNTS && mine.every((l) => l.updated_at !== null) ? f : null;
    }, (ROLLUP_SECONDS + 30) * 1000);
    console.log(`fleet: every one of ${ACCOUNTS} guards' rollups in D1 ${((Date.now() - waited) / 1000).toFixed(1)} s after the traffic (bound ${ROLLUP_SECONDS} s)`);

    assert.equal(fleet.d1_queries, 1);
    assert.deepEqual(fleet.lines.filter((l) => !/^[a-z0-9]/.test(l.account)), [], 'a line that is no account');
    assert.equal(fleet.rollup_seconds, ROLLUP_SECONDS);
    assert.equal(fleet.month, new Date().toISOString().slice(0, 7));
    const lines = new Map(fleet.lines.map((l) => [l.account, l]));
    for (let i = 0; i < ACCOUNTS; i++) {
      const l = lines.get(name(i));
      const s = sent.get(i);
      assert.equal(l.requests, s.requests, name(i));
      assert.equal(l.items, s.items, name(i));
      assert.equal(l.distinct_items, s.items, name(i)); // every id was new
      assert.equal(l.refused, s.refused, name(i));
      assert.equal(l.status, i % 50 === 7 ? 'suspended' : 'active', name(i));
      assert.equal(l.name, `Fleet customer ${i}`);
      if (i % 10 === 9) {
        assert.equal(l.amount_minor, null);
        assert.equal(l.cap, null);
      } else {
        assert.equal(l.amount_minor, amount(PRICED.prices[0], s.items, s.requests), name(i));
        assert.equal(l.cap, 40);
        assert.equal(l.cap_used_pct, Math.round((s.items * 1000) / 40) / 10);
      }
    }
    // The fleet bills as the statements do.
    for (const i of [0, 3, 58, 199]) {
      const statement = (await admin('GET', `accounts/${name(i)}/statement`)).json;
      assert.equal(lines.get(name(i)).amount_minor, statement.amount_due_minor, name(i));
      assert.equal(lines.get(name(i)).distinct_items, statement.totals.distinct_items);
    }

    // Sortable by every column, both ways.
    const check = async (sort, order, value) => {
      const f = (await admin('GET', `fleet?sort=${sort}&order=${order}`)).json;
      const values = f.lines.map(value).filter((v) => v !== null);
      const sorted = [...values].sort((a, b) => (typeof a === 'string' ? a.localeCompare(b) : a - b));
      if (order === 'desc') sorted.reverse();
      assert.deepEqual(values, sorted, `${sort} ${order}`);
      // Lines without the value come last.
      const firstNull = f.lines.findIndex((l) => value(l) === null);
      if (firstNull >= 0) assert.ok(f.lines.slice(firstNull).every((l) => value(l) === null), sort);
    };
    for (const order of ['asc', 'desc']) {
      await check('requests', order, (l) => l.requests);
      await check('items', order, (l) => l.items);
      await check('amount', order, (l) => l.amount_minor);
      await check('cap_used', order, (l) => l.cap_used_pct);
      await check('events', order, (l) => l.events);
      await check('account', order, (l) => l.account);
    }
    assert.equal((await admin('GET', 'fleet?sort=colour')).status, 400);
    // The admins' command shows the same page.
    const cli = (args) => promisify(execFile)(join(ROOT, 'target/debug/tollgate-admin'), args, {
      env: { PATH: process.env.PATH, TOLLGATE_URL: stack.base, TOLLGATE_ADMIN_SECRET: stack.adminSecret }, timeout: 30_000,
    });
    const api = (await admin('GET', 'fleet?sort=requests')).json;
    const viaCli = JSON.parse((await cli(['fleet', 'show', '--sort', 'requests', '--json'])).stdout);
    // (A row's write time may move between the two calls.)
    const figures = (lines) => lines.map(({ updated_at: _, ...rest }) => rest);
    assert.deepEqual(figures(viaCli.lines), figures(api.lines));
    const table = (await cli(['fleet', 'show', '--sort', 'account', '--order', 'asc'])).stdout.trim().split('\n');
    assert.equal(table.length, api.accounts + 1);
    assert.match(table[1], /^acme\s/);
    assert.match((await cli(['fleet', 'sync'])).stdout, /^\d+ accounts in the directory; 0 failed$/m);
    assert.equal((await admin('GET', 'fleet?order=sideways')).status, 400);

    // The call's time, as a client sees it and as the D1 query took.
    const times = [];
    const queries = [];
    for (let k = 0; k < 7; k++) {
      const t0 = performance.now();
      const f = (await admin('GET', 'fleet')).json;
      times.push(performance.now() - t0);
      queries.push(f.query_ms);
      assert.equal(f.accounts, fleet.accounts);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`fleet: ${fleet.accounts} accounts in one call: median ${median(times).toFixed(1)} ms (7 calls, ${Math.min(...times).toFixed(1)}–${Math.max(...times).toFixed(1)} ms); the one D1 query: median ${median(queries)} ms`);
  });

  test('new traffic shows within the stated bound', { timeout: 120_000 }, async () => {
    const before = (await admin('GET', 'fleet?sort=account&order=asc')).json.lines.find((l) => l.account === name(0));
    const res = await stack.call('/2/tweets?ids=999001,999002', { token: tokens[0] });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const t0 = Date.now();
    const after = await waitFor('the new rollup', async () => {
      const l = (await admin('GET', 'fleet')).json.lines.find((x) => x.account === name(0));
      return l.requests === before.requests + 1 ? l : null;
    }, (ROLLUP_SECONDS + 15) * 1000);
    const seconds = (Date.now() - t0) / 1000;
    console.log(`fleet: one account's new request showed ${seconds.toFixed(1)} s later (bound ${ROLLUP_SECONDS} s and one D1 write)`);
    assert.equal(after.items, before.items + 2);
    assert.ok(seconds <= ROLLUP_SECONDS + 10, `${seconds} s`);
  });
});
