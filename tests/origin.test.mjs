// Tests for the demo origin (demo/origin.mjs): edge-context verification, the
// X API v2 shapes and paging it serves, and its /__origin/ test hooks.
// Run with: node --test tests/origin.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ORIGIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'demo', 'origin.mjs');
const KEY = 'test-context-key-\u00e9'; // non-ASCII on purpose: the key is used as UTF-8 bytes
const T = { timeout: 15_000 };

let child;
let port;
// A fresh agent per request keeps a deliberately reset socket from leaking into other tests.
const agent = new http.Agent({ keepAlive: false });

function startOrigin(args, env) {
  const proc = spawn(process.execPath, [ORIGIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return proc;
}

function waitForListening(proc) {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`origin did not start: ${err}`)), 5000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^demo origin listening on http:\/\/127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`origin exited with ${code}: ${err}`));
    });
  });
}

function waitExit(proc, ms = 5000) {
  return new Promise((resolve, reject) => {
    if (proc.exitCode !== null) return resolve(proc.exitCode);
    const timer = setTimeout(() => reject(new Error('process did not exit')), ms);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

before(async () => {
  child = startOrigin(['--port', '0'], { TOLLGATE_CONTEXT_KEY: KEY });
  port = await waitForListening(child);
});

after(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  agent.destroy();
});

function sign(method, target, { t = Math.floor(Date.now() / 1000), account = 'acme', app = 'web', client = '203.0.113.7', key = KEY } = {}) {
  const msg = `v2\n${t}\n${method}\n${target}\n${account}\n${app}\n${client}`;
  const sig = crypto.createHmac('sha256', Buffer.from(key, 'utf8')).update(msg).digest('hex');
  return `v2;t=${t};account=${account};app=${app};client=${client};sig=${sig}`;
}

// Raw http.request so the request target goes out byte for byte as signed.
function request(method, target, { headers = {}, body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, text: buf.toString('utf8'), size: buf.length });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function signedGet(target, opts = {}) {
  return request('GET', target, { ...opts, headers: { 'x-tollgate-context': sign('GET', target), ...(opts.headers ?? {}) } });
}

async function getJson(target) {
  const res = await signedGet(target);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  return JSON.parse(res.text);
}

async function hook(method, name, body) {
  const res = await request(method, `/__origin/${name}`, {
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  });
  return { ...res, json: res.text ? JSON.parse(res.text) : null };
}

const stats = async () => (await hook('GET', 'stats')).json;
const reset = async () => assert.equal((await hook('POST', 'reset')).status, 204);
const fault = async (body) => assert.equal((await hook('POST', 'fault', body)).status, 204);

function assertForbidden(res, detail) {
  assert.equal(res.status, 403);
  assert.equal(res.headers['content-type'], 'application/problem+json');
  assert.deepEqual(JSON.parse(res.text), { title: 'Forbidden', type: 'about:blank', status: 403, detail });
}

function assertTweet(t) {
  assert.match(t.id, /^[1-9][0-9]{0,18}$/);
  assert.equal(typeof t.text, 'string');
  assert.ok(t.text.length > 0);
  assert.deepEqual(t.edit_history_tweet_ids, [t.id]);
}

const SEARCH = '/2/tweets/search/recent';

// ---------------------------------------------------------------------------

test('refuses to start without TOLLGATE_CONTEXT_KEY', T, async () => {
  const env = { ...process.env };
  delete env.TOLLGATE_CONTEXT_KEY;
  const proc = spawn(process.execPath, [ORIGIN, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  try {
    assert.equal(await waitExit(proc), 2);
    assert.match(err, /TOLLGATE_CONTEXT_KEY/);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
});

test('SIGTERM closes the server and exits 0', T, async () => {
  const proc = startOrigin(['--port', '0'], { TOLLGATE_CONTEXT_KEY: KEY });
  try {
    const p = await waitForListening(proc);
    // Leave an idle keep-alive connection open: shutdown must not wait for it.
    const keep = new http.Agent({ keepAlive: true });
    await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: p, path: '/__origin/stats', agent: keep }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
    const start = Date.now();
    proc.kill('SIGTERM');
    assert.equal(await waitExit(proc), 0);
    assert.ok(Date.now() - start < 1500, `took ${Date.now() - start} ms`);
    keep.destroy();
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
});

test('the signing helper matches the edge\'s known vector', () => {
  // Same vector as the edge's own unit test, so the two sides agree on the message format.
  const header = sign('GET', '/2/tweets/20?x=1', { t: 1700000000, account: 'acme', app: 'acme-search', client: '203.0.113.7', key: 'demo-key' });
  assert.equal(header,
    'v2;t=1700000000;account=acme;app=acme-search;client=203.0.113.7;sig=08b901985e1a3f32e5a0500f65542d13119c31fe9561ee3caa49744f88c96cdb');
});

test('unsigned API requests are refused and counted', T, async () => {
  await reset();
  assertForbidden(await request('GET', `${SEARCH}?query=hello`), 'missing context');
  assertForbidden(await request('GET', '/2/nowhere'), 'missing context');
  const s = await stats();
  assert.equal(s.refused, 2);
  assert.equal(s.served, 0);
  assert.equal(s.items, 0);
});

test('malformed, badly signed and stale contexts are refused', T, async () => {
  await reset();
  const target = `${SEARCH}?query=hello`;
  const now = Math.floor(Date.now() / 1000);
  const good = sign('GET', target);
  const cases = [
    ['v2;t=1;account=acme;app=web;client=unknown', 'malformed context'],
    [good.replace('account=acme', 'account=ACME'), 'malformed context'],
    [good.replace(/;sig=.*/, ';sig=' + 'A'.repeat(64)), 'malformed context'],
    // The first version, without the client address, is no longer accepted.
    [good.replace('v2;', 'v1;'), 'malformed context'],
    [good.replace(/;client=[^;]*/, ''), 'malformed context'],
    [good.replace('client=203.0.113.7', 'client=10.0.0.1, 1.2.3.4'), 'malformed context'],
    [sign('GET', target, { client: '10.0.0.1' }).replace('client=10.0.0.1', 'client=203.0.113.7'), 'bad signature'],
    [sign('GET', target, { key: 'wrong key' }), 'bad signature'],
    [sign('GET', `${SEARCH}?query=other`), 'bad signature'],
    [sign('POST', target), 'bad signature'],
    [sign('GET', target, { account: 'mallory' }).replace('account=mallory', 'account=acme'), 'bad signature'],
    // 305, not 301: the origin reads its clock a moment later, and a second may tick between.
    [sign('GET', target, { t: now - 305 }), 'stale context'],
    [sign('GET', target, { t: now + 305 }), 'stale context'],
  ];
  for (const [header, detail] of cases) {
    assertForbidden(await request('GET', target, { headers: { 'x-tollgate-context': header } }), detail);
  }
  assert.equal((await stats()).refused, cases.length);
  // Within the allowed skew is fine.
  assert.equal((await request('GET', target, { headers: { 'x-tollgate-context': sign('GET', target, { t: now - 200 }) } })).status, 200);
});

test('search/recent answers in the X shape and pages to the end', T, async () => {
  const first = await getJson(`${SEARCH}?query=tollgate`);
  assert.equal(first.data.length, 10);
  first.data.forEach(assertTweet);
  assert.deepEqual(Object.keys(first.data[0]), ['id', 'text', 'edit_history_tweet_ids']);
  assert.equal(first.meta.result_count, 10);
  assert.equal(first.meta.newest_id, first.data[0].id);
  assert.equal(first.meta.oldest_id, first.data[9].id);
  assert.equal(typeof first.meta.next_token, 'string');

  // Walk with the largest page and with the smallest: same items either way.
  const walk = async (max) => {
    const ids = [];
    let token;
    let pages = 0;
    let counted = 0;
    do {
      const q = `${SEARCH}?query=tollgate&max_results=${max}${token ? `&next_token=${token}` : ''}`;
      const page = await getJson(q);
      assert.ok(page.data.length <= max);
      assert.equal(page.meta.result_count, page.data.length);
      counted += page.meta.result_count;
      ids.push(...page.data.map((t) => t.id));
      token = page.meta.next_token;
      pages += 1;
      assert.ok(pages < 100, 'pagination does not terminate');
    } while (token);
    assert.equal(counted, ids.length);
    return ids;
  };
  const big = await walk(100);
  const small = await walk(10);
  assert.deepEqual(small, big);
  assert.ok(big.length >= 25 && big.length <= 250, `size ${big.length}`);
  assert.equal(new Set(big).size, big.length);
  for (let i = 1; i < big.length; i++) assert.ok(BigInt(big[i]) < BigInt(big[i - 1]), 'newest first');
  assert.deepEqual(big.slice(0, 10), first.data.map((t) => t.id));
});

test('search/recent fields, expansions and validation', T, async () => {
  const body = await getJson(`${SEARCH}?query=edge&tweet.fields=author_id,created_at&expansions=author_id`);
  const users = new Map(body.includes.users.map((u) => [u.id, u]));
  for (const t of body.data) {
    assert.match(t.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    assert.ok(users.has(t.author_id));
  }
  for (const u of users.values()) {
    assert.deepEqual(Object.keys(u), ['id', 'name', 'username']);
  }

  const missing = await signedGet(SEARCH);
  assert.equal(missing.status, 400);
  assert.deepEqual(JSON.parse(missing.text), {
    errors: [{ parameters: { query: [] }, message: 'The `query` query parameter can not be empty' }],
    title: 'Invalid Request',
    detail: 'One or more parameters to your request was invalid.',
    type: 'https://api.twitter.com/2/problems/invalid-request',
  });
  for (const bad of ['max_results=9', 'max_results=101', 'max_results=abc', 'next_token=zzzz', 'tweet.fields=bogus', 'foo=1']) {
    const res = await signedGet(`${SEARCH}?query=edge&${bad}`);
    assert.equal(res.status, 400, bad);
    assert.equal(JSON.parse(res.text).title, 'Invalid Request');
  }
  // A token from another query is not valid here.
  const other = await getJson(`${SEARCH}?query=other`);
  assert.equal((await signedGet(`${SEARCH}?query=edge&next_token=${other.meta.next_token}`)).status, 400);

  assert.deepEqual(await getJson(`${SEARCH}?query=noresults`), { meta: { result_count: 0 } });
});

test('responses are deterministic', T, async () => {
  const q = `${SEARCH}?query=determinism%20test&max_results=37&tweet.fields=created_at,author_id&expansions=author_id`;
  const a = await signedGet(q);
  const b = await signedGet(q);
  assert.equal(a.status, 200);
  assert.equal(a.text, b.text);
  const u1 = await signedGet('/2/users/2244994945/tweets');
  const u2 = await signedGet('/2/users/2244994945/tweets');
  assert.equal(u1.text, u2.text);
});

test('GET /2/tweets?ids with a not-found id', T, async () => {
  const ids = ['1460323737035677698', '1460323737035677696', '20', '21', '22'];
  const missing = ids.filter((id) => BigInt(id) % 7n === 0n);
  const present = ids.filter((id) => BigInt(id) % 7n !== 0n);
  assert.ok(missing.length >= 1 && present.length >= 2);
  const body = await getJson(`/2/tweets?ids=${ids.join(',')}&tweet.fields=created_at`);
  assert.deepEqual(body.data.map((t) => t.id), present);
  body.data.forEach(assertTweet);
  assert.deepEqual(body.errors, missing.map((id) => ({
    value: id,
    detail: `Could not find tweet with ids: [${id}].`,
    title: 'Not Found Error',
    resource_type: 'tweet',
    parameter: 'ids',
    resource_id: id,
    type: 'https://api.twitter.com/2/problems/resource-not-found',
  })));

  // Lookup agrees with search about a tweet's content and author.
  const search = await getJson(`${SEARCH}?query=consistency&tweet.fields=author_id,created_at`);
  const lookup = await getJson(`/2/tweets?ids=${search.data.map((t) => t.id).join(',')}&tweet.fields=author_id,created_at`);
  assert.deepEqual(lookup.data, search.data);

  for (const bad of ['', 'abc', '1,,2', Array.from({ length: 101 }, (_, i) => i + 1).join(',')]) {
    const res = await signedGet(`/2/tweets?ids=${bad}`);
    assert.equal(res.status, 400, bad);
  }
  assert.equal((await signedGet('/2/tweets')).status, 400);
});

test('GET /2/tweets/:id', T, async () => {
  const found = await getJson('/2/tweets/1460323737035677698?tweet.fields=author_id&expansions=author_id');
  assertTweet(found.data);
  assert.equal(found.data.id, '1460323737035677698');
  assert.equal(found.includes.users[0].id, found.data.author_id);

  const gone = await getJson('/2/tweets/1460323737035677696');
  assert.equal(gone.data, undefined);
  assert.equal(gone.errors[0].resource_id, '1460323737035677696');
  assert.equal(gone.errors[0].title, 'Not Found Error');
  assert.equal(gone.errors[0].parameter, 'id');

  assert.equal((await signedGet('/2/tweets/not-a-number')).status, 400);
});

test('GET /2/users/:id/tweets pages forwards and back', T, async () => {
  const user = '2244994945';
  const base = `/2/users/${user}/tweets?max_results=5`;
  const p1 = await getJson(base);
  assert.equal(p1.data.length, 5);
  assert.equal(p1.meta.result_count, 5);
  assert.equal(p1.meta.newest_id, p1.data[0].id);
  assert.equal(p1.meta.oldest_id, p1.data[4].id);
  assert.equal(p1.meta.previous_token, undefined);
  assert.ok(p1.meta.next_token);

  const p2 = await getJson(`${base}&pagination_token=${p1.meta.next_token}`);
  assert.ok(p2.meta.previous_token);
  assert.ok(BigInt(p2.data[0].id) < BigInt(p1.data[4].id));
  const back = await getJson(`${base}&pagination_token=${p2.meta.previous_token}`);
  assert.deepEqual(back.data, p1.data);

  // The whole timeline, walked with the default page size.
  let total = 0;
  let token;
  let pages = 0;
  do {
    const page = await getJson(`/2/users/${user}/tweets${token ? `?pagination_token=${token}` : ''}`);
    total += page.meta.result_count;
    if (pages > 0) assert.ok(page.meta.previous_token);
    token = page.meta.next_token;
    pages += 1;
    assert.ok(pages < 100);
  } while (token);
  assert.ok(total >= 20 && total <= 300, `timeline size ${total}`);

  // Author ids on a pool user's timeline point back at that user.
  const withAuthor = await getJson(`${SEARCH}?query=pool&tweet.fields=author_id`);
  const poolUser = withAuthor.data[0].author_id;
  const tl = await getJson(`/2/users/${poolUser}/tweets?tweet.fields=author_id`);
  assert.ok(tl.data.every((t) => t.author_id === poolUser));

  for (const bad of ['max_results=4', 'max_results=101', 'pagination_token=nope']) {
    assert.equal((await signedGet(`/2/users/${user}/tweets?${bad}`)).status, 400, bad);
  }
  const missing = await getJson('/2/users/7/tweets');
  assert.equal(missing.errors[0].resource_type, 'user');
});

test('unknown API paths are 404 and other methods 405', T, async () => {
  const nf = await signedGet('/2/does/not/exist');
  assert.equal(nf.status, 404);
  assert.equal(nf.headers['content-type'], 'application/problem+json');
  const nfBody = JSON.parse(nf.text);
  assert.equal(nfBody.title, 'Not Found Error');
  assert.equal(nfBody.type, 'about:blank');
  assert.equal(nfBody.status, 404);
  assert.equal(typeof nfBody.detail, 'string');

  const target = `${SEARCH}?query=x`;
  const na = await request('POST', target, { headers: { 'x-tollgate-context': sign('POST', target) }, body: '{}' });
  assert.equal(na.status, 405);
  const naBody = JSON.parse(na.text);
  assert.equal(naBody.status, 405);
  assert.equal(naBody.type, 'about:blank');
});

test('stats count served, refused, paths and items; reset zeroes them', T, async () => {
  await reset();
  await getJson(`${SEARCH}?query=stats&max_results=12`); // 12 items
  await getJson('/2/tweets?ids=20,21,22'); // 2 items (21 is not found)
  await getJson('/2/tweets/20'); // 1 item
  await getJson('/2/users/2244994945/tweets?max_results=5'); // 5 items
  await signedGet(SEARCH); // 400, served with no items
  await request('GET', `${SEARCH}?query=stats`); // refused
  assert.deepEqual(await stats(), {
    served: 5,
    refused: 1,
    resets: 0,
    by_path: { [SEARCH]: 2, '/2/tweets': 1, '/2/tweets/:id': 1, '/2/users/:id/tweets': 1 },
    items: 20,
  });
  await reset();
  assert.deepEqual(await stats(), { served: 0, refused: 0, resets: 0, by_path: {}, items: 0 });
});

test('/__origin/last shows the headers of the last API request', T, async () => {
  await reset();
  assert.deepEqual((await hook('GET', 'last')).json, { method: null, url: null, headers: {} });
  const target = `${SEARCH}?query=last`;
  await request('GET', target, {
    headers: { 'x-tollgate-context': sign('GET', target), 'X-Tollgate-Trace': 'abc', 'X-Custom': 'yes' },
  });
  const last = (await hook('GET', 'last')).json;
  assert.equal(last.method, 'GET');
  assert.equal(last.url, target);
  assert.equal(last.headers['x-tollgate-trace'], 'abc');
  assert.equal(last.headers['x-custom'], 'yes');
  assert.ok(last.headers['x-tollgate-context'].startsWith('v2;t='));
  assert.equal(last.client, '203.0.113.7');
  assert.equal(last.headers.authorization, undefined);

  // Whatever reaches the origin is reported verbatim, so a leaked credential would show.
  await request('GET', target, { headers: { 'x-tollgate-context': sign('GET', target), Authorization: 'Bearer leaked' } });
  assert.equal((await hook('GET', 'last')).json.headers.authorization, 'Bearer leaked');
});

test('fault hook validates its body', T, async () => {
  for (const body of ['not json', '[]', '{"mode":"explode"}', '{"mode":"delay"}', '{"mode":"delay","delay_ms":-1}',
    '{"mode":"status","status":99}', '{"mode":"status"}', JSON.stringify({ mode: 'none', pad: 'x'.repeat(10_000) })]) {
    assert.equal((await hook('POST', 'fault', body)).status, 400, body);
  }
  assert.equal((await hook('GET', 'fault')).status, 405);
  assert.equal((await hook('GET', 'nope')).status, 404);
  await fault({ mode: 'none' });
});

test('fault: delay', T, async () => {
  await reset();
  await fault({ mode: 'delay', delay_ms: 400 });
  const start = Date.now();
  await getJson(`${SEARCH}?query=slow`);
  const took = Date.now() - start;
  assert.ok(took >= 380 && took < 5000, `took ${took} ms`);
  // Refusals are not delayed: the origin rejects before applying faults.
  const t2 = Date.now();
  assert.equal((await request('GET', `${SEARCH}?query=slow`)).status, 403);
  assert.ok(Date.now() - t2 < 380);
  await reset();
  const t3 = Date.now();
  await getJson(`${SEARCH}?query=slow`);
  assert.ok(Date.now() - t3 < 380);
});

test('fault: reset', T, async () => {
  await reset();
  await fault({ mode: 'reset' });
  await assert.rejects(signedGet(`${SEARCH}?query=reset`), (err) => {
    assert.ok(['ECONNRESET', 'EPIPE'].includes(err.code) || /socket hang up/.test(err.message), err.message);
    return true;
  });
  const s = await stats();
  assert.equal(s.resets, 1);
  assert.equal(s.served, 0);
  await reset();
});

test('fault: garbage', T, async () => {
  await reset();
  await fault({ mode: 'garbage' });
  const res = await signedGet(`${SEARCH}?query=garbage`);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'], /^application\/json/);
  assert.throws(() => JSON.parse(res.text), SyntaxError);
  assert.equal((await stats()).served, 1);
  await reset();
});

test('fault: huge', { timeout: 60_000 }, async () => {
  await reset();
  await fault({ mode: 'huge' });
  const res = await signedGet('/2/tweets/20', { timeoutMs: 50_000 });
  assert.equal(res.status, 200);
  assert.ok(res.size > 10 * 1024 * 1024, `size ${res.size}`);
  const body = JSON.parse(res.text);
  assert.equal(body.meta.result_count, body.data.length);
  assert.equal(body.meta.newest_id, body.data[0].id);
  assert.equal(body.meta.oldest_id, body.data.at(-1).id);
  assertTweet(body.data[0]);
  const s = await stats();
  assert.equal(s.served, 1);
  assert.equal(s.items, body.data.length);
  await reset();
});

test('fault: status', T, async () => {
  await reset();
  await fault({ mode: 'status', status: 503 });
  const res = await signedGet(`${SEARCH}?query=status`);
  assert.equal(res.status, 503);
  assert.deepEqual(JSON.parse(res.text), {
    title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503,
  });
  await fault({ mode: 'status', status: 429 });
  const limited = await signedGet(`${SEARCH}?query=status`);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['x-rate-limit-remaining'], '0');
  assert.equal((await stats()).served, 2);
  await reset();
  assert.equal((await signedGet(`${SEARCH}?query=status`)).status, 200);
});

test('byte ranges: honoured when asked, and sent unasked by the partial fault', T, async () => {
  await reset();
  const target = '/2/tweets/20';
  const whole = await signedGet(target);
  assert.equal(whole.status, 200);
  const ranged = await signedGet(target, { headers: { range: 'bytes=0-9' } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.text, whole.text.slice(0, 10));
  assert.equal(ranged.headers['content-range'], `bytes 0-9/${whole.size}`);
  await fault({ mode: 'partial' });
  const unasked = await signedGet(target);
  assert.equal(unasked.status, 206);
  assert.equal(unasked.size, Math.min(64, whole.size));
  await reset();
});

test('survives hostile input', T, async () => {
  const long = `${SEARCH}?query=${'a'.repeat(5000)}`;
  assert.equal((await signedGet(long)).status, 400);
  const odd = ['/2/tweets?ids=%zz', '/2/tweets/search/recent?query=%E0%A4%A', '/2//tweets', '/2/users//tweets',
    `/2/tweets?ids=${'9'.repeat(40)}`, '/2/tweets/99999999999999999999'];
  for (const target of odd) {
    const res = await signedGet(target);
    assert.ok([200, 400, 404].includes(res.status), `${target} -> ${res.status}`);
  }
  // Over-long request lines are rejected by the HTTP layer, and the origin keeps serving.
  await request('GET', `${SEARCH}?query=${'b'.repeat(20_000)}`).catch(() => {});
  assert.equal((await signedGet(`${SEARCH}?query=still-alive`)).status, 200);
  assert.equal(child.exitCode, null);
});

// ---------------------------------------------------------------------------
// Streams

const STREAM = '/2/tweets/search/stream';
const SAMPLE = '/2/tweets/sample/stream';
const RULES = '/2/tweets/search/stream/rules';

const streamHook = async (body) => assert.equal((await hook('POST', 'stream', body)).status, 204);
const streamCounts = async () => (await hook('GET', 'stream')).json;

/** A signed GET read as it arrives: each chunk with the time it came, and how it ended. */
function streamGet(target, { timeoutMs = 10_000, stopAfterMs } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks = [];
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: target, agent,
      headers: { 'x-tollgate-context': sign('GET', target) } }, (res) => {
      const done = (ended) => resolve({
        status: res.statusCode, headers: res.headers, chunks, ended,
        text: chunks.map((c) => c.text).join(''),
      });
      res.setEncoding('utf8');
      res.on('data', (text) => chunks.push({ at: Date.now() - started, text }));
      res.on('end', () => done('end'));
      res.on('error', () => done('error'));
      res.on('aborted', () => done('aborted'));
      if (stopAfterMs) setTimeout(() => { req.destroy(); done('stopped'); }, stopAfterMs);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('request timed out')));
    req.on('error', (e) => (stopAfterMs ? undefined : reject(e)));
    req.end();
  });
}

/** Complete `\r\n`-ended lines of a stream, and the unended tail. */
function lines(text) {
  const parts = text.split('\r\n');
  return { whole: parts.slice(0, -1), tail: parts.at(-1) };
}

test('stream hook validates its body and reports its settings', T, async () => {
  await reset();
  for (const body of ['not json', '[]', '{"rate":0}', '{"rate":"fast"}', '{"rate":2000000}', '{"lines":-1}', '{"lines":1.5}',
    '{"then":"explode"}', '{"keepalive_ms":5}', '{"inject":{}}', '{"inject":[{"after":1,"kind":"odd"}]}',
    '{"inject":[{"after":1,"kind":"long"}]}', '{"inject":[{"after":1,"kind":"garbage","bytes":3}]}', '{"speed":1}']) {
    assert.equal((await hook('POST', 'stream', body)).status, 400, body);
  }
  assert.equal((await hook('PUT', 'stream', '{}')).status, 405);
  const fresh = await streamCounts();
  assert.deepEqual(fresh.config, { rate: 2, lines: null, then: 'end', keepalive_ms: 20_000, inject: [] });
  assert.equal(fresh.lines, 0);
  await streamHook({ rate: 50, lines: 3 });
  assert.equal((await streamCounts()).config.rate, 50);
  await reset();
  assert.equal((await streamCounts()).config.rate, 2);
});

test('the filtered stream sends post lines at the set rate, with rules, fields and expansions', T, async () => {
  await reset();
  await streamHook({ rate: 5, lines: 6 });
  const res = await streamGet(`${STREAM}?tweet.fields=created_at,author_id&expansions=author_id`);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'], /^application\/json/);
  assert.equal(res.ended, 'end');
  const { whole, tail } = lines(res.text);
  assert.equal(tail, '');
  assert.equal(whole.length, 6);
  const ids = new Set();
  for (const line of whole) {
    const post = JSON.parse(line);
    assertTweet(post.data);
    assert.ok(post.data.created_at && post.data.author_id);
    assert.equal(post.includes.users[0].id, post.data.author_id);
    assert.deepEqual(post.matching_rules, [{ id: '1700000000000000001', tag: 'demo' }]);
    ids.add(post.data.id);
  }
  assert.equal(ids.size, 6, 'every line is a different post');
  // 6 lines at 5 a second: the first at once, the last about a second later.
  assert.ok(res.chunks[0].at < 150, `first line after ${res.chunks[0].at} ms`);
  assert.ok(res.chunks.at(-1).at >= 900, `last line after ${res.chunks.at(-1).at} ms`);
  const counts = await streamCounts();
  assert.equal(counts.lines, 6);
  assert.equal(counts.opened, 1);
  assert.equal(counts.open, 0);
  const s = await stats();
  assert.equal(s.items, 6);
  assert.equal(s.by_path[STREAM], 1);
});

test('the sample stream has no rules; a bad field is a 400 before any line', T, async () => {
  await reset();
  await streamHook({ rate: 100, lines: 3 });
  const res = await streamGet(SAMPLE);
  const { whole } = lines(res.text);
  assert.equal(whole.length, 3);
  for (const line of whole) assert.equal(JSON.parse(line).matching_rules, undefined);
  const bad = await signedGet(`${STREAM}?tweet.fields=nope`);
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.text).title, 'Invalid Request');
  assert.equal((await streamCounts()).opened, 1);
});

