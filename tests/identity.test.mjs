// Who did what, end to end: Cloudflare Access tokens signed with real RS256 keys and checked
// against a local key server, the three roles, admin keys, the break-glass secret, and every
// change in the audit trail under the name of whoever made it. Every refused token is a 401 and
// writes nothing; every refused role is a 403 and writes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startStack } from './harness.mjs';
import { AUD, TEAM, claims, hs256WithPublicKey, newKey, signToken, startKeyServer, unsigned } from './access.mjs';

const OWNER = 'olive@example.com';
const OPERATOR = 'oscar@example.com';
const AUDITOR = 'ada@example.com';
const OUTSIDER = 'nobody@example.com';
const SERVICE = '5f2c0e1d9a8b7c6d.access';
const ROLES = {
  v: 1,
  identities: [
    { email: OWNER, role: 'owner' },
    { group: 'tollgate-operators', role: 'operator' },
    { email: AUDITOR, role: 'auditor' },
    { service_token: SERVICE, role: 'operator' },
  ],
};
const ACCOUNT = { v: 1, id: 'idco', name: 'Identity Co', plan: 'standard', status: 'active' };

let stack;
let keys;
const first = newKey();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const minus = (n) => Math.floor(Date.now() / 1000) - n;

/** A valid Access token for `who` (an operator is a member of the operators' group). */
const tokenOf = (who, extra = {}, key = first) =>
  signToken(key, claims(who, who === OPERATOR ? { groups: ['staff', 'tollgate-operators'], ...extra } : extra));

/** An admin call as an Access identity (the token in the header Access adds). */
async function as(jwt, method, route, body, headers = {}) {
  stack.secret(jwt);
  const res = await stack.admin(method, route, body, { secret: null, headers: { 'cf-access-jwt-assertion': jwt, ...headers } });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}
const breakGlass = async (method, route, body) => {
  const res = await stack.admin(method, route, body);
  return { status: res.status, json: await res.json().catch(() => undefined) };
};

/** What a refused change must leave as it was: the account, its chain, the admin log, the roles. */
async function snapshot() {
  const auditor = tokenOf(AUDITOR);
  const [account, chain, adminLog, report] = await Promise.all([
    as(auditor, 'GET', 'accounts/idco'),
    as(auditor, 'GET', 'accounts/idco/audit'),
    as(auditor, 'GET', 'audit'),
    as(auditor, 'GET', 'accounts/idco/report'),
  ]);
  for (const r of [account, chain, adminLog, report]) assert.equal(r.status, 200, r.text);
  return JSON.stringify([account.json, chain.json.entries.length, adminLog.json.entries.length, report.json.suspended]);
}

before(async () => {
  keys = await startKeyServer([first]);
  stack = await startStack({ access: { team: TEAM, aud: AUD, jwksUrl: keys.url } });
  // The first owner is named with the break-glass secret, as the README's setup says.
  assert.equal((await breakGlass('PUT', 'roles', ROLES)).status, 200);
  assert.equal((await breakGlass('PUT', 'accounts/idco', ACCOUNT)).status, 200);
}, { timeout: 200_000 });
after(async () => {
  await stack?.stop();
  await keys?.stop();
});

