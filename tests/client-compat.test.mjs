// A stock X API v2 client library, unmodified, against Tollgate: `twitter-api-v2` (pinned in
// package.json) talks to the worker exactly as it would talk to api.x.com.
//
// How it is pointed at Tollgate, using only the library's documented extension points:
// - `plugins` (doc/plugins.md): an `onBeforeRequestConfig` hook swaps the library's fixed v2
//   prefix `https://api.x.com/2/` for `<worker>/2/` before the request is built. Anything else
//   is refused, so nothing from this file can reach the real X API.
// - `httpAgent` (doc/basics.md, "Make requests behind a proxy"): the library always calls
//   `https.request`; a plain `http.Agent` makes Node accept the `http:` URL of the local worker.
// The library's public `cloneWithPrefix()` would be the natural prefix switch, but in 1.29.1 it
// calls a class constructor without `new` and throws a TypeError, so it cannot be used.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { ApiResponseError, TweetSearchRecentV2Paginator, TweetUserTimelineV2Paginator, TwitterApi } from 'twitter-api-v2';

import { demoToken, newToken, startStack } from './harness.mjs';

const X_V2_PREFIX = 'https://api.x.com/2/';
const TYPE_BASE = 'https://api.example.com/2/problems/';
const QUERY = 'tollgate edge #api';
const TEST_MS = 60_000;

let stack;
let agent;

before(async () => {
  stack = await startStack();
  agent = new http.Agent({ keepAlive: false });
}, { timeout: 200_000 });

after(async () => {
  agent?.destroy();
  await stack?.stop();
});

/** A stock client for `token` whose requests go to the local worker instead of api.x.com. */
function xClient(token) {
  const toTollgate = {
    onBeforeRequestConfig({ params }) {
      if (!params.url.startsWith(X_V2_PREFIX)) throw new Error(`unexpected request outside X API v2: ${params.url}`);
      params.url = `${stack.base}/2/${params.url.slice(X_V2_PREFIX.length)}`;
    },
  };
  return new TwitterApi(token, { httpAgent: agent, plugins: [toTollgate] }).readOnly.v2;
}

/** Raw JSON from the worker, for comparing with what the library parsed. */
async function raw(path, token) {
  const res = await stack.call(path, { token });
  assert.equal(res.status, 200, path);
  return res.json();
}

/** Every id of a search, walked page by page with plain HTTP (next_token). */
async function rawSearchIds(query, token) {
  const ids = [];
  let next;
  for (let pages = 0; pages < 10; pages++) {
    const qs = new URLSearchParams({ query, max_results: '100', ...(next ? { next_token: next } : {}) });
    const body = await raw(`/2/tweets/search/recent?${qs}`, token);
    ids.push(...(body.data ?? []).map((t) => t.id));
    next = body.meta.next_token;
    if (!next) return ids;
  }
  throw new Error('raw search walk did not end');
}

function assertNewestFirst(ids) {
  for (let i = 1; i < ids.length; i++) assert.ok(BigInt(ids[i - 1]) > BigInt(ids[i]), `ids out of order at ${i}`);
  assert.equal(new Set(ids).size, ids.length, 'duplicate ids');
}

async function expectApiError(promise, status, reason) {
  let caught;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, `expected the library to throw a ${status}`);
  assert.ok(caught instanceof ApiResponseError, `not an ApiResponseError: ${caught?.stack ?? caught}`);
  assert.equal(caught.type, 'response');
  assert.equal(caught.code, status);
  assert.match(String(caught.headers['content-type']), /^application\/problem\+json/);
  const body = caught.data;
  assert.equal(typeof body, 'object', 'the problem body was not parsed');
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.detail.length > 0);
  assert.equal(typeof body.type, 'string');
  assert.ok(body.type.startsWith(TYPE_BASE), body.type);
  assert.equal(body.reason, reason);
  assert.match(caught.message, new RegExp(`code ${status}`));
  return caught;
}

