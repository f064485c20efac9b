// Throttling end to end through `wrangler dev`: exact account-wide windows under concurrency,
// atomic charging, headers clients read, monthly caps, and revocation through the guard.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { newToken, startStack, tokenHash } from './harness.mjs';

// Long windows so that no test run straddles a window boundary.
const WINDOW = 2_678_400;
const plan = (id, limits, extra = {}) => ({
  v: 1,
  id,
  endpoints: [
    { method: 'GET', path: '/2/tweets/search/recent', group: 'search' },
    { method: 'GET', path: '/2/tweets/:id', group: 'lookup' },
    { method: 'GET', path: '/2/tweets', group: 'lookup' },
  ],
  limits,
  ...extra,
});
const account = (id, planId) => ({
  v: 1, id, name: `Test ${id}`, plan: planId, status: 'active', use_cases: [{ id: 'testing', status: 'approved' }],
});
const app = (accountId, appId) => ({ v: 1, account: accountId, app: appId, status: 'active', use_case: 'testing' });

const tokens = {
  pool: [newToken(), newToken(), newToken(), newToken()],
  atomic: [newToken(), newToken()],
  capped: newToken(),
  revokable: newToken(),
};
const POOLED = 12;
const PER_TOKEN = 7; // two tokens at 7 would be 14 > 12: this account can never show pooling

const entries = [];
const put = (key, value) => entries.push({ key: `tollgate:v1:${key}`, value: JSON.stringify(value) });
put('plan:pooled', plan('pooled', [
  { group: 'search', scope: 'app', requests: PER_TOKEN, window_seconds: WINDOW },
  { group: 'search', scope: 'account', requests: POOLED, window_seconds: WINDOW },
]));
put('plan:atomic', plan('atomic', [
  { group: 'search', scope: 'app', requests: 2, window_seconds: WINDOW },
  { group: 'search', scope: 'account', requests: 5, window_seconds: WINDOW },
]));
put('plan:capped', plan('capped', [], { monthly_item_cap: 25 }));
put('plan:open', plan('open', []));
for (const [acct, planId] of [['pool', 'pooled'], ['atomic', 'atomic'], ['capped', 'capped'], ['revokable', 'open']]) {
  put(`account:${acct}`, account(acct, planId));
}
tokens.pool.forEach((t, i) => put(`token:${tokenHash(t)}`, app('pool', `pool-app-${i}`)));
tokens.atomic.forEach((t, i) => put(`token:${tokenHash(t)}`, app('atomic', `atomic-app-${i}`)));
put(`token:${tokenHash(tokens.capped)}`, app('capped', 'capped-app'));
put(`token:${tokenHash(tokens.revokable)}`, app('revokable', 'revokable-app'));

let stack;
before(async () => { stack = await startStack({ entries }); });
after(async () => { await stack?.stop(); });