describe('signing in through Access', () => {
  test('a valid token of each role signs in as that identity and role', async () => {
    for (const [who, role] of [[OWNER, 'owner'], [OPERATOR, 'operator'], [AUDITOR, 'auditor'], [SERVICE, 'operator']]) {
      const me = await as(tokenOf(who), 'GET', 'whoami');
      assert.equal(me.status, 200, me.text);
      assert.deepEqual(me.json, {
        id: who, role, via: 'access',
        permissions: { owner: ['read', 'operate', 'own'], operator: ['read', 'operate'], auditor: ['read'] }[role],
      });
    }
    const outsider = await as(tokenOf(OUTSIDER), 'GET', 'accounts');
    assert.equal(outsider.status, 403, 'a verified identity without a role');
    assert.match(outsider.json.detail, /no admin role/);
  });

  test('the CF_Authorization cookie signs in too, and a change by cookie must come from the same origin', async () => {
    const cookie = `other=1; CF_Authorization=${tokenOf(OPERATOR)}`;
    const res = await stack.admin('GET', 'whoami', undefined, { secret: null, headers: { cookie } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).id, OPERATOR);
    const before = await snapshot();
    const crossSite = await stack.admin('POST', 'accounts/idco/suspend', undefined,
      { secret: null, headers: { cookie, origin: 'https://elsewhere.example' } });
    assert.equal(crossSite.status, 403);
    await crossSite.arrayBuffer();
    assert.equal(await snapshot(), before, 'a cross-site change wrote something');
    const sameSite = await stack.admin('POST', 'accounts/idco/reinstate', undefined, { secret: null, headers: { cookie, origin: stack.base } });
    assert.equal(sameSite.status, 200, await sameSite.text());
  });

  test('every bad token is a 401 and writes nothing', async () => {
    const good = claims(OWNER);
    const stranger = newKey();
    const valid = signToken(first, good);
    const [head, body, sig] = valid.split('.');
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...good, email: 'mallory@example.com' })).toString('base64url')}.${sig}`;
    // Each refused for its own reason, which the problem's detail names.
    const cases = {
      expired: [signToken(first, claims(OWNER, { now: minus(3600), ttl: 600 })), /has expired/],
      'not yet valid': [signToken(first, { ...good, nbf: minus(-3600) }), /not valid yet/],
      'wrong audience': [signToken(first, { ...good, aud: ['another-application'] }), /audience/],
      'wrong issuer': [signToken(first, { ...good, iss: 'https://elsewhere.cloudflareaccess.com' }), /issuer/],
      'unknown kid': [signToken(stranger, good), /not one of the team's keys/],
      'alg none': [unsigned(first.kid, good), /algorithm/],
      'HS256 signed with the public key': [hs256WithPublicKey(first, good), /algorithm/],
      'tampered payload': [tampered, /signature does not verify/],
    };
    const before = await snapshot();
    for (const [name, [jwt, why]] of Object.entries(cases)) {
      // Each from its own client address, so the failure throttle (10 a minute) stays out of it.
      const client = { 'cf-connecting-ip': `198.51.100.${Object.keys(cases).indexOf(name) + 1}` };
      const write = await as(jwt, 'POST', 'accounts/idco/suspend', undefined, client);
      assert.equal(write.status, 401, `${name}: ${write.text}`);
      assert.equal(write.json.title, 'Unauthorized', name);
      assert.match(write.json.detail, why, name);
      const read = await as(jwt, 'GET', 'whoami', undefined, client);
      assert.equal(read.status, 401, name);
    }
    assert.equal(await snapshot(), before, 'a refused token wrote something');
    assert.equal((await as(valid, 'GET', 'whoami')).status, 200, 'the untampered token is good');
  });

  test('bad tokens count as failed attempts: the 11th in a minute is refused unheard', async () => {
    const client = { 'cf-connecting-ip': '203.0.113.99' };
    const bad = signToken(first, claims(OWNER, { aud: ['another-application'] }));
    for (let i = 0; i < 10; i++) assert.equal((await as(bad, 'GET', 'whoami', undefined, client)).status, 401);
    const refused = await as(tokenOf(OWNER), 'GET', 'whoami', undefined, client);
    assert.equal(refused.status, 429);
  });
});

describe('roles', () => {
  test("an auditor reads usage, reports and the audit trail, and every write of theirs is a 403 that writes nothing", async () => {
    const auditor = tokenOf(AUDITOR);
    for (const route of ['accounts', 'accounts/idco/usage', 'accounts/idco/usage?format=csv', 'accounts/idco/report',
      'accounts/idco/audit', 'accounts/idco/audit/verify', 'audit', 'audit/verify', 'plans/standard']) {
      assert.equal((await as(auditor, 'GET', route)).status, 200, route);
    }
    const before = await snapshot();
    for (const [method, route, body] of [
      ['POST', 'accounts/idco/suspend'],
      ['PUT', 'accounts/idco', { ...ACCOUNT, name: 'Renamed' }],
      ['POST', 'accounts/idco/tokens', { app: 'auditor-app' }],
      ['PUT', 'plans/standard', { v: 1, id: 'standard', endpoints: [] }],
      ['POST', 'accounts/idco/housekeep'],
      ['PUT', 'roles', ROLES],
      ['GET', 'roles'],
      ['POST', 'keys', { owner: 'x', role: 'owner', expires_at: minus(-3600) }],
    ]) {
      const r = await as(auditor, method, route, body);
      assert.equal(r.status, 403, `${method} ${route}: ${r.text}`);
      assert.match(r.json.detail, /is auditor/);
    }
    assert.equal(await snapshot(), before, "an auditor's refused write wrote something");
  });

  test('an operator runs accounts and tokens but not plans or who is an admin', async () => {
    const operator = tokenOf(OPERATOR);
    assert.equal((await as(operator, 'POST', 'accounts/idco/suspend')).status, 200);
    assert.equal((await as(operator, 'POST', 'accounts/idco/reinstate')).status, 200);
    const issued = await as(operator, 'POST', 'accounts/idco/tokens', { app: 'idco-app' });
    assert.equal(issued.status, 200, issued.text);
    stack.secret(issued.json.token);
    for (const [method, route, body] of [['PUT', 'plans/standard', {}], ['GET', 'roles'], ['PUT', 'roles', ROLES], ['GET', 'keys']]) {
      assert.equal((await as(operator, method, route, body)).status, 403, `${method} ${route}`);
    }
  });

  test('only an owner reads and writes the roles record, and it is validated whole', async () => {
    const owner = tokenOf(OWNER);
    const current = await as(owner, 'GET', 'roles');
    assert.equal(current.status, 200);
    assert.deepEqual(current.json, ROLES);
    const before = await snapshot();
    for (const bad of [
      { v: 1, identities: [{ email: 'Upper@Example.com', role: 'owner' }] },
      { v: 1, identities: [{ email: 'a@example.com', role: 'superuser' }] },
      { v: 1, identities: [{ email: 'a@example.com', group: 'g', role: 'owner' }] },
      { v: 1, identities: [], extra: true },
    ]) {
      const r = await as(owner, 'PUT', 'roles', bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
    }
    assert.equal(await snapshot(), before);
    assert.deepEqual((await as(owner, 'GET', 'roles')).json, ROLES, 'a refused record replaced the roles');
    // A removal takes effect on the next request.
    const without = { v: 1, identities: ROLES.identities.filter((g) => g.email !== AUDITOR) };
    assert.equal((await as(owner, 'PUT', 'roles', without)).status, 200);
    assert.equal((await as(tokenOf(AUDITOR), 'GET', 'accounts')).status, 403);
    assert.equal((await as(owner, 'PUT', 'roles', ROLES)).status, 200);
    assert.equal((await as(tokenOf(AUDITOR), 'GET', 'accounts')).status, 200);
  });

  test('every change names its actor and role in the audit trail, and the chains verify', async () => {
    const operator = tokenOf(OPERATOR);
    assert.equal((await as(operator, 'POST', 'accounts/idco/suspend')).status, 200);
    const entries = (await as(tokenOf(AUDITOR), 'GET', 'accounts/idco/audit')).json.entries;
    const last = entries.at(-1);
    assert.equal(last.kind, 'admin:account_suspended');
    assert.deepEqual(last.actor, { id: OPERATOR, role: 'operator', via: 'access' });
    const written = entries.find((e) => e.kind === 'admin:account_written');
    assert.deepEqual(written.actor, { id: 'break-glass', role: 'owner', via: 'break_glass' });
    const adminLog = (await as(tokenOf(AUDITOR), 'GET', 'audit')).json.entries;
    const roles = adminLog.filter((e) => e.kind === 'admin:roles_written');
    assert.deepEqual(roles.at(-1).actor, { id: OWNER, role: 'owner', via: 'access' });
    for (const route of ['accounts/idco/audit/verify?full=true', 'audit/verify?full=true']) {
      const v = await as(tokenOf(AUDITOR), 'GET', route);
      assert.equal(v.json.ok, true, v.text);
    }
    assert.equal((await as(operator, 'POST', 'accounts/idco/reinstate')).status, 200);
  });
});

describe('the team rotates its keys', () => {
  test('a token signed with a new key works at once, without a restart', async () => {
    // Key fetches are at least 5 s apart; the tests before fetched for their unknown key.
    await sleep(5_200);
    const second = newKey();
    keys.state.keys = [first, second];
    const fetches = keys.state.fetches;
    const me = await as(tokenOf(OWNER, {}, second), 'GET', 'whoami');
    assert.equal(me.status, 200, me.text);
    assert.equal(keys.state.fetches, fetches + 1, 'the new key was fetched once');
    assert.equal((await as(tokenOf(AUDITOR, {}, second), 'GET', 'whoami')).status, 200);
    assert.equal(keys.state.fetches, fetches + 1, 'a known key is not fetched again');
    assert.equal((await as(tokenOf(AUDITOR), 'GET', 'whoami')).status, 200, 'the previous key stays valid');
  });

  test('when the keys cannot be fetched, a token naming a new key fails closed with 503; held keys still work', async () => {
    await sleep(5_200);
    keys.state.down = true;
    const third = newKey();
    const before = await snapshot();
    const r = await as(tokenOf(OWNER, {}, third), 'POST', 'accounts/idco/suspend');
    assert.equal(r.status, 503, r.text);
    assert.equal(await snapshot(), before);
    assert.ok(stack.logs().includes('"event":"access_keys_unavailable"'));
    assert.equal((await as(tokenOf(OWNER), 'GET', 'whoami')).status, 200, 'a key fetched within the hour');
    keys.state.down = false;
  });
});

describe('admin keys', () => {
  test('an owner issues a key shown once and stored as a hash; it signs in with its role until revoked', async () => {
    const owner = tokenOf(OWNER);
    const issued = await as(owner, 'POST', 'keys', { owner: 'ci@example.com', role: 'auditor', expires_at: minus(-86_400) });
    assert.equal(issued.status, 200, issued.text);
    const { key, id } = issued.json;
    stack.secret(key);
    assert.match(key, /^tgk_[0-9a-f]{72}$/);
    assert.match(id, /^k-[0-9a-f]{12}$/);
    const listed = await as(owner, 'GET', 'keys');
    assert.ok(!listed.text.includes(key.slice(4)), 'the key itself is listed');
    const entry = listed.json.keys.find((k) => k.id === id);
    assert.deepEqual({ ...entry, created_at: 0, expires_at: 0 },
      { id, owner: 'ci@example.com', role: 'auditor', created_at: 0, expires_at: 0, created_by: OWNER, revoked_at: null });

    const me = await stack.admin('GET', 'whoami', undefined, { secret: key });
    assert.deepEqual(await me.json(), { id, role: 'auditor', via: 'key', permissions: ['read'] });
    const write = await stack.admin('POST', 'accounts/idco/suspend', undefined, { secret: key });
    assert.equal(write.status, 403);
    await write.arrayBuffer();

    assert.equal((await as(owner, 'POST', `keys/${id}/revoke`)).status, 200);
    const after = await stack.admin('GET', 'whoami', undefined, { secret: key });
    assert.equal(after.status, 401);
    assert.match((await after.json()).detail, /revoked/);
    const kinds = (await as(owner, 'GET', 'audit')).json.entries.map((e) => [e.kind, e.actor?.id]);
    assert.deepEqual(kinds.filter(([k]) => k.startsWith('admin:key_')), [['admin:key_issued', OWNER], ['admin:key_revoked', OWNER]]);
    assert.ok(!stack.logs().includes(key), 'a key reached the logs');
  });

  test("an operator's key acts as the operator's key in the trail, and an expired key is refused", async () => {
    const owner = tokenOf(OWNER);
    const issued = (await as(owner, 'POST', 'keys', { owner: 'deploy-bot', role: 'operator', expires_at: minus(-2) })).json;
    stack.secret(issued.key);
    const suspend = await stack.admin('POST', 'accounts/idco/suspend', undefined, { secret: issued.key });
    assert.equal(suspend.status, 200);
    await suspend.arrayBuffer();
    const last = (await as(owner, 'GET', 'accounts/idco/audit')).json.entries.at(-1);
    assert.deepEqual(last.actor, { id: issued.id, role: 'operator', via: 'key' });
    assert.equal((await as(owner, 'POST', 'accounts/idco/reinstate')).status, 200);
    await sleep(3_000);
    const expired = await stack.admin('GET', 'whoami', undefined, { secret: issued.key });
    assert.equal(expired.status, 401);
    assert.match((await expired.json()).detail, /expired/);
    for (const bad of [{ owner: 'x', role: 'auditor', expires_at: minus(10) }, { owner: 'x', role: 'auditor', expires_at: minus(-400 * 86_400) },
      { owner: '', role: 'auditor', expires_at: minus(-60) }, { owner: 'x', role: 'root', expires_at: minus(-60) }]) {
      assert.equal((await as(owner, 'POST', 'keys', bad)).status, 400, JSON.stringify(bad));
    }
    const mistyped = `${issued.key.slice(0, -1)}${issued.key.endsWith('0') ? '1' : '0'}`;
    const r = await stack.admin('GET', 'whoami', undefined, { secret: mistyped, headers: { 'cf-connecting-ip': '198.51.100.200' } });
    assert.equal(r.status, 401);
    await r.arrayBuffer();
  });
});

describe('break-glass', () => {
  test('the shared secret still opens everything as owner, and every use is logged and audited as break-glass', async () => {
    const before = (await as(tokenOf(AUDITOR), 'GET', 'audit')).json.entries.length;
    const me = await breakGlass('GET', 'whoami');
    assert.deepEqual(me.json, { id: 'break-glass', role: 'owner', via: 'break_glass', permissions: ['read', 'operate', 'own'] });
    assert.equal((await breakGlass('GET', 'accounts/idco')).status, 200);
    const entries = (await as(tokenOf(AUDITOR), 'GET', 'audit')).json.entries.slice(before);
    assert.deepEqual(entries.map((e) => [e.kind, JSON.parse(e.detail).path, e.actor.id, e.actor.role]), [
      ['admin:break_glass_used', '/_tollgate/admin/v1/whoami', 'break-glass', 'owner'],
      ['admin:break_glass_used', '/_tollgate/admin/v1/accounts/idco', 'break-glass', 'owner'],
    ]);
    assert.ok(stack.logs().includes('"event":"admin_break_glass_used"'));
  });
});