describe('twitter-api-v2 through Tollgate', { timeout: 6 * TEST_MS }, () => {
  test('recent search: first page, the paginator’s next pages, and a full walk', { timeout: TEST_MS }, async () => {
    const token = demoToken('acme-search');
    const v2 = xClient(token);
    await stack.resetOrigin();

    const page = await v2.search(QUERY, {
      max_results: 10,
      'tweet.fields': ['created_at', 'author_id'],
      expansions: ['author_id'],
      'user.fields': ['username'],
    });
    assert.ok(page instanceof TweetSearchRecentV2Paginator);
    assert.equal(page.meta.result_count, 10);
    assert.equal(page.tweets.length, 10);
    assert.equal(page.done, false);
    assert.ok(page.meta.next_token);
    assert.equal(page.meta.newest_id, page.tweets[0].id);
    assert.equal(page.meta.oldest_id, page.tweets[9].id);
    assertNewestFirst(page.tweets.map((t) => t.id));
    for (const tweet of page.tweets) {
      assert.match(tweet.id, /^\d+$/);
      assert.equal(typeof tweet.text, 'string');
      assert.deepEqual(tweet.edit_history_tweet_ids, [tweet.id]);
      assert.match(tweet.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      // The library's includes helper resolves the expanded author.
      const author = page.includes.author(tweet);
      assert.ok(author, `no author for ${tweet.id}`);
      assert.equal(author.id, tweet.author_id);
      assert.equal(typeof author.username, 'string');
    }

    // The library's request went through the worker, which signed it for this app.
    const last = await stack.originLast();
    assert.match(last.url, /^\/2\/tweets\/search\/recent\?/);
    const sent = new URLSearchParams(last.url.split('?')[1]);
    assert.equal(sent.get('query'), QUERY);
    assert.equal(sent.get('max_results'), '10');
    assert.equal(sent.get('tweet.fields'), 'created_at,author_id');
    assert.match(last.headers['x-tollgate-context'], /;account=acme;app=acme-search;/);
    assert.equal(last.headers.authorization, undefined);

    // Same bytes as a plain request for the same page.
    const plain = await raw(`/2/tweets/search/recent?${new URLSearchParams({ query: QUERY, max_results: '10' })}`, token);
    assert.deepEqual(page.tweets.map((t) => t.id), plain.data.map((t) => t.id));
    assert.deepEqual({ ...page.meta }, plain.meta);

    // Page 2 with the paginator's own next token, as a new paginator.
    const second = await page.next();
    assert.equal(second.tweets.length, second.meta.result_count);
    assert.ok(second.meta.result_count > 0);
    assert.ok(BigInt(second.meta.newest_id) < BigInt(page.meta.oldest_id), 'page 2 overlaps page 1');
    const lastQs = new URLSearchParams((await stack.originLast()).url.split('?')[1]);
    assert.ok(lastQs.get('next_token') ?? lastQs.get('pagination_token'), 'page 2 was requested without a token');

    // Page 2 again, accumulated into the first paginator.
    await page.fetchNext();
    assert.equal(page.tweets.length, 10 + second.tweets.length);
    assert.equal(page.meta.result_count, page.tweets.length);
    assert.deepEqual(page.tweets.slice(10).map((t) => t.id), second.tweets.map((t) => t.id));
    assertNewestFirst(page.tweets.map((t) => t.id));

    // The async iterator keeps paging by itself (at least a third page).
    const iterated = [];
    for await (const tweet of await v2.search(QUERY, { max_results: 10 })) {
      iterated.push(tweet.id);
      if (iterated.length >= 25) break;
    }
    assert.equal(iterated.length, 25);
    assert.deepEqual(iterated.slice(0, 20), page.tweets.map((t) => t.id));
    assertNewestFirst(iterated);

    // The whole result set with fetchLast equals a plain page-by-page walk.
    const all = await v2.search(QUERY, { max_results: 100 });
    await all.fetchLast(1000);
    assert.equal(all.done, true);
    const allIds = all.tweets.map((t) => t.id);
    assert.deepEqual(allIds, await rawSearchIds(QUERY, token));
    assert.equal(all.meta.result_count, allIds.length);
    assert.ok(allIds.length >= 25);
    assert.deepEqual(allIds.slice(0, 25), iterated);
  });

  test('tweet lookup by ids: found tweets and the API’s not-found errors', { timeout: TEST_MS }, async () => {
    const v2 = xClient(demoToken('acme-search'));
    // The origin reports ids divisible by 7 as not found.
    const result = await v2.tweets(['20', '21', '22', '14'], { 'tweet.fields': ['created_at', 'author_id', 'lang'] });
    assert.deepEqual(result.data.map((t) => t.id), ['20', '22']);
    for (const tweet of result.data) {
      assert.equal(tweet.lang, 'en');
      assert.match(tweet.author_id, /^\d+$/);
      assert.equal(typeof tweet.text, 'string');
    }
    assert.deepEqual(result.errors.map((e) => e.resource_id), ['21', '14']);
    for (const error of result.errors) {
      assert.equal(error.title, 'Not Found Error');
      assert.equal(error.resource_type, 'tweet');
      assert.equal(error.parameter, 'ids');
    }
    const last = await stack.originLast();
    assert.equal(new URLSearchParams(last.url.split('?')[1]).get('ids'), '20,21,22,14');
  });

  test('single tweet by id, and a missing one', { timeout: TEST_MS }, async () => {
    const token = demoToken('acme-search');
    const v2 = xClient(token);
    const one = await v2.singleTweet('20', { 'tweet.fields': ['created_at', 'author_id', 'public_metrics'], expansions: ['author_id'] });
    assert.equal(one.data.id, '20');
    assert.deepEqual(one.data.edit_history_tweet_ids, ['20']);
    assert.equal(typeof one.data.public_metrics.like_count, 'number');
    assert.equal(one.includes.users.length, 1);
    assert.equal(one.includes.users[0].id, one.data.author_id);
    assert.deepEqual(one, await raw('/2/tweets/20?tweet.fields=created_at,author_id,public_metrics&expansions=author_id', token));

    const missing = await v2.singleTweet('21');
    assert.equal(missing.data, undefined);
    assert.equal(missing.errors[0].resource_id, '21');
    assert.equal(missing.errors[0].title, 'Not Found Error');
  });

  test('user timeline with its paginator', { timeout: TEST_MS }, async () => {
    const v2 = xClient(demoToken('acme-search'));
    const timeline = await v2.userTimeline('12', { max_results: 5, 'tweet.fields': ['created_at'] });
    assert.ok(timeline instanceof TweetUserTimelineV2Paginator);
    assert.equal(timeline.meta.result_count, 5);
    assert.equal(timeline.tweets.length, 5);
    assert.equal(timeline.meta.newest_id, timeline.tweets[0].id);
    assert.equal(timeline.meta.oldest_id, timeline.tweets[4].id);
    assert.ok(timeline.meta.next_token);
    assert.equal(timeline.done, false);
    assert.match((await stack.originLast()).url, /^\/2\/users\/12\/tweets\?/);

    const second = await timeline.next();
    assert.equal(second.tweets.length, 5);
    assert.ok(second.meta.previous_token, 'page 2 has no previous_token');
    await timeline.fetchNext();
    assert.equal(timeline.tweets.length, 10);
    assert.equal(timeline.meta.result_count, 10);
    assert.deepEqual(timeline.tweets.slice(5).map((t) => t.id), second.tweets.map((t) => t.id));
    const ids = timeline.tweets.map((t) => t.id);
    assertNewestFirst(ids);
    // All by the same author; timestamps agree with the order.
    const times = timeline.tweets.map((t) => Date.parse(t.created_at));
    for (let i = 1; i < times.length; i++) assert.ok(times[i - 1] >= times[i]);
  });

  test('an unknown token makes the library throw its ApiResponseError with the 401 problem', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    const err = await expectApiError(xClient(newToken()).singleTweet('20'), 401, 'unknown-token');
    assert.equal(err.isAuthError, true);
    assert.equal(err.rateLimitError, false);
    // Also from a paginated endpoint's first request.
    await expectApiError(xClient(newToken()).search(QUERY), 401, 'unknown-token');
    const stats = await stack.originStats();
    assert.equal(stats.served, 0);
    assert.equal(stats.refused, 0);
  });

  test('a call outside the plan makes the library throw its ApiResponseError with the 403 problem', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    const globex = xClient(demoToken('globex-lookup'));
    const err = await expectApiError(globex.search(QUERY, { max_results: 10 }), 403, 'endpoint-not-in-plan');
    assert.equal(err.isAuthError, false);
    assert.equal((await stack.originStats()).served, 0);
    // The same client is fine on the endpoint its plan has.
    const one = await globex.singleTweet('20');
    assert.equal(one.data.id, '20');
    assert.equal((await stack.originStats()).served, 1);
  });
});
