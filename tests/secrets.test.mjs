// No token, admin secret or signing key in the logs. Every stack the tests start checks its own
// logs for every secret it saw when it stops (tests/harness.mjs); this file drives the paths most
// likely to log one (refusals of every kind, admin failures, issuing, rotation, revocation) and
// checks the logs explicitly, including for the secrets sent by mistake.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { DEMO, demoToken, newToken, startStack } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); }, { timeout: 200_000 });
after(async () => { await stack?.stop(); });

test('the logs of a busy run hold no secret', async () => {
  const wrongSecrets = [`${'a'.repeat(60)}beef`, `${'b'.repeat(60)}cafe`];
  const sent = [...DEMO.apps.map((a) => a.token)];
  const calls = [];
  for (const t of sent) calls.push(stack.call('/2/tweets/20', { token: t }));
  const unknown = newToken();
  sent.push(unknown);
  calls.push(stack.call('/2/tweets/20', { token: unknown }));
  calls.push(stack.call('/2/tweets/20', { headers: { authorization: `Bearer ${unknown}x` } }));
  calls.push(stack.call('/2/tweets/search/recent?query=x', { token: demoToken('globex-lookup') }));
  for (const r of await Promise.all(calls)) await r.arrayBuffer();
  for (const s of wrongSecrets) await (await stack.admin('GET', 'accounts', undefined, { secret: s })).arrayBuffer();
  const issued = await (await stack.admin('POST', 'accounts/acme/tokens', { app: 'secret-app', use_case: 'brand-monitoring' })).json();
  stack.secret(issued.token);
  sent.push(issued.token);
  await (await stack.call('/2/tweets/20', { token: issued.token })).arrayBuffer();
  const rotated = await (await stack.admin('POST', `tokens/${issued.token_sha256}/rotate`)).json();
  stack.secret(rotated.token);
  sent.push(rotated.token);
  await (await stack.admin('POST', `tokens/${rotated.token_sha256}/revoke`)).arrayBuffer();
  await (await stack.call('/2/tweets/20', { token: rotated.token })).arrayBuffer();

  await new Promise((r) => setTimeout(r, 1000));
  const logs = stack.logs();
  // The check is not vacuous: the worker did log these events.
  for (const event of ['token_issued', 'token_status_changed', 'admin_auth_failed']) {
    assert.match(logs, new RegExp(`"event":"${event}"`), `${event} was not logged`);
  }
  for (const secret of [...sent, ...wrongSecrets, stack.adminSecret, stack.signingKey]) {
    assert.ok(!logs.includes(secret), 'a secret appeared in the logs');
    assert.ok(!logs.includes(secret.slice(3, 40)), 'part of a secret appeared in the logs');
  }
});
