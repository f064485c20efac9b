// The console's billing pages in a real browser (Debian's Chromium through playwright-core)
// against a full stack: an account's printable statement shows what the admin API bills, and
// prints without the page's chrome; the fleet page lists every account's month and sorts by a
// column. Screenshots go to docs/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { kvEntries } from '../demo/seed.mjs';
import { ROOT, demoToken, newToken, startStack } from './harness.mjs';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'docs/screenshots');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const PLAN = {
  v: 1,
  id: 'printed',
  endpoints: [
    { method: 'GET', path: '/2/tweets/search/recent', group: 'search' },
    { method: 'GET', path: '/2/tweets/:id', group: 'lookup' },
  ],
  prices: [{
    version: 3, from: '2026-01', currency: 'EUR', monthly_fee: 125000, included_items: 5,
    overage_per_1000_items: 90000, per_1000_requests: { search: 2500 },
  }],
};
const TOKENS = { 'northwind-research': newToken(), 'northwind-alerts': newToken() };
const DOC = {
  plans: [PLAN],
  accounts: [{
    v: 1, id: 'northwind', name: 'Northwind Analytics', plan: 'printed', status: 'active',
    use_cases: [{ id: 'research', status: 'approved', description: 'Market research' }],
  }],
  apps: Object.entries(TOKENS).map(([app, token]) => ({ token, record: { v: 1, account: 'northwind', app, status: 'active', use_case: 'research' } })),
};

let stack;
let context;
let profile;
let page;
const pageErrors = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`bash scripts/bootstrap.sh\``);
  stack = await startStack({ entries: kvEntries(DOC) });
  profile = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1366, height: 820 },
    deviceScaleFactor: 1,
    acceptDownloads: true,
    timeout: 60_000,
  });
  context.setDefaultTimeout(15_000);
  page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  await page.goto(`${stack.base}/_tollgate/console/`);
  await page.getByLabel('Admin key or secret').fill(stack.adminSecret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
}, { timeout: 240_000 });

after(async () => {
  await context?.close().catch(() => {});
  if (profile) rmSync(profile, { recursive: true, force: true });
  await stack?.stop();
}, { timeout: 60_000 });

describe('statement page', () => {
  test('shows the amount the admin API bills, and prints as a document', async () => {
    const calls = [
      ['northwind-research', '/2/tweets/search/recent?query=wind&max_results=20'],
      ['northwind-research', '/2/tweets/search/recent?query=east&max_results=10'],
      ['northwind-alerts', '/2/tweets/20'],
      ['northwind-alerts', '/2/users/1/tweets'], // not in the plan
    ];
    for (const [app, path] of calls) await (await stack.call(path, { token: TOKENS[app] })).arrayBuffer();
    await sleep(800);
    const api = await (await stack.admin('GET', 'accounts/northwind/statement')).json();
    assert.ok(api.amount_due_minor > 125000, JSON.stringify(api));

    await page.goto(`${stack.base}/_tollgate/console/#/accounts/northwind/statement`);
    await page.locator('#amount-due').waitFor();
    const [whole, cents] = [Math.floor(api.amount_due_minor / 100), String(api.amount_due_minor % 100).padStart(2, '0')];
    assert.equal(await page.locator('#amount-due').textContent(), `${whole.toLocaleString('en-US')}.${cents} EUR`);
    assert.equal(await page.locator('table.lines tbody tr').count(), api.lines.length + 1);
    assert.match(await page.locator('#statement-facts').textContent(), /price version 3/);
    assert.equal(await page.locator('table.pins tbody tr').count(), api.pinned_by.days.length);
    await page.screenshot({ path: join(SHOTS, 'statement.png'), fullPage: true, animations: 'disabled', caret: 'hide' });

    // In print, the page's header, tabs and buttons are gone; the statement stays.
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('header.top').isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Print' }).isVisible(), false);
    assert.equal(await page.locator('#amount-due').isVisible(), true);
    await page.emulateMedia({ media: 'screen' });
    assert.deepEqual(pageErrors, []);
  });
});

describe('fleet page', () => {
  test('lists every account with the amounts the admin API computes, and sorts by a column', { timeout: 120_000 }, async () => {
    // Traffic for a few of the demo accounts too, so the page has something to sort.
    const demo = [['acme-search', '/2/tweets/search/recent?query=fleet&max_results=50'], ['acme-backfill', '/2/tweets?ids=1,2,3,4,5'],
      ['globex-lookup', '/2/tweets/20'], ['sampler-app', '/2/tweets/search/recent?query=fleet&max_results=100'], ['relay-feed', '/2/tweets/20']];
    for (const [app, path] of demo) {
      const headers = app === 'relay-feed' ? { 'x-tollgate-recipient': 'northwind-east' } : {};
      await (await stack.call(path, { token: demoToken(app), headers })).arrayBuffer();
    }
    assert.equal((await stack.admin('POST', 'fleet/sync')).status, 200);
    // The guards write their months within 30 s.
    const deadline = Date.now() + 60_000;
    let fleet;
    for (;;) {
      fleet = await (await stack.admin('GET', 'fleet')).json();
      const written = new Set(fleet.lines.filter((l) => l.updated_at !== null).map((l) => l.account));
      if (['northwind', 'acme', 'globex', 'sampler', 'relay'].every((a) => written.has(a))) break;
      assert.ok(Date.now() < deadline, 'the rollups did not arrive');
      await sleep(1000);
    }
    await page.goto(`${stack.base}/_tollgate/console/#/fleet`);
    await page.locator('table.fleet tbody tr').first().waitFor();
    assert.equal(await page.locator('table.fleet tbody tr').count(), fleet.accounts);
    const northwind = page.locator('table.fleet tbody tr').filter({ hasText: 'northwind' });
    const amount = fleet.lines.find((l) => l.account === 'northwind').amount_minor;
    const shown = `${Math.floor(amount / 100).toLocaleString('en-US')}.${String(amount % 100).padStart(2, '0')} EUR`;
    assert.ok((await northwind.textContent()).includes(shown), `${shown} not on the page`);
    await page.screenshot({ path: join(SHOTS, 'fleet.png'), fullPage: true, animations: 'disabled', caret: 'hide' });

    // Sorting by requests, most first: the first row is the busiest account.
    await page.getByRole('button', { name: 'Requests' }).click();
    await page.waitForURL(/#\/fleet\/requests\/desc$/);
    await page.locator('table.fleet tbody tr').first().waitFor();
    const busiest = [...fleet.lines].sort((a, b) => b.requests - a.requests || a.account.localeCompare(b.account))[0];
    assert.match(await page.locator('table.fleet tbody tr').first().textContent(), new RegExp(busiest.account));
    assert.equal(await page.getByRole('button', { name: /Requests/ }).getAttribute('aria-sort'), 'descending');
    assert.deepEqual(pageErrors, []);
  });
});
