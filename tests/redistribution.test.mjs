// Redistribution policy end to end through `wrangler dev`: use cases, recipients and their
// classes, ids-only responses (read by a stock X API v2 client), the 30-day entity cap, resale.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { TwitterApi } from 'twitter-api-v2';

import { newToken, startStack, tokenHash } from './harness.mjs';

const plan = {
  v: 1,
  id: 'feed',
  endpoints: [
    { method: 'GET', path: '/2/tweets/search/recent', group: 'search' },
    { method: 'GET', path: '/2/tweets/:id', group: 'lookup' },
  ],
};
const recipients = [
  { id: 'nw-east', class: 'commercial', entity: 'northwind', approval: 'approved' },
  { id: 'nw-west', class: 'commercial', entity: 'northwind', approval: 'approved' },
  { id: 'full-client', class: 'commercial', entity: 'fullco', approval: 'approved', mode: 'full' },
  { id: 'resale-client', class: 'commercial', entity: 'resaleco', approval: 'approved', mode: 'full' },
  { id: 'uni', class: 'academic', entity: 'uni', approval: 'pending' },
  { id: 'ministry', class: 'government', entity: 'ministry', approval: 'approved' },
  {
    id: 'council', class: 'government', entity: 'council', approval: 'approved',
    government_approval: { reference: 'LTR-2026-014', approved_at: 1790000000 },
  },
  {
    id: 'watchers', class: 'surveillance', entity: 'watchers', approval: 'approved',
    government_approval: { reference: 'LTR-2026-015', approved_at: 1790000000 },
  },
  { id: 'spies', class: 'intelligence', entity: 'spies', approval: 'approved' },
];
const CAP = 25;
const accounts = [
  {
    v: 1, id: 'relay', name: 'Relay', plan: 'feed', status: 'active',
    use_cases: [
      { id: 'syndication', status: 'approved' },
      { id: 'ads', status: 'pending' },
      { id: 'old', status: 'withdrawn' },
    ],
    redistribution: { serves_recipients: true, mode: 'ids_only', ids_per_entity_30d: CAP, recipients },
  },
];
const tokens = {
  relay: newToken(),
  noUseCase: newToken(),
  pending: newToken(),
  withdrawn: newToken(),
  resale: newToken(),
};
const apps = [
  [tokens.relay, { app: 'relay-feed', use_case: 'syndication' }],
  [tokens.noUseCase, { app: 'relay-nocase' }],
  [tokens.pending, { app: 'relay-pending', use_case: 'ads' }],
  [tokens.withdrawn, { app: 'relay-old', use_case: 'old' }],
  [tokens.resale, { app: 'relay-shared', use_case: 'syndication' }],
];
const entries = [
  { key: 'tollgate:v1:plan:feed', value: JSON.stringify(plan) },
  ...accounts.map((a) => ({ key: `tollgate:v1:account:${a.id}`, value: JSON.stringify(a) })),
  ...apps.map(([t, r]) => ({
    key: `tollgate:v1:token:${tokenHash(t)}`,
    value: JSON.stringify({ v: 1, account: 'relay', status: 'active', ...r }),
  })),
];

let stack;
before(async () => { stack = await startStack({ entries }); }, { timeout: 200_000 });
after(async () => { await stack?.stop(); });

const search = (token, recipient, extra = {}) => stack.call('/2/tweets/search/recent?query=relay&max_results=10', {
  token,
  headers: { ...(recipient ? { 'x-tollgate-recipient': recipient } : {}), ...extra },
});

async function refused(res, status, reason) {
  assert.equal(res.status, status);
  const body = await res.json();
  if (reason) assert.equal(body.reason, reason, JSON.stringify(body));
  return body;
}

describe('use cases', () => {
  test('an app with no approved use case is refused, naming the reason', async () => {
    await stack.resetOrigin();
    await refused(await search(tokens.noUseCase, 'nw-east'), 403, 'use-case-missing');
    await refused(await search(tokens.pending, 'nw-east'), 403, 'use-case-pending');
    await refused(await search(tokens.withdrawn, 'nw-east'), 403, 'use-case-withdrawn');
    assert.equal((await stack.originStats()).served, 0);
  });
});

