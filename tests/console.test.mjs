// The admin console (www/) in a real browser: Debian's Chromium, driven by playwright-core,
// against a full stack in `wrangler dev`. An admin signs in, writes a plan (and sees the API's
// 400 first), creates an account and issues tokens in the page; the tokens are used against the
// worker; the usage charts, refusals, audit trail and pooling and resale events are read back in
// the page; a token revoked in the page is refused on its next request. Then admins sign in
// through Cloudflare Access (a token from a local key server, in the header Access adds or in
// its CF_Authorization cookie) and each sees only what their role allows. Screenshots of the main
// pages go to docs/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { ROOT, startStack } from './harness.mjs';
import { AUD, TEAM, claims, newKey, signToken, startKeyServer } from './access.mjs';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'docs/screenshots');
const CONSOLE_PATH = '/_tollgate/console/';

let stack;
let keyServer;
const accessKey = newKey();
/** An Access application token for `email`, signed with the team's key. */
const accessToken = (email) => signToken(accessKey, claims(email));
let context;
let page;
let profile;
const pageErrors = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withTimeout = (promise, ms, what) => Promise.race([
  promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms).unref()),
]);

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`bash scripts/bootstrap.sh\` (it installs Debian's chromium)`);
  assert.ok(existsSync(join(ROOT, 'www/dist/_tollgate/console/index.html')), 'the console is not built: run `bash scripts/build.sh`');
  mkdirSync(SHOTS, { recursive: true });
  keyServer = await startKeyServer([accessKey]);
  stack = await startStack({ access: { team: TEAM, aud: AUD, jwksUrl: keyServer.url } });
  const roles = await stack.admin('PUT', 'roles', { v: 1, identities: [
    { email: 'olive@example.com', role: 'owner' }, { email: 'oscar@example.com', role: 'operator' }, { email: 'ada@example.com', role: 'auditor' },
  ] });
  assert.equal(roles.status, 200);
  profile = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1366, height: 820 },
    deviceScaleFactor: 1,
    acceptDownloads: true,
    timeout: 60_000,
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A refused fetch is logged by the browser as "Failed to load resource": expected here.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${m.text()}`);
  });
}, { timeout: 240_000 });

after(async () => {
  if (context) await withTimeout(context.close(), 20_000, 'closing the browser').catch((e) => console.error(e.message));
  if (profile) rmSync(profile, { recursive: true, force: true });
  await stack?.stop();
  await keyServer?.stop();
}, { timeout: 60_000 });

const shot = (name, { page: target = page, ...opts } = {}) => target.screenshot({ path: join(SHOTS, `${name}.png`), animations: 'disabled', caret: 'hide', ...opts });
const main = () => page.locator('main');
const navLink = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
const heading = (name) => page.getByRole('heading', { level: 1, name });
/** The text of the <dd> after a <dt> in the usage totals. */
const total = (term) => page.locator('#usage-totals div').filter({ has: page.locator('dt', { hasText: new RegExp(`^${term}$`) }) }).locator('dd');
const reasonRow = (reason) => page.locator('table.reasons tbody tr').filter({ has: page.locator('code', { hasText: new RegExp(`^${reason}$`) }) });
const tokenRow = (app) => page.locator(`table.tokens tbody tr[data-app="${app}"]`);
const adminJson = async (method, route, body) => {
  const res = await stack.admin(method, route, body);
  assert.equal(res.status, 200, `${method} ${route}: ${res.status}`);
  return res.json();
};

const PLAN = {
  v: 1,
  id: 'console-plan',
  endpoints: [
    { method: 'GET', path: '/2/tweets/:id', group: 'lookup' },
    { method: 'GET', path: '/2/tweets', group: 'batch' },
  ],
  // A window of 31 days: no window boundary falls inside a test run.
  limits: [{ group: 'lookup', scope: 'app', requests: 4, window_seconds: 2678400 }],
};

const tokens = {};

describe('the admin console', () => {
  test('is served by Workers static assets under the admin path, with its own headers', { timeout: 30_000 }, async () => {
    const res = await fetch(`${stack.base}${CONSOLE_PATH}`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'/);
    assert.match(await res.text(), /<title>Tollgate console<\/title>/);
    const js = await fetch(`${stack.base}${CONSOLE_PATH}app.js`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /javascript/);
    await js.arrayBuffer();
    // Every other path is still the worker's.
    const api = await stack.call('/2/tweets/20');
    assert.equal(api.status, 401);
    assert.equal((await api.json()).reason, 'missing-token');
    const headers = await fetch(`${stack.base}/_headers`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(headers.status, 401, 'the _headers file itself is not served');
    await headers.arrayBuffer();
  });

  test('without Access, sign-in refuses a wrong secret, then keeps the right one in the tab session only', { timeout: 60_000 }, async () => {
    await page.goto(`${stack.base}${CONSOLE_PATH}`);
    await heading('Sign in').waitFor();
    const secretField = page.getByLabel('Admin key or secret');
    assert.ok(await secretField.evaluate((el) => el === document.activeElement), 'the secret field has the focus');
    await shot('sign-in');

    // Keyboard only: type and press Enter.
    await page.keyboard.type('0'.repeat(64));
    await page.keyboard.press('Enter');
    const alert = main().getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Unauthorized \(401\)/);
    assert.match(await alert.innerText(), /The admin key or secret is wrong\./);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    await secretField.fill(stack.adminSecret);
    await page.keyboard.press('Enter');
    await heading('Accounts').waitFor();
    await page.getByRole('link', { name: 'Acme Analytics', exact: true }).waitFor();
    const storage = await page.evaluate(() => ({
      session: Object.values(sessionStorage), local: localStorage.length, cookie: document.cookie, url: location.href,
    }));
    assert.deepEqual(storage.session, [stack.adminSecret]);
    assert.equal(storage.local, 0);
    assert.equal(storage.cookie, '');
    assert.ok(!storage.url.includes(stack.adminSecret));
    assert.deepEqual(await context.cookies(), []);
    // Focus is visible on a real button reached with the keyboard.
    await page.getByRole('button', { name: 'Sign out' }).focus();
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none');
  });

  test('a plan is written as JSON; the API’s 400 detail is shown first', { timeout: 60_000 }, async () => {
    await navLink('Plans').click();
    await heading('Plans').waitFor();
    await page.getByLabel('Plan id').fill(PLAN.id);
    await page.getByRole('button', { name: 'Open editor' }).click();
    await heading(`New plan ${PLAN.id}`).waitFor();
    const editor = page.getByLabel('Plan record (JSON)');
    const bad = { ...PLAN, limits: [{ ...PLAN.limits[0], scope: 'team' }] };
    await editor.fill(JSON.stringify(bad, null, 2));
    await page.getByRole('button', { name: 'Create plan' }).click();
    const alert = main().getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /Invalid Request \(400\)/);
    assert.match(text, /unknown variant `team`, expected one of `app`, `account`, `recipient`/, text);
    assert.match(text, /Nothing was written/);
    await shot('plan-error');
    assert.equal((await stack.admin('GET', `plans/${PLAN.id}`)).status, 404, 'the bad plan was written');

    await editor.fill(JSON.stringify(PLAN, null, 2));
    await page.getByRole('button', { name: 'Create plan' }).click();
    await heading(`Plan ${PLAN.id}`).waitFor();
    await page.getByRole('status').getByText(`Plan ${PLAN.id} created.`).waitFor();
    const stored = await adminJson('GET', `plans/${PLAN.id}`);
    assert.deepEqual(stored.endpoints, PLAN.endpoints);
    assert.equal(stored.limits[0].requests, 4);
  });

  test('an account is created in the page (PUT) and listed', { timeout: 60_000 }, async () => {
    await navLink('Accounts').click();
    await heading('Accounts').waitFor();
    await page.getByLabel('Account id').fill('console-co');
    await page.getByLabel('Name', { exact: true }).fill('Console Co');
    await page.getByLabel('Plan').selectOption(PLAN.id);
    await page.getByLabel('First use case id (optional)').fill('analytics');
    await page.getByLabel('Use case description').fill('Dashboards of public conversation');
    await page.getByRole('button', { name: 'Create account' }).click();
    await heading('Console Co').waitFor();
    await page.getByRole('status').getByText('Account console-co created.').waitFor();
    const record = await adminJson('GET', 'accounts/console-co');
    assert.equal(record.plan, PLAN.id);
    assert.deepEqual(record.use_cases, [{ id: 'analytics', status: 'approved', description: 'Dashboards of public conversation' }]);

    await navLink('Accounts').click();
    await page.getByRole('link', { name: 'Console Co', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Acme Analytics', exact: true }).waitFor();
    await shot('accounts');

    // Creating it again is refused in the page, before anything is written.
    await page.getByLabel('Account id').fill('console-co');
    await page.getByLabel('Name', { exact: true }).fill('Overwritten');
    await page.getByRole('button', { name: 'Create account' }).click();
    assert.match(await main().getByRole('alert').innerText(), /An account with id console-co already exists\./);
    assert.equal((await adminJson('GET', 'accounts/console-co')).name, 'Console Co');

    // The list filters as one types.
    await page.getByLabel('Filter accounts').fill('console');
    await page.getByText(/^1 of \d+ accounts shown\.$/).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Acme Analytics', exact: true }).isVisible(), false);
  });

  test('tokens are issued in the page, shown once, and a bad app id gets the API’s detail', { timeout: 60_000 }, async () => {
    await page.goto(`${stack.base}${CONSOLE_PATH}#/accounts/console-co/tokens`);
    await heading('Console Co').waitFor();
    await page.getByText('No tokens issued through the admin API yet.').waitFor();

    await page.getByLabel('App id').fill('Bad App!');
    await page.getByRole('button', { name: 'Issue token' }).click();
    const alert = main().getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Invalid Request \(400\)[\s\S]*Field `app`/);

    for (const app of ['console-app', 'console-app-2']) {
      await page.getByLabel('App id').fill(app);
      await page.getByLabel('Use case').selectOption('analytics');
      await page.getByRole('button', { name: 'Issue token' }).click();
      await page.getByRole('heading', { name: `New token for ${app}` }).waitFor();
      const token = await page.getByRole('textbox', { name: 'New token' }).inputValue();
      assert.match(token, /^tg_[0-9a-f]{72}$/);
      stack.secret(token);
      tokens[app] = token;
      await tokenRow(app).waitFor();
      assert.match(await tokenRow(app).innerText(), /active/);
      if (app === 'console-app-2') {
        await shot('account-tokens', { fullPage: true, mask: [page.getByRole('textbox', { name: 'New token' }), page.locator('.card.once .hint.mono')] });
      }
      await page.getByRole('button', { name: 'I have stored it' }).click();
      assert.equal(await page.getByRole('textbox', { name: 'New token' }).count(), 0, 'the token is still in the page');
    }
    // The token is in no storage of the page.
    const kept = await page.evaluate(() => JSON.stringify({ s: { ...sessionStorage }, l: { ...localStorage } }));
    assert.ok(!kept.includes(tokens['console-app']));
  });

  test('usage: requests, refusals and events made with the tokens show in the charts and tables', { timeout: 120_000 }, async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: /^Usage in \d{4}-\d{2}$/ }).waitFor();
    await page.getByText(/^No usage recorded for/).waitFor();
    assert.equal(await total('Forwarded requests').innerText(), '0');
    const canvas = page.locator('#chart-requests canvas');
    await canvas.waitFor();
    const emptyChart = await canvas.evaluate((c) => c.toDataURL());

    // Traffic with the issued tokens, straight at the worker.
    const t1 = tokens['console-app'];
    const t2 = tokens['console-app-2'];
    const statuses = [];
    const hit = async (path, token, headers) => {
      const res = await stack.call(path, { token, headers });
      statuses.push(res.status);
      await res.arrayBuffer();
      return res.status;
    };
    for (let i = 0; i < 4; i++) assert.equal(await hit('/2/tweets/20', t1), 200);
    assert.equal(await hit('/2/tweets/20', t1), 429, 'the app limit of 4 binds');
    for (let i = 0; i < 2; i++) assert.equal(await hit('/2/tweets/search/recent?query=console', t1), 403, 'search is not in the plan');
    // The second token also reaches its own limit in the same window: pooling.
    for (let i = 0; i < 4; i++) assert.equal(await hit('/2/tweets/22', t2), 200);
    // One token used by 10 distinct clients in a day: resale.
    for (let i = 0; i < 10; i++) assert.equal(await hit('/2/tweets?ids=1,2,3', t1, { 'user-agent': `console-reseller/${i}` }), 200);

    // Ledger lines are written just after each response: wait until all are in.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const t = (await adminJson('GET', 'accounts/console-co/usage')).totals;
      if (t.forwarded === 18 && t.refused === 3 && t.items === 38) break;
      if (Date.now() > deadline) assert.fail(`the ledger did not catch up: ${JSON.stringify(t)}`);
      await sleep(250);
    }

    await page.getByRole('button', { name: 'Reload usage' }).click();
    await page.getByRole('status').getByText(/^Usage of \d{4}-\d{2} reloaded\.$/).waitFor();
    assert.equal(await total('Forwarded requests').innerText(), '18');
    assert.equal(await total('Refused requests').innerText(), '3');
    assert.equal(await total('Items').innerText(), '38');
    assert.equal(await total('Distinct items').innerText(), '5');
    assert.equal(await page.getByText(/^No usage recorded for/).count(), 0);
    // The charts' captions state what their bars show; the bars themselves are redrawn.
    assert.match(await page.locator('#chart-requests figcaption').innerText(), /18 forwarded and 3 refused/);
    assert.match(await page.locator('#chart-items figcaption').innerText(), /38 items, 5 distinct/);
    assert.match(await page.locator('#chart-refusals figcaption').innerText(), /endpoint-not-in-plan: 2, rate-limit-exceeded: 1/);
    assert.notEqual(await page.locator('#chart-requests canvas').evaluate((c) => c.toDataURL()), emptyChart, 'the chart was not redrawn');
    // Refusals by reason.
    assert.match(await reasonRow('endpoint-not-in-plan').innerText(), /Method and path are not in the plan\s+2\s+66\.7 %/);
    assert.match(await reasonRow('rate-limit-exceeded').innerText(), /\s1\s+33\.3 %/);
    // The day's row, and the lines by app and group.
    const today = new Date().toISOString().slice(0, 10);
    assert.match(await page.locator('table.days tbody tr').filter({ hasText: today }).innerText(), new RegExp(`${today}\\s+18\\s+3\\s+38\\s+5`));
    assert.match(await page.locator('table.lines tbody tr').filter({ hasText: 'console-app-2' }).innerText(), /console-app-2\s+lookup\s+—\s+4\s+0\s+4\s+1/);
    // Away from the chart its legend has the month's totals; over a day, that day's values.
    assert.deepEqual(await page.locator('#chart-requests .u-legend .u-value').allInnerTexts(), ['month total', '18', '3']);
    const box = await page.locator('#chart-requests .u-over').boundingBox();
    const day = new Date().getUTCDate();
    const days = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 0)).getUTCDate();
    await page.mouse.move(box.x + (box.width * (day - 0.5)) / days, box.y + box.height / 2);
    await page.waitForFunction((d) => {
      const values = [...document.querySelectorAll('#chart-requests .u-legend .u-value')].map((v) => v.textContent);
      return values.join('|') === `${d}|18|3`;
    }, today, { timeout: 5_000 });
    await page.mouse.move(0, 0);
    await shot('usage', { fullPage: true });

    // The CSV: fetched with the admin secret in the header, then saved from a Blob.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^tollgate-usage-console-co-\d{4}-\d{2}\.csv$/);
    assert.match(download.url(), /^blob:/);
    const csv = readFileSync(await withTimeout(download.path(), 10_000, 'the download'), 'utf8');
    const lines = csv.trim().split('\n');
    assert.match(lines[0], /^day,app,group,recipient,forwarded,items,distinct_items,bytes,refused_total/);
    assert.ok(lines.some((l) => l.includes(',console-app-2,lookup,,4,4,1,')), csv);
  });

  test('the audit trail verifies, and pooling and resale show their evidence', { timeout: 60_000 }, async () => {
    await page.getByRole('link', { name: 'Audit trail' }).click();
    const verdict = page.locator('#audit-verdict');
    await verdict.waitFor();
    const report = await adminJson('GET', 'accounts/console-co/audit/verify');
    assert.ok(report.ok);
    assert.match(await verdict.innerText(), new RegExp(`Chain intact: all ${report.entries} entries verified\\.`));
    assert.match(await verdict.innerText(), new RegExp(report.head));
    await page.locator('table.audit tbody tr').first().waitFor();
    const kinds = await page.locator('table.audit tbody td:nth-child(3)').allInnerTexts();
    for (const kind of ['admin:account_written', 'admin:token_issued', 'pooling', 'resale']) {
      assert.ok(kinds.includes(kind), `${kind} is not in the trail: ${kinds.join(', ')}`);
    }
    await page.getByLabel('Kind').selectOption('admin:token_issued');
    assert.equal(await page.locator('table.audit tbody tr').count(), 2);
    await page.getByLabel('Kind').selectOption('');
    await shot('audit');

    await page.getByRole('link', { name: 'Pooling and resale' }).click();
    const pooling = page.locator('article.event-pooling');
    const resale = page.locator('article.event-resale');
    await pooling.waitFor();
    assert.match(await pooling.locator('h3').innerText(), /Pooling in group lookup/);
    const poolText = await pooling.innerText();
    assert.match(poolText, /2 of the account’s 2 active tokens reached their own limit of 4 requests/);
    assert.match(poolText, /console-app\s+4/);
    assert.match(poolText, /console-app-2\s+4/);
    assert.match(await resale.locator('h3').innerText(), /Resale of app console-app/);
    // The tenth distinct client made the event: the first was the test's own (user agent `node`).
    const clients = await resale.locator('tbody tr').allInnerTexts();
    assert.equal(clients.length, 10, clients.join('\n'));
    assert.equal(clients.filter((c) => /\tconsole-reseller\/[0-8]$/.test(c)).length, 9, clients.join('\n'));
    await shot('events', { fullPage: true });
  });

  test('a token rotated and one revoked in the page are refused on their next request', { timeout: 60_000 }, async () => {
    await page.getByRole('link', { name: 'Tokens' }).click();
    await tokenRow('console-app').waitFor();

    page.once('dialog', (d) => d.accept());
    await tokenRow('console-app-2').getByRole('button', { name: /^Rotate / }).click();
    await page.getByRole('heading', { name: 'New token for console-app-2 (rotated)' }).waitFor();
    const rotated = await page.getByRole('textbox', { name: 'New token' }).inputValue();
    stack.secret(rotated);
    assert.notEqual(rotated, tokens['console-app-2']);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    const old = await stack.call('/2/tweets?ids=1', { token: tokens['console-app-2'] });
    assert.equal(old.status, 401);
    assert.equal((await old.json()).reason, 'revoked-token');
    const fresh = await stack.call('/2/tweets?ids=1', { token: rotated });
    assert.equal(fresh.status, 200);
    await fresh.arrayBuffer();

    const before = await stack.call('/2/tweets?ids=4', { token: tokens['console-app'] });
    assert.equal(before.status, 200);
    await before.arrayBuffer();
    let asked = '';
    page.once('dialog', (d) => { asked = d.message(); d.accept(); });
    await tokenRow('console-app').getByRole('button', { name: /^Revoke / }).click();
    await page.getByRole('status').getByText(/^The token of console-app \([0-9a-f]{12}…\) was revoked\.$/).waitFor();
    assert.match(asked, /cannot be reinstated/);
    // The table is drawn again just after the message: wait for the row to say so.
    await tokenRow('console-app').getByText('revoked', { exact: true }).waitFor({ timeout: 10_000 });
    assert.match(await tokenRow('console-app').innerText(), /revoked/);
    assert.equal(await tokenRow('console-app').getByRole('button').count(), 0, 'a revoked token still has actions');
    const next = await stack.call('/2/tweets?ids=4', { token: tokens['console-app'] });
    assert.equal(next.status, 401);
    assert.equal((await next.json()).reason, 'revoked-token');
  });

  test('the account record is edited through the PUT routes; errors are shown as the API says', { timeout: 60_000 }, async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Use cases' }).waitFor();
    await page.getByLabel('Use case id').fill('research');
    await page.getByLabel('Status', { exact: true }).selectOption('pending');
    await page.getByLabel('Description', { exact: true }).fill('Pending review');
    await page.getByRole('button', { name: 'Save use case' }).click();
    await page.getByRole('status').getByText('Use case research saved.').waitFor();
    await page.locator('tr', { hasText: 'research' }).getByText('pending', { exact: true }).waitFor();

    await page.getByLabel('Recipient id').fill('northwind');
    await page.getByLabel('Entity', { exact: true }).fill('northwind');
    await page.getByLabel('Approval', { exact: true }).selectOption('approved');
    await page.getByRole('button', { name: 'Save recipient' }).click();
    await page.getByRole('status').getByText('Recipient northwind saved.').waitFor();
    const record = await adminJson('GET', 'accounts/console-co');
    assert.deepEqual(record.use_cases.map((c) => [c.id, c.status]), [['analytics', 'approved'], ['research', 'pending']]);
    assert.deepEqual(record.redistribution.recipients, [{ id: 'northwind', class: 'commercial', entity: 'northwind', approval: 'approved' }]);

    // A status the record does not allow is the API's to refuse, and the page says so.
    await page.getByText('Show and edit the stored record').click();
    const json = page.getByLabel('Account record (JSON)');
    await json.fill(JSON.stringify({ ...record, status: 'dormant' }));
    await page.getByRole('button', { name: 'Save record' }).click();
    const alert = main().getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Invalid Request \(400\)/);
    assert.equal((await adminJson('GET', 'accounts/console-co')).status, 'active');
    await page.getByText('Show and edit the stored record').click();
    await page.getByRole('heading', { name: 'Standing' }).focus();
    await shot('account-overview', { fullPage: true });
  });

  test('signing out forgets the secret; a refused secret signs out with the reason', { timeout: 30_000 }, async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    // A secret that stops working mid-session (rotated by the operator, say) leads back here.
    await page.evaluate(() => sessionStorage.setItem('tollgate.console.adminSecret', 'f'.repeat(64)));
    await page.goto(`${stack.base}${CONSOLE_PATH}#/accounts`);
    await heading('Sign in').waitFor();
    assert.match(await main().getByRole('alert').innerText(), /Unauthorized \(401\)/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.deepEqual(pageErrors, []);
  });
});

