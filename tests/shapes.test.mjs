// Response shapes end to end through `wrangler dev`: the demo origin's second API answers in two
// other shapes (a top-level array of products with numeric ids; a nested listing), and the plans
// declare them. Caps, the daily de-dup, `ids_only`, the 30-day entity cap and the ledger hold for
// both; a body that is not its declared shape is never delivered uncounted under a cap; and
// Tollgate's own errors come in the API's error shape (ERROR_BODY), with the same statuses and
// rate-limit headers. Every request is made with `fetch`, Node's own HTTP client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { clearOfWindowEnd, newToken, startStack, tokenHash } from './harness.mjs';

const ARRAY = { items: '' };
const LISTING = { items: '/data/children', id: '/data/id', keep: ['/kind', '/data/id', '/data/name'], count: '/data/dist' };
const endpoints = (shaped) => [
  { method: 'GET', path: '/v1/products', group: 'catalog' },
  { method: 'GET', path: '/v1/products/:id', group: 'catalog' },
  { method: 'GET', path: '/r/:board/new', group: 'listing', ...(shaped ? { shape: LISTING } : {}) },
];
const CAP = 60;
const ENTITY_CAP = 30;
const LIMIT = 4;
const ERROR_BODY = '{"error":{"code":"{code}","message":"{detail}","status":"{status}"}}';

const plans = [
  { v: 1, id: 'shapes-capped', shape: ARRAY, endpoints: endpoints(true), monthly_item_cap: CAP },
  {
    v: 1, id: 'shapes-open', shape: ARRAY, endpoints: endpoints(true),
    limits: [{ group: 'catalog', scope: 'app', requests: LIMIT, window_seconds: 60 }],
  },
  // The same API with no shape declared: read as X API v2, which these bodies are not.
  { v: 1, id: 'shapes-undeclared', endpoints: endpoints(false), monthly_item_cap: 1000 },
];
const account = (id, plan, extra = {}) => ({
  v: 1, id, name: id, plan, status: 'active', use_cases: [{ id: 'prices', status: 'approved' }], ...extra,
});
const accounts = [
  account('shapeco', 'shapes-capped'),
  account('shapeco-faults', 'shapes-capped'),
  account('shapes-open', 'shapes-open'),
  account('undeclared', 'shapes-undeclared'),
  account('shaperelay', 'shapes-open', {
    redistribution: {
      serves_recipients: true, mode: 'ids_only', ids_per_entity_30d: ENTITY_CAP,
      recipients: [
        { id: 'east', class: 'commercial', entity: 'northwind', approval: 'approved' },
        { id: 'west', class: 'commercial', entity: 'northwind', approval: 'approved', mode: 'full' },
      ],
    },
  }),
];
const tokens = {
  capped: newToken(), faults: newToken(), open: newToken(), limited: newToken(), undeclared: newToken(), relay: newToken(),
};
const apps = [
  [tokens.capped, 'shapeco', 'shapeco-app'],
  [tokens.faults, 'shapeco-faults', 'faults-app'],
  [tokens.open, 'shapes-open', 'open-app'],
  [tokens.limited, 'shapes-open', 'limited-app'],
  [tokens.undeclared, 'undeclared', 'undeclared-app'],
  [tokens.relay, 'shaperelay', 'relay-app'],
];
const entries = [
  ...plans.map((p) => ({ key: `tollgate:v1:plan:${p.id}`, value: JSON.stringify(p) })),
  ...accounts.map((a) => ({ key: `tollgate:v1:account:${a.id}`, value: JSON.stringify(a) })),
  ...apps.map(([t, acct, app]) => ({
    key: `tollgate:v1:token:${tokenHash(t)}`,
    value: JSON.stringify({ v: 1, account: acct, app, status: 'active', use_case: 'prices' }),
  })),
];

let stack;
before(async () => { stack = await startStack({ entries, vars: { ERROR_BODY } }); }, { timeout: 200_000 });
after(async () => { await stack?.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const get = (path, token, recipient) => stack.call(path, { token, headers: recipient ? { 'x-tollgate-recipient': recipient } : {} });
async function json(res, status) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text);
}
async function totals(accountId) {
  await sleep(500); // ledger lines are written just after each response
  const res = await stack.admin('GET', `accounts/${accountId}/usage`);
  assert.equal(res.status, 200);
  return (await res.json()).totals;
}
/** A refusal in the deployment's error body: `{"error":{"code","message","status"}}`. */
async function refusal(res, status, code) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/json');
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(body.error.status, status);
  assert.ok(body.error.message.length > 0);
  return body;
}

describe('counting by shape', () => {
  test('a top-level array and a nested listing are counted, de-duplicated and capped; the ledger equals the origin', async () => {
    await stack.resetOrigin();
    const page = await json(await get('/v1/products?page=1&per_page=25', tokens.capped), 200);
    assert.equal(page.length, 25);
    assert.equal(typeof page[0].id, 'number');
    assert.equal((await json(await get('/v1/products?page=1&per_page=25', tokens.capped), 200)).length, 25); // 25 items, none new today
    assert.equal((await json(await get(`/v1/products/${page[0].id}`, tokens.capped), 200)).id, page[0].id); // one item, not new
    const listing = await json(await get('/r/demo/new?limit=25', tokens.capped), 200);
    assert.equal(listing.data.children.length, 25);
    assert.equal((await json(await get('/v1/products?page=4&per_page=10', tokens.capped), 200)).length, 10);
    await sleep(500);
    // 60 distinct items: the cap is reached, and the next request is refused before the origin.
    const capped = await get('/r/demo/new?limit=5', tokens.capped);
    await refusal(capped, 429, 'usage-capped');
    assert.ok(Number(capped.headers.get('retry-after')) > 0);

    const t = await totals('shapeco');
    const origin = await stack.originStats();
    assert.equal(origin.served, 5);
    assert.equal(t.forwarded, origin.served);
    assert.equal(t.items, origin.items);
    assert.equal(t.items, 25 + 25 + 1 + 25 + 10);
    assert.equal(t.distinct_items, CAP);
    assert.equal(t.refused, 1);
  });
});