describe('recipients', () => {
  test('missing, malformed, unknown and unapproved recipients are refused', async () => {
    await stack.resetOrigin();
    await refused(await search(tokens.relay, undefined), 403, 'recipient-required');
    await refused(await search(tokens.relay, 'Not An Id'), 403, 'recipient-malformed');
    await refused(await search(tokens.relay, 'nobody'), 403, 'recipient-unknown');
    await refused(await search(tokens.relay, 'uni'), 403, 'recipient-not-approved');
    assert.equal((await stack.originStats()).served, 0);
  });

  test('a government recipient is refused without a written approval and served with one', async () => {
    await refused(await search(tokens.relay, 'ministry'), 403, 'government-approval-required');
    const ok = await search(tokens.relay, 'council');
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).data.length, 10);
  });

  test('surveillance and intelligence recipients are refused even when marked approved', async () => {
    await stack.resetOrigin();
    await refused(await search(tokens.relay, 'watchers'), 403, 'recipient-class-prohibited');
    await refused(await search(tokens.relay, 'spies'), 403, 'recipient-class-prohibited');
    assert.equal((await stack.originStats()).served, 0);
  });
});

describe('form', () => {
  test('ids_only responses carry identifiers only and still parse with a stock X API v2 client', async () => {
    const agent = new http.Agent({ keepAlive: false });
    try {
      const plugin = {
        onBeforeRequestConfig({ params }) {
          params.url = `${stack.base}/2/${params.url.slice('https://api.x.com/2/'.length)}`;
          params.headers = { ...params.headers, 'x-tollgate-recipient': 'council' };
        },
      };
      const client = new TwitterApi(tokens.relay, { httpAgent: agent, plugins: [plugin] }).readOnly.v2;
      const page = await client.search('relay', { max_results: 10, expansions: ['author_id'], 'tweet.fields': ['author_id', 'created_at'] });
      assert.equal(page.tweets.length, 10);
      for (const tweet of page.tweets) assert.deepEqual(Object.keys(tweet), ['id']);
      assert.equal(page.includes.users.length, 0, 'expansions left the edge');
      assert.equal(page.meta.result_count, 10);
      assert.ok(page.meta.next_token);
      const one = await client.singleTweet('20', { expansions: ['author_id'] });
      assert.deepEqual(one.data, { id: '20' });
      assert.equal(one.includes, undefined);
    } finally {
      agent.destroy();
    }
    // A full-mode recipient gets whole objects.
    const full = await (await search(tokens.relay, 'full-client')).json();
    assert.ok(full.data.every((t) => typeof t.text === 'string'));
  });
});

describe('volume', () => {
  test('the 30-day cap binds at exactly its value across two recipients of one entity', async () => {
    await stack.resetOrigin();
    const delivered = [];
    const statuses = [];
    for (const recipient of ['nw-east', 'nw-west', 'nw-east', 'nw-west', 'nw-east']) {
      const res = await search(tokens.relay, recipient);
      statuses.push(res.status);
      const body = await res.json();
      if (res.status === 200) {
        delivered.push(body.data?.length ?? 0);
        assert.equal(body.meta.result_count, body.data.length);
      } else {
        assert.match(body.type, /\/redistribution-capped$/);
        assert.ok(Number(res.headers.get('retry-after')) > 0);
      }
      await new Promise((r) => setTimeout(r, 200)); // the settlement lands just after the response
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.deepEqual(delivered, [10, 10, 5]);
    assert.equal(delivered.reduce((a, b) => a + b, 0), CAP);
    assert.equal((await stack.originStats()).served, 3, 'capped requests never reached the origin');
  });
});

describe('resale', () => {
  test('one token used by many distinct clients in a day is recorded as resale', async () => {
    for (let i = 0; i < 12; i++) {
      // One ID per request keeps the entity far below its 30-day cap.
      const res = await stack.call('/2/tweets/20', {
        token: tokens.resale,
        headers: { 'x-tollgate-recipient': 'resale-client', 'user-agent': `reseller-client/${i}` },
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const report = await (await stack.admin('GET', 'accounts/relay/report')).json();
    const resale = report.events.filter((e) => e.kind === 'resale');
    assert.equal(resale.length, 1, JSON.stringify(report.events));
    assert.equal(resale[0].evidence.app, 'relay-shared');
    assert.equal(resale[0].evidence.distinct_clients, 10);
    assert.equal(resale[0].evidence.clients.length, 10);
    assert.ok(resale[0].evidence.clients.every((c) => c.agent.startsWith('reseller-client/')));
  });
});
