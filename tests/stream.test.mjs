// Streams end to end through `wrangler dev`: the filtered and sample streams pass each line on as
// the origin sends it, every post line is metered (the ledger's items equal the origin's post
// lines, exactly), keep-alives and error lines pass uncounted, a recipient gets ids only per
// line, the monthly cap and the entity's 30-day ids cut a stream after its last allowed line
// with an error line saying why, revoking the token or suspending the account ends an open
// stream within one report, a plan's connection limits refuse a stream past them with 429 before
// the origin is called, and bad streams (an over-long line, a line that is not JSON, an origin
// that goes silent, a connection cut mid-line) each end the way the README says. An unmodified
// streaming client (`twitter-api-v2`) reads the stream as it would read X's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { ETwitterStreamEvent, TwitterApi } from 'twitter-api-v2';

import { newToken, startStack, tokenHash } from './harness.mjs';

const STREAM = '/2/tweets/search/stream';
const SAMPLE = '/2/tweets/sample/stream';
const X_V2_PREFIX = 'https://api.x.com/2/';
const TEST_MS = 60_000;
const PROBLEMS = 'https://api.example.com/2/problems/';
const MONTH_CAP = 2_500;
const SILENCE_S = 3;

const plan = {
  v: 1,
  id: 'streams',
  endpoints: [
    { method: 'GET', path: STREAM, group: 'stream', stream: true },
    { method: 'GET', path: SAMPLE, group: 'stream', stream: true },
    { method: 'GET', path: '/2/tweets/search/stream/rules', group: 'rules' },
    { method: 'POST', path: '/2/tweets/search/stream/rules', group: 'rules' },
  ],
  limits: [{ group: 'stream', scope: 'app', requests: 100, window_seconds: 900 }],
};
const cappedPlan = { ...plan, id: 'streams-capped', monthly_item_cap: MONTH_CAP };
// The API's model: one stream per app; and two for the whole account.
const limitedPlan = { ...plan, id: 'streams-limited', stream_connections_per_app: 1, stream_connections_per_account: 2 };
const limitedApps = ['one', 'two', 'three', 'client-one'];
const limitedTokens = Object.fromEntries(limitedApps.map((a) => [a, newToken()]));
const useCases = [{ id: 'monitoring', status: 'approved' }];
// One account per test, so each test's ledger holds only its own streams.
const plain = ['first-line', 'library', 'keepalive', 'long-line', 'not-json', 'cut', 'client-gone', 'open-stream', 'revoked', 'suspended', 'silent', 'client-revoke', 'burst'];
const ENTITY_CAP = 120;
const relay = {
  v: 1, id: 'relay-stream', name: 'Relay Streams', plan: 'streams', status: 'active', use_cases: useCases,
  redistribution: {
    serves_recipients: true, mode: 'ids_only', ids_per_entity_30d: ENTITY_CAP,
    recipients: [
      { id: 'nw-east', class: 'commercial', entity: 'northwind', approval: 'approved' },
      { id: 'capped', class: 'commercial', entity: 'cappedco', approval: 'approved', mode: 'full' },
      { id: 'client-feed', class: 'commercial', entity: 'clientco', approval: 'approved' },
    ],
  },
};
const tokens = Object.fromEntries([...plain, relay.id, 'month-cap', 'client-cap'].map((a) => [a, newToken()]));
const entries = [
  { key: 'tollgate:v1:plan:streams', value: JSON.stringify(plan) },
  { key: 'tollgate:v1:plan:streams-capped', value: JSON.stringify(cappedPlan) },
  { key: 'tollgate:v1:plan:streams-limited', value: JSON.stringify(limitedPlan) },
  {
    key: 'tollgate:v1:account:limited',
    value: JSON.stringify({ v: 1, id: 'limited', name: 'limited', plan: 'streams-limited', status: 'active', use_cases: useCases }),
  },
  ...limitedApps.map((app) => ({
    key: `tollgate:v1:token:${tokenHash(limitedTokens[app])}`,
    value: JSON.stringify({ v: 1, account: 'limited', app, status: 'active', use_case: 'monitoring' }),
  })),
  ...['month-cap', 'client-cap'].map((id) => ({
    key: `tollgate:v1:account:${id}`,
    value: JSON.stringify({ v: 1, id, name: id, plan: 'streams-capped', status: 'active', use_cases: useCases }),
  })),
  ...plain.map((a) => ({
    key: `tollgate:v1:account:${a}`,
    value: JSON.stringify({ v: 1, id: a, name: a, plan: 'streams', status: 'active', use_cases: useCases }),
  })),
  { key: `tollgate:v1:account:${relay.id}`, value: JSON.stringify(relay) },
  ...Object.entries(tokens).map(([account, t]) => ({
    key: `tollgate:v1:token:${tokenHash(t)}`,
    value: JSON.stringify({ v: 1, account, app: `${account}-app`, status: 'active', use_case: 'monitoring' }),
  })),
];

