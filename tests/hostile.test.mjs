// Hostile requests end to end through `wrangler dev`: each gets its documented answer, nothing
// reaches the origin that should not, and the worker keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { demoToken, startStack } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); }, { timeout: 200_000 });
after(async () => { await stack?.stop(); });

const token = () => demoToken('acme-search');

/** Sends raw bytes (what a library would refuse to send) and reads the whole answer. */
function raw(bytes) {
  const { port } = new URL(stack.base);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); resolve({ status: 0, data }); }, 10_000);
    // Every request here says `Connection: close`: the answer is complete when the socket closes.
    socket.on('data', (d) => { data += d.toString('latin1'); });
    socket.on('error', (e) => { clearTimeout(timer); reject(e); });
    socket.on('close', () => { clearTimeout(timer); resolve({ status: Number(data.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0), data }); });
    socket.write(bytes);
  });
}

async function served() {
  return (await stack.originStats()).served;
}

async function expect(res, status, reason) {
  assert.equal(res.status, status);
  const body = await res.json();
  assert.equal(body.status, status);
  if (reason) assert.equal(body.reason, reason);
  return body;
}

describe('hostile requests', () => {
  test('an oversized URL is a 414 and an oversized header set a 431, before any KV read', async () => {
    await stack.resetOrigin();
    await expect(await stack.call(`/2/tweets/search/recent?query=${'a'.repeat(9000)}`, { token: token() }), 414, 'target-too-long');
    const big = { 'x-padding': 'p'.repeat(7000), 'x-padding-2': 'p'.repeat(7000), 'x-padding-3': 'p'.repeat(7000), 'x-padding-4': 'p'.repeat(7000), 'x-padding-5': 'p'.repeat(7000) };
    const res = await stack.call('/2/tweets/20', { token: token(), headers: big });
    assert.ok([431, 400, 413].includes(res.status), `status ${res.status}`);
    assert.equal(await served(), 0);
  });

  test('several Authorization headers are refused, not guessed between', async () => {
    const t = token();
    const res = await raw(`GET /2/tweets/20 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 401);
    assert.match(res.data, /malformed-token/);
  });

  test('invalid UTF-8 and control characters in headers and paths never reach the origin', async () => {
    await stack.resetOrigin();
    const t = token();
    const attempts = [
      Buffer.concat([Buffer.from(`GET /2/tweets/20 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nX-Bad: `), Buffer.from([0xff, 0xfe, 0x01]), Buffer.from('\r\nConnection: close\r\n\r\n')]),
      Buffer.concat([Buffer.from('GET /2/tweets/'), Buffer.from([0xc3, 0x28]), Buffer.from(` HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`)]),
      Buffer.from(`GET /2/tweets/20 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\x01\r\nConnection: close\r\n\r\n`),
      Buffer.from(`GET /2/tweets/%00 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`),
    ];
    for (const bytes of attempts) {
      const res = await raw(bytes);
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status} for ${JSON.stringify(bytes.toString('latin1').slice(0, 40))}`);
    }
    // The first attempt carries a valid token and path: only a header value is odd. Whatever
    // the runtime decides for it, the signed and stripped request is what the origin sees.
    assert.ok(await served() <= 1);
    assert.equal((await stack.call('/2/tweets/20', { token: t })).status, 200, 'the worker stopped serving');
  });

  test('path tricks cannot route a request past its scope', async () => {
    await stack.resetOrigin();
    const globex = demoToken('globex-lookup'); // may call /2/tweets/:id only
    for (const path of [
      '/2/tweets/1%2F..%2F..%2Fusers%2F1%2Ftweets',
      '/2/tweets/1%2f..%2fsearch%2frecent?query=x',
      '/2/tweets/%252e%252e/search/recent?query=x',
      '/2/tweets/20%5c..%5csearch',
    ]) {
      await expect(await stack.call(path, { token: globex }), 400, 'path-not-canonical');
    }
    // Dot segments are resolved by the URL parser before routing: the resolved path is what is
    // checked against the plan and what is forwarded.
    const dots = await raw(`GET /2/tweets/20/../search/recent?query=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${globex}\r\nConnection: close\r\n\r\n`);
    assert.ok([400, 403].includes(dots.status), `status ${dots.status}`);
    assert.equal(await served(), 0);
  });

  test("client copies of Tollgate's internal headers are dropped or refused", async () => {
    await stack.resetOrigin();
    const res = await stack.call('/2/tweets/20', {
      token: token(),
      headers: { 'x-tollgate-context': 'v1;t=0;account=globex;app=x;sig=00', 'x-tollgate-internal': 'yes' },
    });
    assert.equal(res.status, 200);
    const last = await stack.originLast();
    assert.match(last.headers['x-tollgate-context'], /account=acme;app=acme-search;/);
    assert.equal(last.headers['x-tollgate-internal'], undefined);
    // The recipient header is read, not dropped: an account without recipients is refused.
    await expect(await stack.call('/2/tweets/20', { token: token(), headers: { 'x-tollgate-recipient': 'northwind-east' } }), 403, 'recipient-unknown');
  });

  test('methods and bodies the plan does not allow are refused', async () => {
    await stack.resetOrigin();
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      await expect(await stack.call('/2/tweets/20', { token: token(), method, body: JSON.stringify({ text: 'x' }), headers: { 'content-type': 'application/json' } }), 403, 'endpoint-not-in-plan');
    }
    const options = await stack.call('/2/tweets/20', { token: token(), method: 'OPTIONS' });
    assert.equal(options.status, 403);
    assert.equal(await served(), 0);
  });

  test("a token of one account with another account's recipient is refused", async () => {
    // northwind-east is a recipient of the relay account, not of acme.
    await expect(await stack.call('/2/tweets/20', { token: token(), headers: { 'x-tollgate-recipient': 'northwind-east' } }), 403, 'recipient-unknown');
    const relay = demoToken('relay-feed');
    const ok = await stack.call('/2/tweets/20', { token: relay, headers: { 'x-tollgate-recipient': 'northwind-east' } });
    assert.equal(ok.status, 200);
    assert.deepEqual(Object.keys((await ok.json()).data), ['id']);
  });
});