test('keep-alives come when nothing else is sent; silent sends nothing at all', T, async () => {
  await reset();
  await streamHook({ lines: 1, then: 'silent', keepalive_ms: 100 });
  const quiet = await streamGet(STREAM, { stopAfterMs: 600 });
  assert.equal(lines(quiet.text).whole.length, 1, 'one post, then silence');
  await streamHook({ lines: 0, rate: 1, then: 'end', keepalive_ms: 100, inject: [] });
  // With no lines to send the stream ends at once; an endless one with no rules only keeps alive.
  assert.equal(lines((await streamGet(STREAM)).text).whole.length, 0);
  const del = await request('POST', RULES, {
    headers: { 'x-tollgate-context': sign('POST', RULES), 'content-type': 'application/json' },
    body: JSON.stringify({ delete: { ids: ['1700000000000000001'] } }),
  });
  assert.equal(del.status, 200);
  await streamHook({ keepalive_ms: 100 });
  const alive = await streamGet(STREAM, { stopAfterMs: 550 });
  const { whole } = lines(alive.text);
  assert.ok(whole.length >= 3, `keep-alives: ${whole.length}`);
  assert.ok(whole.every((l) => l === ''), 'only keep-alives without rules');
  assert.ok((await streamCounts()).keepalives >= 3);
});

