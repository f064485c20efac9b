// Lease mode end to end through `wrangler dev`: no overshoot under concurrency, few guard calls,
// an exact ledger once leases settle, and revocation within the lease lifetime; under a monthly
// cap, items pre-charged as delivered and corrected to distinct items, and the cap passed by no
// more than the responses in flight when it ran out; for a recipient, slices of its entity's
// 30-day ids that never take it past its cap.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { newToken, startStack, tokenHash } from './harness.mjs';

const LIMIT = 40;
const LEASE_TTL_MS = 2000;
const WINDOW = 2678400;
const tokens = { a: newToken(), b: newToken(), busy: newToken(), revokable: newToken(), repeats: newToken(), pages: newToken(), feed: newToken() };
// Eight tokens of one account, each with a lease-mode limit of its own (the pooling case).
const pooled = Array.from({ length: 8 }, () => newToken());
const POOLED_LIMIT = 10;
const plan = (id, requests) => ({
  v: 1, id,
  endpoints: [{ method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
  limits: [{ group: 'lookup', scope: 'account', requests, window_seconds: WINDOW, mode: 'lease' }],
});
// The API's plans: app and account windows in lease mode, and a monthly cap of distinct items.
const REPEATS_CAP = 150;
// A recipient entity's 30-day ids (two related recipients share them).
const IDS_CAP = 250;
const PAGES_CAP = 1_000;
const capped = (id, cap) => ({
  v: 1, id,
  endpoints: [{ method: 'GET', path: '/2/tweets', group: 'lookup' }, { method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
  limits: [
    { group: 'lookup', scope: 'app', requests: 100_000, window_seconds: WINDOW, mode: 'lease' },
    { group: 'lookup', scope: 'account', requests: 100_000, window_seconds: WINDOW, mode: 'lease' },
  ],
  monthly_item_cap: cap,
});
const account = (id, planId) => ({ v: 1, id, name: id, plan: planId, status: 'active', use_cases: [{ id: 'u', status: 'approved' }] });
const app = (acct, id) => ({ v: 1, account: acct, app: id, status: 'active', use_case: 'u' });
const entries = [
  ['plan:leased', plan('leased', LIMIT)],
  ['plan:roomy', plan('roomy', 1_000_000)],
  ['account:leaseco', account('leaseco', 'leased')],
  ['account:busyco', account('busyco', 'roomy')],
  [`token:${tokenHash(tokens.a)}`, app('leaseco', 'lease-a')],
  [`token:${tokenHash(tokens.b)}`, app('leaseco', 'lease-b')],
  [`token:${tokenHash(tokens.busy)}`, app('busyco', 'busy-app')],
  [`token:${tokenHash(tokens.revokable)}`, app('busyco', 'revokable-app')],
  ['plan:pooled', {
    v: 1, id: 'pooled',
    endpoints: [{ method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
    limits: [
      { group: 'lookup', scope: 'app', requests: POOLED_LIMIT, window_seconds: WINDOW, mode: 'lease' },
      { group: 'lookup', scope: 'account', requests: 1000, window_seconds: WINDOW, mode: 'lease' },
    ],
  }],
  ['account:poolco', account('poolco', 'pooled')],
  ...pooled.map((t, i) => [`token:${tokenHash(t)}`, app('poolco', `pool-app-${i}`)]),
  ['plan:repeats', capped('repeats', REPEATS_CAP)],
  ['plan:pages', capped('pages', PAGES_CAP)],
  ['account:repeatco', account('repeatco', 'repeats')],
  ['account:pageco', account('pageco', 'pages')],
  [`token:${tokenHash(tokens.repeats)}`, app('repeatco', 'repeat-app')],
  [`token:${tokenHash(tokens.pages)}`, app('pageco', 'page-app')],
  ['plan:leased-feed', {
    v: 1, id: 'leased-feed',
    endpoints: [{ method: 'GET', path: '/2/tweets', group: 'lookup' }, { method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
    limits: ['app', 'account', 'recipient'].map((scope) => ({ group: 'lookup', scope, requests: 100_000, window_seconds: WINDOW, mode: 'lease' })),
  }],
  ['account:feedco', {
    ...account('feedco', 'leased-feed'),
    redistribution: {
      serves_recipients: true, mode: 'ids_only', ids_per_entity_30d: IDS_CAP,
      recipients: ['east', 'west'].map((side) => ({ id: `nw-${side}`, class: 'commercial', entity: 'northwind', approval: 'approved' })),
    },
  }],
  [`token:${tokenHash(tokens.feed)}`, app('feedco', 'feed-app')],
].map(([key, value]) => ({ key: `tollgate:v1:${key}`, value: JSON.stringify(value) }));

let stack;
before(async () => { stack = await startStack({ entries }); }, { timeout: 200_000 });
after(async () => { await stack?.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const metrics = async () => (await stack.admin('GET', 'metrics')).json();

async function burst(n, pick) {
  const res = await Promise.all(Array.from({ length: n }, (_, i) => stack.call(`/2/tweets/${20 + (i % 5)}`, { token: pick(i) })));
  const statuses = res.map((r) => r.status);
  await Promise.all(res.map((r) => r.arrayBuffer()));
  return statuses;
}

test('leases never let the origin serve more than the limit, and return what they did not use', async () => {
  await stack.resetOrigin();
  const first = await burst(60, (i) => (i % 2 ? tokens.a : tokens.b));
  const served1 = (await stack.originStats()).served;
  assert.ok(served1 <= LIMIT, `overshoot: ${served1} served for a limit of ${LIMIT}`);
  assert.equal(first.filter((s) => s === 200).length, served1);
  assert.ok(first.every((s) => s === 200 || s === 429), `statuses ${[...new Set(first)]}`);
  // Once the leases have settled, units they held go back and can be used.
  await sleep(LEASE_TTL_MS + 1500);
  await burst(60, (i) => (i % 2 ? tokens.a : tokens.b));
  await sleep(LEASE_TTL_MS + 1500);
  await burst(60, (i) => (i % 2 ? tokens.a : tokens.b));
  const served = (await stack.originStats()).served;
  assert.equal(served, LIMIT, 'after settlement the window is used exactly');
  await sleep(LEASE_TTL_MS + 1500);
  const usage = (await (await stack.admin('GET', 'accounts/leaseco/usage')).json()).totals;
  assert.equal(usage.forwarded, served, 'the ledger counts exactly what the origin served');
  assert.equal(usage.items, (await stack.originStats()).items);
});

test('most requests make no guard call', async () => {
  await burst(10, () => tokens.busy); // warm the entitlement cache and the first lease
  const before = await metrics();
  let ok = 0;
  for (let round = 0; round < 10; round++) {
    ok += (await burst(30, () => tokens.busy)).filter((s) => s === 200).length;
  }
  const after = await metrics();
  const requests = after.requests - before.requests - 1; // the metrics call itself
  const calls = after.guard_calls - before.guard_calls;
  assert.equal(ok, 300);
  assert.ok(calls / requests <= 0.1, `${calls} guard calls for ${requests} requests`);
  assert.equal(after.kv_reads - before.kv_reads, 0, 'entitlements came from the isolate cache');
});

test('revocation reaches a lease-mode token within the lease lifetime', async () => {
  assert.equal((await stack.call('/2/tweets/20', { token: tokens.revokable })).status, 200);
  assert.equal((await stack.admin('POST', `tokens/${tokenHash(tokens.revokable)}/revoke`)).status, 200);
  await sleep(LEASE_TTL_MS + 500);
  const res = await stack.call('/2/tweets/20', { token: tokens.revokable });
  assert.equal(res.status, 401);
});

test('pooling is seen in lease mode as in strict mode', async () => {
  // 8 tokens, each driven to its own limit of 10: 400 requests on 32 connections.
  const statuses = [];
  for (let round = 0; round < 400 / 32; round++) {
    statuses.push(...await burst(32, (i) => pooled[(round * 32 + i) % pooled.length]));
  }
  assert.equal(statuses.filter((s) => s === 200).length, pooled.length * POOLED_LIMIT);
  await sleep(LEASE_TTL_MS + 1500);
  const report = await (await stack.admin('GET', 'accounts/poolco/report')).json();
  const pooling = report.events.filter((e) => e.kind === 'pooling');
  assert.equal(pooling.length, 1, JSON.stringify(report.events));
  assert.ok(pooling[0].evidence.tokens_at_limit >= 2, JSON.stringify(pooling[0].evidence));
  assert.equal(pooling[0].evidence.per_token_limit, POOLED_LIMIT);
  const usage = (await (await stack.admin('GET', 'accounts/poolco/usage')).json()).totals;
  assert.equal(usage.forwarded, pooled.length * POOLED_LIMIT, 'settled exactly once');
});

/** Runs `n` calls, `concurrency` at a time; their statuses in order. A call answers a response
 * (its body is read here) or a status it has read itself. */
async function pool(n, concurrency, call) {
  const statuses = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      const res = await call(i);
      if (typeof res === 'number') {
        statuses[i] = res;
      } else {
        statuses[i] = res.status;
        await res.arrayBuffer();
      }
    }
  }));
  return statuses;
}

test('under a monthly cap, items are pre-charged as delivered and the month keeps the distinct ones', async () => {
  // 400 responses of the same item against a cap of 150: the isolate's slices run out on the
  // repeats, and each report corrects the month to the one distinct item, so none is refused.
  const statuses = await pool(400, 8, () => stack.call('/2/tweets/20', { token: tokens.repeats }));
  assert.deepEqual([...new Set(statuses)], [200]);
  await sleep(LEASE_TTL_MS + 1500);
  const usage = (await (await stack.admin('GET', 'accounts/repeatco/usage')).json()).totals;
  assert.deepEqual([usage.forwarded, usage.items, usage.distinct_items], [400, 400, 1]);
  const report = await (await stack.admin('GET', 'accounts/repeatco/report')).json();
  assert.equal(report.month_distinct_items, 1, 'no slice is left counted once its lease has settled');
});

test('under a monthly cap, the month passes it by no more than the responses in flight when it ran out', async () => {
  // Pages of 100 new items each, 10 at a time, against a cap of 1,000.
  const CONCURRENCY = 10;
  const PAGE = 100;
  const ids = (i) => Array.from({ length: PAGE }, (_, k) => 7_000_000 + (i * PAGE + k) * 7 + 1).join(',');
  const before = await stack.originStats();
  const statuses = await pool(40, CONCURRENCY, (i) => stack.call(`/2/tweets?ids=${ids(i)}`, { token: tokens.pages }));
  const served = (await stack.originStats()).items - before.items;
  assert.ok(statuses.every((s) => s === 200 || s === 429), `statuses ${[...new Set(statuses)]}`);
  assert.equal(served, statuses.filter((s) => s === 200).length * PAGE);
  const overshoot = Math.max(0, served - PAGES_CAP);
  const bound = CONCURRENCY * PAGE;
  assert.ok(served >= PAGES_CAP, `the cap was reached: ${served}`);
  assert.ok(overshoot <= bound, `overshoot ${overshoot} items, bound ${bound} (${CONCURRENCY} responses of ${PAGE} in flight)`);
  // Once the leases have settled, the month holds exactly what was delivered, and refuses.
  await sleep(LEASE_TTL_MS + 1500);
  const refused = await stack.call(`/2/tweets?ids=${ids(99)}`, { token: tokens.pages });
  assert.equal(refused.status, 429);
  assert.ok((await refused.json()).type.endsWith('/usage-capped'));
  const usage = (await (await stack.admin('GET', 'accounts/pageco/usage')).json()).totals;
  assert.deepEqual([usage.items, usage.distinct_items], [served, served]);
  const report = await (await stack.admin('GET', 'accounts/pageco/report')).json();
  assert.equal(report.month_distinct_items, served);
});

test('for a recipient, leases never let its entity receive more than its 30-day cap', async () => {
  // Two related recipients, pages of 100 ids and single posts mixed, 10 at a time: far more
  // than the cap of 250 is asked for.
  const page = (i) => Array.from({ length: 100 }, (_, k) => 9_000_000 + (i * 100 + k) * 7 + 1).join(',');
  const received = { 'nw-east': 0, 'nw-west': 0 };
  const wave = (n, first) => pool(n, 10, async (j) => {
    const i = first + j;
    const recipient = i % 2 ? 'nw-east' : 'nw-west';
    const res = await stack.call(i % 3 ? `/2/tweets?ids=${page(i)}` : '/2/tweets/20', { token: tokens.feed, headers: { 'x-tollgate-recipient': recipient } });
    if (res.status === 200) {
      const body = await res.json();
      const data = Array.isArray(body.data) ? body.data : [body.data];
      assert.ok(data.every((d) => Object.keys(d).join() === 'id'), 'ids only');
      received[recipient] += data.length;
    } else {
      assert.equal(res.status, 429);
      assert.ok((await res.json()).type.endsWith('/redistribution-capped'));
    }
    return res.status;
  });
  const first = await wave(40, 0);
  const total = () => received['nw-east'] + received['nw-west'];
  assert.ok(total() <= IDS_CAP, `${total()} ids for a cap of ${IDS_CAP}`);
  assert.ok(first.includes(429), 'the cap was reached');
  // Once the leases have settled, what responses reserved and left is free again, and used.
  await sleep(LEASE_TTL_MS + 1500);
  await wave(20, 100);
  await sleep(LEASE_TTL_MS + 1500);
  await wave(10, 200);
  assert.equal(total(), IDS_CAP, 'the cap is reached exactly, and never passed');
  const rows = (await (await stack.admin('GET', 'accounts/feedco/usage')).json()).rows;
  const items = (r) => rows.filter((row) => row.recipient === r).reduce((n, row) => n + row.items, 0);
  assert.deepEqual([items('nw-east'), items('nw-west')], [received['nw-east'], received['nw-west']], 'the ledger per recipient');
});