let stack;
let agent;
before(async () => {
  // An origin silent for 3 s ends a stream (the default is 60 s); every stream here sends more often.
  stack = await startStack({ entries, vars: { STREAM_SILENCE_SECONDS: String(SILENCE_S) } });
  agent = new http.Agent({ keepAlive: false });
}, { timeout: 200_000 });
after(async () => {
  agent?.destroy();
  await stack?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Sets how the origin's streams behave (POST /__origin/stream). */
async function originStream(config) {
  const res = await fetch(`${stack.originUrl}/__origin/stream`, { method: 'POST', body: JSON.stringify(config) });
  assert.equal(res.status, 204, await res.text());
}
const streamCounts = async () => (await fetch(`${stack.originUrl}/__origin/stream`)).json();

/**
 * A stream read through the worker as it arrives: the text, the time of the first whole line,
 * and how it ended. `stopAfterLines` hangs up once that many lines have come.
 */
async function readStream(path, { token, recipient, stopAfterLines } = {}) {
  const started = Date.now();
  const controller = new AbortController();
  const res = await fetch(`${stack.base}${path}`, {
    headers: { authorization: `Bearer ${token}`, ...(recipient ? { 'x-tollgate-recipient': recipient } : {}) },
    signal: controller.signal,
  });
  const out = { status: res.status, headers: res.headers, text: '', firstLineAt: null, ended: 'end' };
  // When the text had reached each length (ms since the request): when a line arrived.
  const marks = [];
  if (!res.body) return out;
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out.text += decoder.decode(value, { stream: true });
      marks.push([Date.now() - started, out.text.length]);
      if (out.firstLineAt === null && out.text.includes('\r\n')) out.firstLineAt = Date.now() - started;
      if (stopAfterLines && out.text.split('\r\n').length - 1 >= stopAfterLines) {
        controller.abort();
        out.ended = 'stopped';
        break;
      }
    }
  } catch {
    out.ended = 'error';
  }
  out.took = Date.now() - started;
  const parts = out.text.split('\r\n');
  out.lines = parts.slice(0, -1);
  out.tail = parts.at(-1);
  out.posts = out.lines.filter((l) => l.startsWith('{"data"'));
  const lastPost = out.text.lastIndexOf('{"data"');
  const lastPostEnd = lastPost === -1 ? -1 : out.text.indexOf('\r\n', lastPost);
  out.lastPostAt = lastPostEnd === -1 ? null : (marks.find(([, length]) => length > lastPostEnd)?.[0] ?? null);
  return out;
}

/** Refusals under one reason in an account's usage, over its rows. */
const refusedFor = (usage, reason) => usage.rows.reduce((n, r) => n + (r.refused[reason] ?? 0), 0);

/** Waits for a line of the worker's log (it is written just after the stream's last report). */
async function logged(pattern) {
  for (let i = 0; i < 50 && !pattern.test(stack.logs()); i++) await sleep(100);
  assert.match(stack.logs(), pattern);
}

/** The account's ledger totals once `ready` holds for them (reports land just after the stream). */
async function usage(account, ready = () => true) {
  let last;
  for (let i = 0; i < 50; i++) {
    const res = await stack.admin('GET', `accounts/${account}/usage`);
    assert.equal(res.status, 200);
    last = await res.json();
    if (ready(last.totals)) return last;
    await sleep(200);
  }
  return last;
}