test('a stream ends, is cut mid-line, or ends with the operational-disconnect line', T, async () => {
  await reset();
  await streamHook({ rate: 50, lines: 2, then: 'disconnect' });
  const disconnected = await streamGet(STREAM);
  const d = lines(disconnected.text).whole;
  assert.equal(d.length, 3);
  assert.deepEqual(JSON.parse(d[2]).errors[0], {
    title: 'operational-disconnect',
    disconnect_type: 'OperationalDisconnect',
    detail: 'This stream has been disconnected for operational reasons.',
    type: 'https://api.twitter.com/2/problems/operational-disconnect',
  });
  await streamHook({ rate: 50, lines: 2, then: 'cut' });
  const cut = await streamGet(STREAM);
  assert.notEqual(cut.ended, 'end');
  const c = lines(cut.text);
  assert.equal(c.whole.length, 2);
  assert.ok(c.tail.length > 10);
  assert.throws(() => JSON.parse(c.tail), SyntaxError);
  const counts = await streamCounts();
  assert.equal(counts.lines, 4, 'the half line is not a line sent');
  assert.equal(counts.cut, 1);
  assert.equal(counts.errors, 1);
  assert.equal((await stats()).items, 4);
});

test('odd lines slip in where told: not JSON, and far too long', T, async () => {
  await reset();
  await streamHook({ rate: 100, lines: 3, inject: [{ after: 1, kind: 'garbage' }, { after: 2, kind: 'long', bytes: 100_000 }] });
  const res = await streamGet(STREAM);
  const { whole } = lines(res.text);
  assert.equal(whole.length, 5);
  assert.throws(() => JSON.parse(whole[1]), SyntaxError);
  assert.ok(whole[3].length > 100_000);
  assert.equal(JSON.parse(whole[3]).data.text.length, 100_000);
  const counts = await streamCounts();
  assert.deepEqual([counts.lines, counts.garbage, counts.long], [3, 1, 1]);
});