describe('nothing the origin could read differently', () => {
  const globex = () => demoToken('globex-lookup'); // may call GET /2/tweets/:id only

  test('method and target overrides are refused before anything else, naming the override', async () => {
    await stack.resetOrigin();
    for (const name of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override', 'X-Original-Method']) {
      const res = await stack.call('/2/tweets/20', { token: globex(), headers: { [name]: 'DELETE' } });
      const body = await expect(res, 400, 'method-override');
      assert.ok(body.detail.includes(name), body.detail);
    }
    for (const query of ['_method=DELETE', 'expansions=author_id&%5Fmethod=DELETE']) {
      const body = await expect(await stack.call(`/2/tweets/20?${query}`, { token: globex() }), 400, 'method-override');
      assert.ok(body.detail.includes('_method'), body.detail);
    }
    for (const name of ['X-Original-URL', 'X-Rewrite-URL']) {
      const res = await stack.call('/2/tweets/20', { token: globex(), headers: { [name]: '/2/users/12/tweets' } });
      const body = await expect(res, 400, 'target-override');
      assert.ok(body.detail.includes(name), body.detail);
    }
    // Checked before the token: no token, the same answer.
    await expect(await stack.call('/2/tweets/20', { headers: { 'x-http-method-override': 'DELETE' } }), 400, 'method-override');
    assert.equal(await served(), 0);
    assert.equal((await stack.originLast()).method, null, 'an override reached the origin');
  });

  test("spoofed client addresses and hosts never reach the origin; the runtime's address is signed", async () => {
    await stack.resetOrigin();
    const spoofed = {
      'x-forwarded-for': '10.0.0.1',
      'x-real-ip': '1.2.3.4',
      'true-client-ip': '5.6.7.8',
      forwarded: 'for=9.9.9.9;host=evil.example;proto=http',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': '8443',
      'x-client-ip': '7.7.7.7',
      cookie: 'session=someone-else',
    };
    const res = await stack.call('/2/tweets/20', { token: globex(), headers: spoofed });
    assert.equal(res.status, 200);
    const last = await stack.originLast();
    for (const name of ['x-real-ip', 'true-client-ip', 'forwarded', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-client-ip', 'cookie']) {
      assert.equal(last.headers[name], undefined, `${name} reached the origin`);
    }
    // The origin verified the context, whose client address is the runtime's, not the client's.
    assert.ok(last.client, 'the origin saw no signed client address');
    assert.match(last.headers['x-tollgate-context'], new RegExp(`;client=${last.client.replace(/\./g, '\\.')};`));
    for (const value of ['10.0.0.1', '1.2.3.4', '5.6.7.8', '9.9.9.9', '7.7.7.7']) {
      assert.ok(!JSON.stringify(last.headers).includes(value), `${value} reached the origin`);
      assert.notEqual(last.client, value);
    }
    if (last.client === 'unknown') assert.equal(last.headers['x-forwarded-for'], undefined);
    else assert.equal(last.headers['x-forwarded-for'], last.client);
  });

  test('ranges never slice a counted body, and a part sent anyway does not leave', async () => {
    await stack.resetOrigin();
    const whole = await stack.call('/2/tweets/20', { token: globex() });
    assert.equal(whole.status, 200);
    const text = await whole.text();
    const ranged = await stack.call('/2/tweets/20', { token: globex(), headers: { range: 'bytes=0-9', 'if-range': '"x"' } });
    assert.equal(ranged.status, 200, 'a range reached the origin');
    assert.equal(await ranged.text(), text);
    const last = await stack.originLast();
    assert.equal(last.headers.range, undefined);
    assert.equal(last.headers['if-range'], undefined);
    // An origin that sends a part of a body unasked: refused, never passed on uncounted.
    await stack.fault({ mode: 'partial' });
    await expect(await stack.call('/2/tweets/20', { token: globex() }), 502, 'origin-response-partial');
    await stack.fault({ mode: 'none' });
  });
});