describe('streams through Tollgate', { timeout: 18 * TEST_MS }, () => {
  test('the first line arrives long before the stream ends, and every post line is metered', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    // One line every 200 ms for 3 s.
    await originStream({ rate: 5, lines: 15 });
    const read = await readStream(`${STREAM}?tweet.fields=created_at&expansions=author_id`, { token: tokens['first-line'] });
    assert.equal(read.status, 200);
    assert.match(read.headers.get('content-type'), /^application\/json/);
    assert.ok(read.headers.get('x-rate-limit-remaining'), 'rate-limit headers on the stream');
    assert.equal(read.ended, 'end');
    assert.ok(read.firstLineAt < 1000, `first line after ${read.firstLineAt} ms`);
    assert.ok(read.took >= 2500, `the stream took ${read.took} ms`);
    assert.ok(read.took - read.firstLineAt >= 2000, 'lines kept coming after the first');
    assert.equal(read.posts.length, 15);
    const first = JSON.parse(read.posts[0]);
    assert.ok(first.data.created_at && first.includes.users.length === 1, 'fields and expansions pass');
    assert.deepEqual(first.matching_rules, [{ id: '1700000000000000001', tag: 'demo' }]);

    const sent = (await streamCounts()).lines;
    assert.equal(sent, 15);
    const { totals } = await usage('first-line', (t) => t.items >= sent);
    assert.equal(totals.items, sent, 'the ledger counts every post line the origin sent');
    assert.equal(totals.distinct_items, sent);
    assert.equal(totals.forwarded, 1);
    assert.ok(totals.bytes >= read.text.length, `bytes ${totals.bytes}`);

    // The sample stream, in the same group, is metered the same way.
    await originStream({ rate: 50, lines: 4 });
    const sample = await readStream(SAMPLE, { token: tokens['first-line'] });
    assert.equal(sample.posts.length, 4);
    assert.equal(JSON.parse(sample.posts[0]).matching_rules, undefined);
    const again = await usage('first-line', (t) => t.items >= sent + 4);
    assert.equal(again.totals.items, sent + 4);
    assert.equal(again.totals.forwarded, 2);
  });

  test('an unmodified streaming client (twitter-api-v2 searchStream) receives the posts', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 20, lines: 8 });
    const token = tokens.library;
    // The same trick as client-compat: the library's documented plugin hooks swap its fixed X
    // prefix for the local worker (streams have a hook of their own).
    const toTollgate = (params) => {
      if (!params.url.startsWith(X_V2_PREFIX)) throw new Error(`unexpected request outside X API v2: ${params.url}`);
      params.url = `${stack.base}/2/${params.url.slice(X_V2_PREFIX.length)}`;
    };
    const client = new TwitterApi(token, {
      httpAgent: agent,
      plugins: [{
        onBeforeRequestConfig: ({ params }) => toTollgate(params),
        onBeforeStreamRequestConfig: ({ params }) => toTollgate(params),
      }],
    }).readOnly.v2;

    const rules = await client.streamRules();
    assert.equal(rules.data[0].tag, 'demo');
    const stream = await client.searchStream({ 'tweet.fields': ['created_at', 'author_id'], expansions: ['author_id'] });
    const posts = [];
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${posts.length} posts arrived`)), 20_000);
      stream.on(ETwitterStreamEvent.Data, (event) => {
        posts.push(event);
      });
      stream.on(ETwitterStreamEvent.ConnectionClosed, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    stream.close();
    assert.equal(posts.length, 8);
    for (const post of posts) {
      assert.match(post.data.id, /^\d+$/);
      assert.ok(post.data.created_at && post.data.author_id);
      assert.equal(post.includes.users[0].id, post.data.author_id);
      assert.equal(post.matching_rules[0].tag, 'demo');
    }
    // The stream's own ledger rows (the rules listing counts its rules, as any `data` does).
    const ledger = await usage('library', (t) => t.items >= 9);
    const streamed = ledger.rows.filter((r) => r.group === 'stream').reduce((n, r) => n + r.items, 0);
    assert.equal(streamed, (await streamCounts()).lines);
    assert.equal(streamed, 8);
  });

  test('an open stream is reported as it flows, within the reporting interval', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 10, lines: null });
    const controller = new AbortController();
    const res = await fetch(`${stack.base}${STREAM}`, { headers: { authorization: `Bearer ${tokens['open-stream']}` }, signal: controller.signal });
    assert.equal(res.status, 200);
    let received = 0;
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body) received += decoder.decode(chunk).split('\r\n').length - 1;
      } catch { /* aborted below */ }
    })();
    // Reports come every 2 s (or 1,000 items): the ledger trails the client by about that.
    await sleep(3500);
    const early = (await usage('open-stream')).totals.items;
    assert.ok(early >= 10 && early <= received, `after 3.5 s: ${early} in the ledger, ${received} received`);
    await sleep(2500);
    const later = (await usage('open-stream')).totals.items;
    assert.ok(later >= early + 10 && later <= received, `after 6 s: ${later} in the ledger, ${received} received`);
    assert.equal((await streamCounts()).open, 1, 'the stream is still open');
    controller.abort();
    await reading;
  });

  test('keep-alives and the operational-disconnect error line pass through uncounted', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 4, lines: 3, keepalive_ms: 60, then: 'disconnect' });
    const read = await readStream(STREAM, { token: tokens.keepalive });
    assert.equal(read.ended, 'end');
    assert.equal(read.posts.length, 3);
    const keepalives = read.lines.filter((l) => l === '').length;
    assert.ok(keepalives >= 2, `keep-alives seen: ${keepalives}`);
    const last = JSON.parse(read.lines.at(-1));
    assert.equal(last.errors[0].disconnect_type, 'OperationalDisconnect');
    assert.equal(last.errors[0].type, 'https://api.twitter.com/2/problems/operational-disconnect');
    const origin = await streamCounts();
    assert.equal(origin.errors, 1);
    assert.equal(origin.keepalives, keepalives);
    const { totals } = await usage('keepalive', (t) => t.items >= 3);
    assert.equal(totals.items, 3, 'only the post lines count');
  });

  test('for a recipient, each line leaves as ids only, and the entity cap is spent per line', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    const token = tokens[relay.id];
    await originStream({ rate: 50, lines: 5, then: 'disconnect' });
    const read = await readStream(`${STREAM}?tweet.fields=created_at,author_id&expansions=author_id`, { token, recipient: 'nw-east' });
    assert.equal(read.status, 200);
    assert.equal(read.posts.length, 5);
    for (const line of read.posts) {
      assert.deepEqual(Object.keys(JSON.parse(line)).sort(), ['data', 'matching_rules']);
      assert.deepEqual(Object.keys(JSON.parse(line).data), ['id']);
      assert.equal(JSON.parse(line).matching_rules[0].tag, 'demo');
    }
    assert.equal(JSON.parse(read.lines.at(-1)).errors[0].title, 'operational-disconnect', 'error lines pass');
    const first = await usage(relay.id, (t) => t.items >= 5);
    assert.equal(first.totals.items, 5);
    assert.ok(first.rows.every((r) => r.recipient === 'nw-east'));

    // The entity may receive 120 ids in 30 days, 5 of them spent. The stream's holds are
    // renewed as it reports, so it runs to the entity's cap: 115 more lines, then one error line
    // saying why, and the stream ends.
    await originStream({ rate: 500, lines: null });
    const second = await readStream(STREAM, { token, recipient: 'nw-east' });
    assert.equal(second.ended, 'end');
    assert.equal(second.posts.length, ENTITY_CAP - 5);
    assert.equal(second.lines.length, ENTITY_CAP - 5 + 1 + second.lines.filter((l) => l === '').length);
    const last = JSON.parse(second.lines.at(-1));
    assert.equal(last.data, undefined);
    assert.equal(last.errors[0].type, `${PROBLEMS}redistribution-capped`);
    assert.equal(last.errors[0].status, 429);
    const capped = await stack.call(STREAM, { token, headers: { 'x-tollgate-recipient': 'nw-east' } });
    assert.equal(capped.status, 429);
    assert.equal((await capped.json()).type.endsWith('redistribution-capped'), true);
    const ledger = await usage(relay.id, (t) => t.items >= ENTITY_CAP);
    assert.equal(ledger.totals.items, ENTITY_CAP, 'the ledger has exactly what the recipient received');
    // The ledger says why: the cut stream and the refused connection.
    assert.equal(refusedFor(ledger, 'redistribution-capped'), 2);
  });

  test('the monthly cap cuts a stream after its last allowed line, with the usage-capped error line', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    // More than one hold's worth (2,000), so the stream renews its hold on the way to the cap.
    await originStream({ rate: 2_000, lines: null });
    const token = tokens['month-cap'];
    const read = await readStream(STREAM, { token });
    assert.equal(read.status, 200);
    assert.equal(read.ended, 'end');
    assert.equal(read.posts.length, MONTH_CAP);
    const last = JSON.parse(read.lines.at(-1));
    assert.deepEqual(Object.keys(last), ['errors']);
    assert.equal(last.errors[0].type, `${PROBLEMS}usage-capped`);
    assert.equal(last.errors[0].title, 'Usage Capped');
    assert.equal(new Set(read.posts.map((l) => JSON.parse(l).data.id)).size, MONTH_CAP, 'distinct posts');
    const ledger = await usage('month-cap', (t) => t.items >= MONTH_CAP && t.refused >= 1);
    assert.equal(ledger.totals.items, MONTH_CAP);
    assert.equal(ledger.totals.distinct_items, MONTH_CAP);
    assert.equal(refusedFor(ledger, 'usage-capped'), 1, 'the ledger says why the stream ended');
    assert.ok((await streamCounts()).lines > MONTH_CAP, 'the origin sent more than the cap allowed');
    await logged(/"event":"stream_ended"[^\n]*"how":"usage-capped"/);
    // The next connection is refused before the origin is called.
    const opened = (await streamCounts()).opened;
    const refused = await stack.call(STREAM, { token });
    assert.equal(refused.status, 429);
    assert.equal((await refused.json()).type, `${PROBLEMS}usage-capped`);
    assert.equal((await streamCounts()).opened, opened);
  });

  /**
   * Opens an endless stream, does `act` once `before` lines have come, and reads on to the end:
   * the lines, and how long after `act` returned the stream ended.
   */
  async function endedBy(token, before, act) {
    await originStream({ rate: 20, lines: null });
    const res = await fetch(`${stack.base}${STREAM}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const decoder = new TextDecoder();
    let text = '';
    let acted = null;
    const deadline = setTimeout(() => res.body.cancel(), 20_000);
    try {
      for await (const chunk of res.body) {
        text += decoder.decode(chunk, { stream: true });
        if (acted === null && text.split('\r\n').length > before) {
          await act();
          acted = Date.now();
        }
      }
    } finally {
      clearTimeout(deadline);
    }
    const lines = text.split('\r\n').slice(0, -1);
    return { lines, afterMs: Date.now() - acted, last: JSON.parse(lines.at(-1)) };
  }

  test('revoking the token ends its open stream within one report (2 s), with the 401 as its last line', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    const token = tokens.revoked;
    const { lines, afterMs, last } = await endedBy(token, 5, async () => {
      const res = await stack.admin('POST', `tokens/${tokenHash(token)}/revoke`);
      assert.equal(res.status, 200);
    });
    console.log(`revoked: the stream ended ${afterMs} ms after the revocation`);
    assert.ok(afterMs <= 2_000 + 1_500, `ended ${afterMs} ms after the revocation`);
    assert.equal(last.errors[0].type, `${PROBLEMS}unauthorized`);
    assert.equal(last.errors[0].reason, 'revoked-token');
    assert.equal(last.errors[0].status, 401);
    const posts = lines.filter((l) => l.startsWith('{"data"')).length;
    // The origin is let go, and the ledger has the posts sent and why the stream ended.
    for (let i = 0; i < 50 && (await streamCounts()).open > 0; i++) await sleep(100);
    assert.equal((await streamCounts()).open, 0);
    const ledger = await usage('revoked', (t) => t.items >= posts && t.refused >= 1);
    assert.equal(ledger.totals.items, posts);
    assert.equal(refusedFor(ledger, 'revoked-token'), 1);
    await logged(/"event":"stream_ended"[^\n]*"how":"revoked-token"/);
  });

  test('suspending the account ends its open stream within one report, with the 403 as its last line', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    const { afterMs, last } = await endedBy(tokens.suspended, 5, async () => {
      const res = await stack.admin('POST', 'accounts/suspended/suspend');
      assert.equal(res.status, 200);
    });
    console.log(`suspended: the stream ended ${afterMs} ms after the suspension`);
    assert.ok(afterMs <= 2_000 + 1_500, `ended ${afterMs} ms after the suspension`);
    assert.equal(last.errors[0].reason, 'account-suspended');
    assert.equal(last.errors[0].status, 403);
    const ledger = await usage('suspended', (t) => t.refused >= 1);
    assert.equal(refusedFor(ledger, 'account-suspended'), 1);
  });

  test('connection limits: one stream per app and two per account, refused with 429 before the origin is called', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 10, lines: null });
    const open = async (app) => {
      const controller = new AbortController();
      const res = await fetch(`${stack.base}${STREAM}`, { headers: { authorization: `Bearer ${limitedTokens[app]}` }, signal: controller.signal });
      if (res.status === 200) res.body.getReader().read().catch(() => {}); // read, so the stream flows
      return { res, close: () => controller.abort() };
    };
    const first = await open('one');
    assert.equal(first.res.status, 200);
    const opened = (await streamCounts()).opened;
    const again = await open('one');
    assert.equal(again.res.status, 429);
    const problem = await again.res.json();
    assert.equal(problem.type, `${PROBLEMS}streaming-connection`);
    assert.equal(problem.title, 'ConnectionException');
    assert.equal(problem.connection_issue, 'TooManyConnections');
    assert.equal(problem.reason, 'too-many-connections');
    assert.equal((await streamCounts()).opened, opened, 'the origin was not called');
    // Another app of the account has a slot of its own; a third passes the account's two.
    const second = await open('two');
    assert.equal(second.res.status, 200);
    const third = await open('three');
    assert.equal(third.res.status, 429);
    // A stream that ends frees its slot as soon as its last report is in.
    first.close();
    let reopened;
    for (let i = 0; i < 50; i++) {
      reopened = await open('one');
      if (reopened.res.status === 200) break;
      await reopened.res.body?.cancel();
      await sleep(100);
    }
    assert.equal(reopened.res.status, 200);
    reopened.close();
    second.close();
    const ledger = await usage('limited', (t) => t.refused >= 2);
    assert.ok(refusedFor(ledger, 'too-many-connections') >= 2, JSON.stringify(ledger.rows));
  });

  test('a line longer than the limit is dropped, the stream goes on, and it is not counted', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 50, lines: 3, inject: [{ after: 1, kind: 'long', bytes: 1_200_000 }] });
    const read = await readStream(STREAM, { token: tokens['long-line'] });
    assert.equal(read.ended, 'end');
    assert.equal(read.lines.length, 3, 'the over-long line never reaches the client');
    assert.ok(read.text.length < 10_000);
    const origin = await streamCounts();
    assert.deepEqual([origin.lines, origin.long], [3, 1]);
    const { totals } = await usage('long-line', (t) => t.items >= 3);
    assert.equal(totals.items, 3);
    await logged(/"event":"stream_lines_dropped"[^\n]*"too_long":1/);
  });

  test('a line that is not JSON passes uncounted without a recipient, and is never sent to one', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 50, lines: 3, inject: [{ after: 1, kind: 'garbage' }] });
    const read = await readStream(STREAM, { token: tokens['not-json'] });
    assert.equal(read.lines.length, 4);
    assert.equal(read.lines[1], '<html>this line is not JSON</html>');
    const { totals } = await usage('not-json', (t) => t.items >= 3);
    assert.equal(totals.items, 3);

    const before = (await usage(relay.id)).totals.items;
    await originStream({ rate: 50, lines: 3, inject: [{ after: 1, kind: 'garbage' }] });
    const filtered = await readStream(STREAM, { token: tokens[relay.id], recipient: 'capped' });
    assert.equal(filtered.lines.length, 3);
    assert.ok(!filtered.text.includes('<html>'), 'nothing unfiltered reaches a recipient');
    const after = await usage(relay.id, (t) => t.items >= before + 3);
    assert.equal(after.totals.items, before + 3);
  });

  test('an origin that cuts the connection mid-line: the half line is not sent, what was sent is counted', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 50, lines: 4, then: 'cut' });
    const read = await readStream(STREAM, { token: tokens.cut });
    assert.equal(read.posts.length, 4);
    assert.equal(read.tail, '', 'no part of the cut line reached the client');
    // The edge aborts the client's body; the local runtime then ends the response, so here the
    // client sees an end (or an error), never the half line.
    assert.ok(['end', 'error'].includes(read.ended), read.ended);
    const origin = await streamCounts();
    assert.deepEqual([origin.lines, origin.cut], [4, 1]);
    const { totals } = await usage('cut', (t) => t.items >= 4);
    assert.equal(totals.items, 4);
    await logged(/"event":"stream_ended"[^\n]*"how":"origin_cut"[^\n]*"unended_line_dropped":true/);
  });

  test('an origin that goes silent (not even a keep-alive) ends the stream after the stated time, with the 504 as its last line', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    // A post every 4 s, longer than the 3 s allowed, with a keep-alive every second between them
    // (they keep the stream alive); after the second post, nothing at all.
    await originStream({ rate: 0.25, lines: 2, keepalive_ms: 1_000, then: 'silent' });
    const read = await readStream(STREAM, { token: tokens.silent });
    assert.equal(read.ended, 'end');
    assert.equal(read.posts.length, 2);
    assert.ok(read.lines.filter((l) => l === '').length >= 3, 'keep-alives passed');
    const sinceLastPost = read.took - 4_000;
    console.log(`silent origin: the stream ended ${read.took} ms after it opened`);
    assert.ok(sinceLastPost >= SILENCE_S * 1000 && sinceLastPost <= SILENCE_S * 1000 + 2_500, `ended ${sinceLastPost} ms after the last post`);
    const last = JSON.parse(read.lines.at(-1));
    assert.equal(last.errors[0].type, `${PROBLEMS}gateway-timeout`);
    assert.equal(last.errors[0].status, 504);
    // The origin's request is let go; what was sent is counted, and nothing is refused.
    for (let i = 0; i < 50 && (await streamCounts()).open > 0; i++) await sleep(100);
    assert.equal((await streamCounts()).open, 0);
    const ledger = await usage('silent', (t) => t.items >= 2);
    assert.equal(ledger.totals.items, 2);
    assert.equal(ledger.totals.refused, 0);
    await logged(/"event":"stream_ended"[^\n]*"how":"gateway-timeout"[^\n]*"items":2/);
  });

  test('a burst the origin sends at once and then nothing: every line of it arrives at once, none held back for later chunks', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    // 3,000 lines as fast as the origin writes them (the edge reads them as a backlog, full
    // chunk after full chunk, and gathers them into fewer writes), then silence until the
    // stream ends after SILENCE_S.
    await originStream({ rate: 1_000_000, lines: 3_000, then: 'silent' });
    const read = await readStream(STREAM, { token: tokens.burst });
    assert.equal(read.posts.length, 3_000);
    assert.equal(JSON.parse(read.lines.at(-1)).errors[0].status, 504);
    console.log(`burst: first line after ${read.firstLineAt} ms, the last of 3,000 after ${read.lastPostAt} ms, the stream ended after ${read.took} ms`);
    // The last line came with the burst, not with the end of the stream SILENCE_S later.
    assert.ok(read.lastPostAt - read.firstLineAt < 1_500, `the burst took ${read.lastPostAt - read.firstLineAt} ms to arrive`);
    assert.ok(read.took - read.lastPostAt >= SILENCE_S * 1000 - 500, 'the stream ended a silence after the burst');
    const ledger = await usage('burst', (t) => t.items >= 3_000);
    assert.equal(ledger.totals.items, 3_000);
  });

  test('a client that hangs up: the origin is let go and what reached the client is counted', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 20, lines: null });
    const read = await readStream(STREAM, { token: tokens['client-gone'], stopAfterLines: 5 });
    assert.equal(read.ended, 'stopped');
    // The origin's side closes soon after.
    for (let i = 0; i < 50 && (await streamCounts()).open > 0; i++) await sleep(100);
    const origin = await streamCounts();
    assert.equal(origin.open, 0, 'the origin request was cancelled');
    const { totals } = await usage('client-gone', (t) => t.items >= 5);
    assert.ok(totals.items >= 5 && totals.items <= origin.lines, `items ${totals.items}, origin sent ${origin.lines}`);
  });
});