describe('ids_only and the entity cap by shape', () => {
  test('each shape keeps what it declares, numeric ids stay numbers, and a cut page says what it carries', async () => {
    await stack.resetOrigin();
    const products = await json(await get('/v1/products?page=3&per_page=10', tokens.relay, 'east'), 200);
    assert.equal(products.length, 10);
    for (const p of products) assert.deepEqual(Object.keys(p), ['id']);
    assert.ok(products.every((p) => Number.isInteger(p.id)));
    const listing = await json(await get('/r/news/new?limit=10', tokens.relay, 'east'), 200);
    assert.equal(listing.kind, 'Listing');
    assert.equal(listing.data.dist, 10);
    assert.match(listing.data.after, /^t3_/);
    for (const child of listing.data.children) {
      assert.equal(child.kind, 't3');
      assert.deepEqual(Object.keys(child.data).sort(), ['id', 'name']);
      assert.equal(child.data.name, `t3_${child.data.id}`);
    }
    await sleep(300);
    // 20 of the entity's 30 ids are spent: a full-mode recipient of the same entity gets 10 more,
    // whole, and the listing's own count says so.
    const cut = await json(await get('/r/sports/new?limit=20', tokens.relay, 'west'), 200);
    assert.equal(cut.data.children.length, ENTITY_CAP - 20);
    assert.equal(cut.data.dist, ENTITY_CAP - 20);
    assert.ok(cut.data.children.every((c) => typeof c.data.title === 'string'), 'a full-mode recipient gets whole items');
    await sleep(300);
    await refusal(await get('/v1/products?page=9', tokens.relay, 'east'), 429, 'redistribution-capped');

    const t = await totals('shaperelay');
    const origin = await stack.originStats();
    assert.equal(origin.served, 3, 'the capped request never reached the origin');
    assert.equal(t.items, ENTITY_CAP, 'the ledger counts what was delivered, not what the origin sent');
    assert.equal(t.distinct_items, ENTITY_CAP);
  });
});

describe('bodies that are not their shape', () => {
  test('under a cap, a body of another shape is refused with 502; without one it passes as no items', async () => {
    await stack.resetOrigin();
    // The plan declares no shape: these endpoints are read as X API v2, and a top-level array
    // is not that shape. Delivering it would hand out 10 items the cap never sees.
    await refusal(await get('/v1/products?per_page=10', tokens.undeclared), 502, 'origin-response-uncountable');
    const u = await totals('undeclared');
    assert.equal(u.forwarded, 1, 'the request was charged: it reached the origin');
    assert.equal(u.items, 0, 'nothing was delivered');

    await stack.fault({ mode: 'garbage' });
    try {
      await refusal(await get('/v1/products', tokens.faults), 502, 'origin-response-uncountable');
      const passed = await get('/v1/products', tokens.open);
      assert.equal(passed.status, 200);
      assert.match(await passed.text(), /^<html>oops/);
    } finally {
      await stack.fault({ mode: 'none' });
    }
    assert.equal((await totals('shapes-open')).items, 0);
    const logs = stack.logs();
    assert.match(logs, /"event":"origin_response_unshaped"[^\n]*"refused":true/);
    assert.match(logs, /"event":"origin_response_unshaped"[^\n]*"refused":false/);
    // Declared, the same kind of body is counted.
    assert.equal((await json(await get('/v1/products?per_page=3', tokens.faults), 200)).length, 3);
    assert.equal((await totals('shapeco-faults')).items, 3);
  });
});

describe('errors in the API shape', () => {
  test("Tollgate's own errors use the deployment's error body, with the same statuses and headers", async () => {
    await refusal(await stack.call('/v1/products'), 401, 'missing-token');
    await refusal(await get('/2/tweets/20', tokens.open), 403, 'endpoint-not-in-plan');
    await refusal(await stack.call('/v1/products', { token: tokens.open, headers: { 'x-http-method-override': 'DELETE' } }), 400, 'method-override');
    const statuses = [];
    let last;
    // The limit's window is the clock's minute: all five requests count in one.
    await clearOfWindowEnd(60_000, 5_000);
    for (let i = 0; i <= LIMIT; i++) {
      last = await get('/v1/products/100001', tokens.limited);
      statuses.push(last.status);
      if (last.status === 200) await last.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
    await refusal(last, 429, 'rate-limit-exceeded');
    assert.equal(last.headers.get('x-rate-limit-limit'), String(LIMIT));
    assert.equal(last.headers.get('x-rate-limit-remaining'), '0');
    assert.ok(Number(last.headers.get('retry-after')) > 0);
    assert.match(last.headers.get('ratelimit-policy'), /;q=4;w=60/);
    // The origin's own errors pass through as the origin wrote them.
    const missing = await get('/v1/products/9', tokens.open);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: { code: 'not_found', message: 'No product with id 9' } });
  });
});