describe('signing in through Cloudflare Access', () => {
  /** A new tab whose every request carries `headers` (as Access adds its token). */
  async function tab(headers = {}) {
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
    await p.setExtraHTTPHeaders(headers);
    await p.goto(`${stack.base}${CONSOLE_PATH}#/accounts`);
    return p;
  }
  const whoText = (p) => p.locator('#who').innerText();

  test('an auditor is signed in by the Access header and sees no action that changes anything', { timeout: 60_000 }, async () => {
    const p = await tab({ 'cf-access-jwt-assertion': accessToken('ada@example.com') });
    try {
      await p.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
      assert.match(await whoText(p), /Signed in as ada@example\.com\s*auditor/i);
      assert.equal(await p.evaluate(() => sessionStorage.length), 0, 'an Access sign-in keeps nothing in the tab');
      assert.equal(await p.getByRole('heading', { name: 'New account' }).count(), 0);
      await p.getByText('Your role reads only here: accounts are created by operators and owners.').waitFor();
      await p.goto(`${stack.base}${CONSOLE_PATH}#/accounts/console-co`);
      await p.getByRole('heading', { name: 'Standing' }).waitFor();
      for (const name of ['Suspend account', 'Reinstate account', 'Save name and plan', 'Save use case', 'Save recipient', 'Save redistribution terms']) {
        assert.equal(await p.getByRole('button', { name }).count(), 0, name);
      }
      await shot('auditor', { page: p });
      await p.goto(`${stack.base}${CONSOLE_PATH}#/accounts/console-co/tokens`);
      await p.locator('table.tokens tbody tr').first().waitFor();
      assert.equal(await p.getByRole('button', { name: /^(Rotate|Suspend|Revoke|Reinstate) / }).count(), 0);
      assert.equal(await p.getByRole('heading', { name: 'Issue a token' }).count(), 0);
      await p.goto(`${stack.base}${CONSOLE_PATH}#/accounts/console-co/usage`);
      await p.locator('#usage-totals').waitFor();
      await p.goto(`${stack.base}${CONSOLE_PATH}#/plans/${PLAN.id}`);
      await p.getByRole('heading', { name: 'As stored' }).waitFor();
      assert.equal(await p.getByLabel('Plan record (JSON)').count(), 0);
    } finally {
      await p.close();
    }
  });

  test('an operator signed in by the CF_Authorization cookie suspends and reinstates, but writes no plan', { timeout: 60_000 }, async () => {
    await context.addCookies([{ name: 'CF_Authorization', value: accessToken('oscar@example.com'), url: stack.base, httpOnly: true }]);
    const p = await tab();
    try {
      await p.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
      assert.match(await whoText(p), /Signed in as oscar@example\.com\s*operator/i);
      await p.getByRole('heading', { name: 'New account' }).waitFor();
      await p.goto(`${stack.base}${CONSOLE_PATH}#/accounts/console-co`);
      p.once('dialog', (d) => d.accept());
      await p.getByRole('button', { name: 'Suspend account' }).click();
      await p.getByRole('button', { name: 'Reinstate account' }).waitFor();
      assert.equal((await adminJson('GET', 'accounts/console-co')).status, 'suspended');
      const audit = (await adminJson('GET', 'accounts/console-co/audit')).entries.at(-1);
      assert.deepEqual([audit.kind, audit.actor], ['admin:account_suspended', { id: 'oscar@example.com', role: 'operator', via: 'access' }]);
      await p.getByRole('button', { name: 'Reinstate account' }).click();
      await p.getByRole('button', { name: 'Suspend account' }).waitFor();
      assert.equal((await adminJson('GET', 'accounts/console-co')).status, 'active');
      await p.goto(`${stack.base}${CONSOLE_PATH}#/plans`);
      await p.getByText('Your role reads only here: plans are written by owners.').waitFor();
      assert.equal(await p.getByRole('heading', { name: 'New plan' }).count(), 0);
    } finally {
      await p.close();
      await context.clearCookies();
    }
  });

  test('an owner sees the plan editor; an Access identity without a role is told so', { timeout: 60_000 }, async () => {
    const owner = await tab({ 'cf-access-jwt-assertion': accessToken('olive@example.com') });
    try {
      await owner.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
      assert.match(await whoText(owner), /olive@example\.com\s*owner/i);
      await owner.goto(`${stack.base}${CONSOLE_PATH}#/plans/${PLAN.id}`);
      await owner.getByLabel('Plan record (JSON)').waitFor();
      assert.equal(await owner.getByRole('button', { name: 'Sign out of Access' }).count(), 1);
    } finally {
      await owner.close();
    }
    const stranger = await tab({ 'cf-access-jwt-assertion': accessToken('nobody@example.com') });
    try {
      await stranger.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      assert.match(await stranger.getByRole('alert').innerText(), /Forbidden \(403\)[\s\S]*`nobody@example\.com` signed in through Access, but the roles record gives it no admin role/);
    } finally {
      await stranger.close();
    }
    assert.deepEqual(pageErrors, []);
  });
});