describe('an unmodified streaming client (twitter-api-v2 searchStream) through Tollgate', { timeout: 6 * TEST_MS }, () => {
  /** The library's v2 client for a token, sent to the local worker (and naming a recipient). */
  function clientFor(token, recipient) {
    // The library's documented plugin hooks swap its fixed X prefix for the local worker, as in
    // the first test above, and add the recipient header where one is named.
    const toTollgate = (params) => {
      if (!params.url.startsWith(X_V2_PREFIX)) throw new Error(`unexpected request outside X API v2: ${params.url}`);
      params.url = `${stack.base}/2/${params.url.slice(X_V2_PREFIX.length)}`;
      if (recipient) params.headers = { ...(params.headers ?? {}), 'x-tollgate-recipient': recipient };
    };
    return new TwitterApi(token, {
      httpAgent: agent,
      plugins: [{
        onBeforeRequestConfig: ({ params }) => toTollgate(params),
        onBeforeStreamRequestConfig: ({ params }) => toTollgate(params),
      }],
    }).readOnly.v2;
  }

  /** The posts and error payloads of a stream until it closes; `onPost` sees each post's number. */
  function collect(stream, onPost = () => {}) {
    const out = { posts: [], errors: [] };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the stream did not close; ${out.posts.length} posts`)), 30_000);
      stream.on(ETwitterStreamEvent.Data, (event) => {
        out.posts.push(event);
        onPost(out.posts.length);
      });
      stream.on(ETwitterStreamEvent.DataError, (event) => out.errors.push(event));
      stream.on(ETwitterStreamEvent.ConnectionClosed, () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
  }

  test('the monthly cap cuts its stream: every allowed post, then the usage-capped error payload, then the close', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 2_000, lines: null });
    const client = clientFor(tokens['client-cap']);
    const { posts, errors } = await collect(await client.searchStream());
    assert.equal(posts.length, MONTH_CAP);
    assert.equal(new Set(posts.map((p) => p.data.id)).size, MONTH_CAP);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].errors[0].type, `${PROBLEMS}usage-capped`);
    // Reconnecting is refused as the API refuses it: the library's own 429 error.
    await assert.rejects(client.searchStream(), (e) => e.code === 429 && e.data.type === `${PROBLEMS}usage-capped`);
    const ledger = await usage('client-cap', (t) => t.items >= MONTH_CAP);
    assert.equal(ledger.totals.items, MONTH_CAP);
  });

  test("a revoked token's stream ends with the revoked-token error payload", { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 20, lines: null });
    const token = tokens['client-revoke'];
    const client = clientFor(token);
    let revokedAt = null;
    const { posts, errors } = await collect(await client.searchStream(), (n) => {
      if (n === 3) {
        revokedAt = Date.now();
        stack.admin('POST', `tokens/${tokenHash(token)}/revoke`).then((r) => assert.equal(r.status, 200));
      }
    });
    const after = Date.now() - revokedAt;
    assert.ok(posts.length >= 3);
    assert.ok(after <= 2_000 + 1_500, `closed ${after} ms after the revocation`);
    assert.equal(errors.length, 1);
    assert.deepEqual([errors[0].errors[0].reason, errors[0].errors[0].status], ['revoked-token', 401]);
    await assert.rejects(client.searchStream(), (e) => e.code === 401);
  });

  test('the connection limit: a second stream of the app is refused with 429 TooManyConnections', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 10, lines: null });
    const client = clientFor(limitedTokens['client-one']);
    const first = await client.searchStream();
    const opened = (await streamCounts()).opened;
    await assert.rejects(client.searchStream(), (e) => {
      assert.equal(e.code, 429);
      assert.equal(e.data.connection_issue, 'TooManyConnections');
      assert.equal(e.data.title, 'ConnectionException');
      return true;
    });
    assert.equal((await streamCounts()).opened, opened, 'the origin was not called');
    first.close();
    // Its slot is free once its last report is in.
    let again;
    for (let i = 0; i < 50 && !again; i++) {
      again = await client.searchStream().catch(() => sleep(100).then(() => undefined));
    }
    assert.ok(again, 'the slot was not freed');
    again.close();
  });

  test('ids_only per line: a recipient receives each post as its id and rules only', { timeout: TEST_MS }, async () => {
    await stack.resetOrigin();
    await originStream({ rate: 50, lines: 10 });
    const client = clientFor(tokens[relay.id], 'client-feed');
    const stream = await client.searchStream({ 'tweet.fields': ['created_at', 'author_id'], expansions: ['author_id'] });
    const { posts, errors } = await collect(stream);
    assert.equal(errors.length, 0);
    assert.equal(posts.length, 10);
    for (const post of posts) {
      assert.deepEqual(Object.keys(post.data), ['id']);
      assert.equal(post.includes, undefined);
      assert.equal(post.matching_rules[0].tag, 'demo');
    }
    const ledger = await usage(relay.id, (t) => t.items >= ENTITY_CAP + 10);
    assert.equal(ledger.rows.filter((r) => r.recipient === 'client-feed').reduce((n, r) => n + r.items, 0), 10);
  });
});