const search = (token) => stack.call('/2/tweets/search/recent?query=pool', { token });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('throttling', () => {
  test('pooling tokens cannot pass the account limit, under concurrency, exactly', async () => {
    await stack.resetOrigin();
    // More than about 100 connections at once make wrangler dev's local proxy stall some answers.
    const requests = 60;
    const started = Date.now();
    // 60 requests at once, spread over the account's four tokens.
    const responses = await Promise.all(
      Array.from({ length: requests }, (_, i) => search(tokens.pool[i % tokens.pool.length])),
    );
    const ok = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    assert.equal(ok.length, POOLED, 'requests under the pooled limit');
    assert.equal(limited.length, requests - POOLED, 'every other request is a 429');
    const stats = await stack.originStats();
    assert.equal(stats.served, POOLED, 'the origin served exactly the pooled limit');

    for (const res of ok) {
      assert.equal(res.headers.get('x-rate-limit-limit') !== null, true);
      assert.match(res.headers.get('ratelimit-policy'), /^"app-search";q=7;w=2678400, "account-search";q=12;w=2678400$/);
      assert.match(res.headers.get('ratelimit'), /^"app-search";r=\d+;t=\d+, "account-search";r=\d+;t=\d+$/);
      await res.arrayBuffer();
    }
    const remaining = ok.map((r) => Number(r.headers.get('x-rate-limit-remaining'))).sort((a, b) => a - b);
    assert.equal(remaining[0], 0, 'the last admitted request saw 0 remaining');
    const nowS = Math.floor(started / 1000);
    for (const res of limited) {
      assert.equal(res.headers.get('x-rate-limit-remaining'), '0');
      const reset = Number(res.headers.get('x-rate-limit-reset'));
      assert.ok(reset > nowS && reset <= nowS + WINDOW + 5, `reset ${reset}`);
      const retry = Number(res.headers.get('retry-after'));
      assert.ok(retry >= 1 && Math.abs(nowS + retry - reset) <= 5, `retry-after ${retry} vs reset ${reset}`);
      const body = await res.json();
      assert.equal(body.status, 429);
      assert.match(body.type, /\/rate-limit-exceeded$/);
    }
  });

  test('a request refused by one limit charges none of the others', async () => {
    await stack.resetOrigin();
    const [a, b] = tokens.atomic;
    const first = [];
    for (let i = 0; i < 6; i++) first.push((await search(a)).status);
    // Token a: 2 allowed by its own limit, 4 refused by it.
    assert.deepEqual(first, [200, 200, 429, 429, 429, 429]);
    // Had the refusals been charged to the account (limit 5), b would get nothing.
    const second = [];
    for (let i = 0; i < 4; i++) second.push((await search(b)).status);
    assert.deepEqual(second, [200, 200, 429, 429], 'b is held by its own limit, not by a charged account');
    assert.equal((await stack.originStats()).served, 4);
  });

  test('two tokens at their own limit in one window are recorded as pooling, with evidence', async () => {
    // The previous test drove both of the account's tokens to their per-token limit.
    const res = await stack.admin('GET', 'accounts/atomic/report');
    assert.equal(res.status, 200);
    const report = await res.json();
    const pooling = report.events.filter((e) => e.kind === 'pooling');
    assert.equal(pooling.length, 1, JSON.stringify(report));
    const ev = pooling[0].evidence;
    assert.equal(ev.group, 'search');
    assert.equal(ev.tokens_at_limit, 2);
    assert.equal(ev.active_tokens, 2);
    assert.equal(ev.per_token_limit, 2);
    assert.equal(ev.total_requests, 4);
    assert.equal(ev.evenness, 1);
    // The pool account never had a token at its limit: no event there.
    const calm = await (await stack.admin('GET', 'accounts/pool/report')).json();
    assert.equal(calm.events.length, 0);
  });

  test('the monthly item cap refuses once reached, with its own problem type', async () => {
    // Caps count distinct items: each request asks for 10 tweets no earlier request got.
    // 10, 20, 30 delivered; the fourth request finds 30 >= 25.
    const statuses = [];
    const ids = Array.from({ length: 60 }, (_, i) => 1000 + i).filter((n) => n % 7 !== 0);
    for (let i = 0; i < 4; i++) {
      const res = await stack.call(`/2/tweets?ids=${ids.slice(i * 10, i * 10 + 10).join(',')}`, { token: tokens.capped });
      statuses.push(res.status);
      if (res.status === 429) {
        const body = await res.json();
        assert.match(body.type, /\/usage-capped$/);
        assert.ok(Number(res.headers.get('retry-after')) > 0);
      } else {
        assert.equal((await res.json()).data.length, 10);
      }
      await sleep(200); // the item count is stored just after the response
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
  });

  test('revocation through the guard takes effect on the very next request', async () => {
    assert.equal((await search(tokens.revokable)).status, 200);
    const res = await stack.admin('POST', `tokens/${tokenHash(tokens.revokable)}/revoke`);
    assert.equal(res.status, 200, await res.clone().text());
    // The isolate's entitlement cache still holds the active record: the guard refuses anyway.
    const next = await search(tokens.revokable);
    assert.equal(next.status, 401);
    assert.equal((await next.json()).reason, 'revoked-token');
  });

  test('the admin API refuses a missing or wrong secret', async () => {
    const revoke = `tokens/${tokenHash(tokens.pool[0])}/revoke`;
    const wrong = await stack.admin('POST', revoke, undefined, { secret: 'x'.repeat(64) });
    assert.equal(wrong.status, 401);
    const none = await fetch(`${stack.base}/_tollgate/admin/v1/${revoke}`, { method: 'POST' });
    assert.equal(none.status, 401);
    assert.equal((await search(tokens.pool[0])).status, 429, 'the token is still only rate limited, not revoked');
  });

  test('suspending an account through the guard refuses its tokens at once', async () => {
    const res = await stack.admin('POST', 'accounts/atomic/suspend');
    assert.equal(res.status, 200);
    const next = await search(tokens.atomic[1]);
    assert.equal(next.status, 403);
    assert.equal((await next.json()).reason, 'account-suspended');
  });
});