test('stream rules: list, add, dry run, duplicates, delete, validation', T, async () => {
  await reset();
  const post = (body, q = '') => request('POST', `${RULES}${q}`, {
    headers: { 'x-tollgate-context': sign('POST', `${RULES}${q}`), 'content-type': 'application/json' }, body,
  });
  assert.deepEqual((await getJson(RULES)).data, [{ id: '1700000000000000001', value: 'tollgate OR edge', tag: 'demo' }]);
  const added = await post(JSON.stringify({ add: [{ value: 'cats has:media', tag: 'cats' }, { value: 'dogs' }] }));
  assert.equal(added.status, 201);
  const body = JSON.parse(added.text);
  assert.equal(body.data.length, 2);
  assert.deepEqual(body.meta.summary, { created: 2, not_created: 0, valid: 2, invalid: 0 });
  assert.equal((await getJson(RULES)).meta.result_count, 3);
  const dup = JSON.parse((await post(JSON.stringify({ add: [{ value: 'dogs' }] }))).text);
  assert.equal(dup.errors[0].title, 'DuplicateRule');
  const dry = await post(JSON.stringify({ add: [{ value: 'birds' }] }), '?dry_run=true');
  assert.equal(dry.status, 201);
  assert.equal((await getJson(RULES)).meta.result_count, 3);
  const one = await getJson(`${RULES}?ids=${body.data[0].id}`);
  assert.deepEqual(one.data.map((r) => r.value), ['cats has:media']);
  const deleted = JSON.parse((await post(JSON.stringify({ delete: { values: ['dogs', 'nope'] } }))).text);
  assert.deepEqual(deleted.meta.summary, { deleted: 1, not_deleted: 1 });
  for (const bad of ['nope', '{}', '{"add":[]}', '{"add":[{"tag":"x"}]}', '{"delete":{}}', '{"add":[],"delete":{}}']) {
    assert.equal((await post(bad)).status, 400, bad);
  }
  // The stream's lines name the rules that matched, in turn.
  await streamHook({ rate: 100, lines: 2 });
  const tags = lines((await streamGet(STREAM)).text).whole.map((l) => JSON.parse(l).matching_rules[0].tag);
  assert.deepEqual(tags, ['demo', 'cats']);
  const put = await request('PUT', RULES, { headers: { 'x-tollgate-context': sign('PUT', RULES) } });
  assert.equal(put.status, 405);
  assert.equal(put.headers.allow, 'GET, POST');
});
