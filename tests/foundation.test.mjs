// End to end through `wrangler dev`: tokens checked against local KV, requests forwarded to a
// real origin with a signed context, every refusal a problem in the API's own shape.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { DEMO, demoToken, newToken, startStack, tokenHash } from './harness.mjs';

const corruptToken = newToken();
const orphanToken = newToken();
const TYPE_BASE = 'https://api.example.com/2/problems/';

let stack;
before(async () => {
  stack = await startStack({
    entries: [
      // A record that is not valid JSON, and one whose account does not exist.
      { key: `tollgate:v1:token:${tokenHash(corruptToken)}`, value: '{"v":1,"account":"acme","app":' },
      { key: `tollgate:v1:token:${tokenHash(orphanToken)}`, value: '{"v":1,"account":"nobody","app":"lost","status":"active","use_case":"x"}' },
    ],
    vars: { ORIGIN_TIMEOUT_MS: '1500' },
  });
});
after(async () => { await stack?.stop(); });

async function expectProblem(res, status, reason) {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type'), /^application\/problem\+json/);
  const body = await res.json();
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.type.startsWith(TYPE_BASE), body.type);
  if (reason) assert.equal(body.reason, reason);
  return body;
}

describe('admission', () => {
  test('a demo token gets origin data, signed and stripped of client credentials', async () => {
    await stack.resetOrigin();
    const res = await stack.call('/2/tweets/search/recent?query=edge&max_results=10', {
      token: demoToken('acme-search'),
      headers: { 'x-tollgate-context': 'v1;t=1;account=acme;app=spoof;sig=00', 'x-tollgate-account': 'globex', 'x-request-id': 'r1' },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.meta.result_count, 10);
    assert.equal(body.data.length, 10);
    assert.ok(body.meta.next_token);
    const last = await stack.originLast();
    assert.equal(last.headers.authorization, undefined, 'client token reached the origin');
    assert.equal(last.headers['x-tollgate-account'], undefined, 'spoofed internal header reached the origin');
    assert.match(last.headers['x-tollgate-context'], /^v2;t=\d+;account=acme;app=acme-search;client=[^;]+;sig=[0-9a-f]{64}$/);
    assert.equal(last.headers['x-request-id'], 'r1');
    const stats = await stack.originStats();
    assert.equal(stats.served, 1);
    assert.equal(stats.refused, 0);
  });

  test('each planned endpoint passes: lookup by ids, by id, user timeline', async () => {
    const token = demoToken('acme-backfill');
    for (const path of ['/2/tweets?ids=20,21', '/2/tweets/20', '/2/users/12/tweets?max_results=5']) {
      const res = await stack.call(path, { token });
      assert.equal(res.status, 200, path);
      assert.ok((await res.json()).data, path);
    }
  });

  test('no token, a malformed one and an unknown one get 401 and never reach the origin', async () => {
    await stack.resetOrigin();
    await expectProblem(await stack.call('/2/tweets/20'), 401, 'missing-token');
    await expectProblem(await stack.call('/2/tweets/20', { headers: { authorization: 'Bearer nope' } }), 401, 'malformed-token');
    await expectProblem(await stack.call('/2/tweets/20', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 401, 'malformed-token');
    await expectProblem(await stack.call('/2/tweets/20', { token: newToken() }), 401, 'unknown-token');
    const t = demoToken('acme-search');
    const flipped = t.slice(0, 10) + (t[10] === '0' ? '1' : '0') + t.slice(11);
    await expectProblem(await stack.call('/2/tweets/20', { token: flipped }), 401, 'malformed-token');
    assert.equal((await stack.originStats()).served, 0);
  });

  test('revoked tokens get 401 and suspended accounts 403', async () => {
    await expectProblem(await stack.call('/2/tweets/20', { token: demoToken('acme-retired') }), 401, 'revoked-token');
    await expectProblem(await stack.call('/2/tweets/20', { token: demoToken('initech-app') }), 403, 'account-suspended');
  });

  test('an endpoint or method outside the plan gets 403', async () => {
    await stack.resetOrigin();
    const token = demoToken('globex-lookup');
    await expectProblem(await stack.call('/2/tweets/search/recent?query=x', { token }), 403, 'endpoint-not-in-plan');
    await expectProblem(await stack.call('/2/tweets/20', { token, method: 'DELETE' }), 403, 'endpoint-not-in-plan');
    await expectProblem(await stack.call('/2/tweets/20/liking_users', { token }), 403, 'endpoint-not-in-plan');
    assert.equal((await stack.originStats()).served, 0);
    const ok = await stack.call('/2/tweets/20', { token });
    assert.equal(ok.status, 200);
  });

  test('the origin refuses a request that did not come through the edge', async () => {
    await stack.resetOrigin();
    const res = await fetch(`${stack.originUrl}/2/tweets/20`, { headers: { authorization: `Bearer ${demoToken('acme-search')}` } });
    assert.equal(res.status, 403);
    const stats = await stack.originStats();
    assert.equal(stats.refused, 1);
    assert.equal(stats.served, 0);
  });
});

describe('faults', () => {
  test('a corrupt record is a 503 for that token only, and nothing panics', async () => {
    await expectProblem(await stack.call('/2/tweets/20', { token: corruptToken }), 503);
    await expectProblem(await stack.call('/2/tweets/20', { token: orphanToken }), 503);
    const ok = await stack.call('/2/tweets/20', { token: demoToken('acme-search') });
    assert.equal(ok.status, 200);
    // Worker log lines reach wrangler's output a moment after the response.
    for (let i = 0; i < 40 && !/entitlement_unavailable/.test(stack.logs()); i++) await new Promise((r) => setTimeout(r, 100));
    const logs = stack.logs();
    assert.match(logs, /entitlement_unavailable/);
    assert.doesNotMatch(logs, /panicked|RuntimeError|unreachable executed/i);
  });

  test('an origin that drops the connection is a 502', async () => {
    await stack.fault({ mode: 'reset' });
    try {
      await expectProblem(await stack.call('/2/tweets/20', { token: demoToken('acme-search') }), 502);
    } finally {
      await stack.fault({ mode: 'none' });
    }
  });

  test('an origin slower than ORIGIN_TIMEOUT_MS is a 504', async () => {
    await stack.fault({ mode: 'delay', delay_ms: 4000 });
    try {
      const started = Date.now();
      await expectProblem(await stack.call('/2/tweets/20', { token: demoToken('acme-search') }), 504);
      assert.ok(Date.now() - started < 3900, 'the edge waited for the slow origin');
    } finally {
      await stack.fault({ mode: 'none' });
    }
    assert.equal((await stack.call('/2/tweets/20', { token: demoToken('acme-search') })).status, 200);
  });
});

describe('secrets at rest', () => {
  test('local KV state holds no demo token in clear', () => {
    const tokens = DEMO.apps.map((a) => a.token);
    const bodies = tokens.map((t) => t.slice(3, 67));
    const walk = (dir) => readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
    const files = walk(stack.persist);
    assert.ok(files.length > 0, 'no KV state was written');
    let sawHash = false;
    for (const file of files) {
      const text = readFileSync(file).toString('latin1');
      for (const secret of [...tokens, ...bodies]) assert.ok(!text.includes(secret), `${file} holds a token`);
      if (text.includes(tokenHash(tokens[0]))) sawHash = true;
    }
    assert.ok(sawHash, 'the token hash was not found in KV state: the check looked in the wrong place');
  });
});
