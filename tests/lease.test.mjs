// Lease mode end to end through `wrangler dev`: no overshoot under concurrency, few guard calls,
// an exact ledger once leases settle, and revocation within the lease lifetime.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { newToken, startStack, tokenHash } from './harness.mjs';

const LIMIT = 40;
const LEASE_TTL_MS = 2000;
const WINDOW = 2678400;
const tokens = { a: newToken(), b: newToken(), busy: newToken(), revokable: newToken() };
// Eight tokens of one account, each with a lease-mode limit of its own (the pooling case).
const pooled = Array.from({ length: 8 }, () => newToken());
const POOLED_LIMIT = 10;
const plan = (id, requests) => ({
  v: 1, id,
  endpoints: [{ method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
  limits: [{ group: 'lookup', scope: 'account', requests, window_seconds: WINDOW, mode: 'lease' }],
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
