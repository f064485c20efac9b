// `make scale`: the account guard at the largest customer's scale, in the local runtime. One
// account's real AccountGuard (the control plane's own class, in `wrangler dev`) is driven by a worker
// beside it (bench/scale) with the enforcer's own commands: SCALE_ITEMS distinct items in one day
// (default 5,000,000: a charge and a delivery of 100 new ids per request) and SCALE_REFUSALS
// refusals (default 1,000,000); then SCALE_LEASES lease renewals (default 1,000) as isolates send
// them under the API's plan in lease mode at full pages: each carries the report of a lease of 50
// requests and their 5,000 new ids (another 5,000,000 distinct items). It prints the guard's time
// per request at the start and at the end of each phase, the object's storage, the projection to
// the largest customer's two years, and the account peak one guard carries in each mode; writes
// bench/scale.json. A measurement, not a test.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT, freePort } from '../tests/harness.mjs';

const ITEMS = Number(process.env.SCALE_ITEMS ?? 5_000_000);
const REFUSALS = Number(process.env.SCALE_REFUSALS ?? 1_000_000);
const LEASES = Number(process.env.SCALE_LEASES ?? 1_000);
const LEASE_UNITS = 50;
const BATCH_LEASES = Number(process.env.SCALE_LEASE_BATCH ?? 50);
const IDS_PER_REQUEST = 100;
const BATCH_REQUESTS = Number(process.env.SCALE_BATCH ?? 2_500);
const BATCH_REFUSALS = Number(process.env.SCALE_REFUSAL_BATCH ?? 5_000);
const CONCURRENCY = Number(process.env.SCALE_CONCURRENCY ?? 8);
// The customer this product is modelled on: a year of 780 million calls and 26 billion items.
const CUSTOMER = { calls_per_year: 780e6, items_per_year: 26e9, items_per_day: 26e9 / 365, peak_factor: 10 };
// Ten times the customer's peak: what one account's guard should carry.
const GOAL = { requests_per_second: 2_500, items_per_second: 80_000 };
const OBJECT_LIMIT_BYTES = 10e9;

const say = (m) => process.stdout.write(`scale: ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex64 = () => randomBytes(32).toString('hex');

const WINDOW = 2_678_400;
const roomy = (app) => ({
  app,
  token_hash: hex64(),
  group: 'search',
  limits: [
    { group: 'search', scope: 'app', requests: 1e15, window_seconds: WINDOW },
    { group: 'search', scope: 'account', requests: 1e15, window_seconds: WINDOW },
  ],
  monthly_item_cap: 1e15,
});
const full = { ...roomy('scale-flood'), limits: [{ group: 'flood', scope: 'app', requests: 1, window_seconds: WINDOW }], group: 'flood' };
// The API's plan in lease mode: app and account windows, a monthly cap, a recipient.
const leased = {
  ...roomy('scale-lease-app'),
  limits: roomy('x').limits.map((l) => ({ ...l, mode: 'lease' })),
  recipient: { recipient: 'scale-client', entity: 'scale-entity', ids_cap_30d: 1e15 },
};

function dbBytes(persist) {
  const walk = (dir) => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  const files = walk(persist).filter((p) => /AccountGuard/.test(p) && /\.sqlite(-wal)?$/.test(p));
  return files.reduce((n, p) => n + statSync(p).size, 0);
}

const dir = mkdtempSync(join(tmpdir(), 'tollgate-scale-'));
const logs = [];
const logsOf = () => logs.join('');
let restarts = 0;
const persist = join(dir, 'state');
let dev;
const stop = async () => {
  if (dev && dev.exitCode === null) {
    const exited = new Promise((r) => dev.once('exit', r));
    try { process.kill(-dev.pid, 'SIGTERM'); } catch { /* gone */ }
    await Promise.race([exited, sleep(8000)]);
    try { process.kill(-dev.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  rmSync(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => { stop().then(() => process.exit(130)); });

try {
  const port = await freePort();
  const inspector = await freePort();
  // The control plane as built (it hosts the AccountGuard class), without its secret and
  // without a build step: `wrangler dev` then watches only the built module, so editing the
  // sources during a run does not restart the guard under it.
  const control = join(dir, 'control.toml');
  writeFileSync(control, [
    'name = "tollgate-control"',
    `main = "${join(ROOT, 'build/control/worker/shim.mjs')}"`,
    'compatibility_date = "2026-04-01"',
    '[[durable_objects.bindings]]',
    'name = "ACCOUNT_GUARD"',
    'class_name = "AccountGuard"',
    '[[migrations]]',
    'tag = "v1"',
    'new_sqlite_classes = ["AccountGuard"]',
    '',
  ].join('\n'));
  dev = spawn(join(ROOT, 'node_modules/.bin/wrangler'), ['dev', '-c', 'bench/scale/wrangler.toml', '-c', control, '--ip', '127.0.0.1',
    '--port', String(port), '--inspector-port', String(inspector), '--persist-to', persist, '--show-interactive-dev-session=false',
  ], {
    cwd: ROOT,
    env: { ...process.env, TOLLGATE_PREBUILT: '1', WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout.on('data', (d) => logs.push(String(d)));
  dev.stderr.on('data', (d) => logs.push(String(d)));
  const base = `http://127.0.0.1:${port}`;
  // A batch the local runtime restarted under is sent again (its ids again: repeats are not
  // distinct, so the day's distinct count is unchanged); the restarts are counted in the result.
  const post = async (path, body) => {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(1_800_000) });
      const text = await res.text();
      if (text.startsWith('Your worker restarted mid-request') && attempt < 4) {
        restarts += 1;
        say(`  the local runtime restarted mid-batch; sending the batch again`);
        continue;
      }
      let out;
      try { out = JSON.parse(text); } catch { throw new Error(`${path}: ${res.status} ${text.slice(0, 300)}`); }
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(out)}`);
      return out;
    }
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (dev.exitCode !== null) throw new Error(`wrangler dev exited:\n${logs.join('')}`);
    try { await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) }); break; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`wrangler dev did not start:\n${logs.join('')}`);
    await sleep(250);
  }
  const account = `scale-${Date.now()}`;
  const charge = roomy('scale-app');
  const day = new Date().toISOString().slice(0, 10);

  // Phase 1: distinct items.
  const requests = Math.ceil(ITEMS / IDS_PER_REQUEST);
  const batches = [];
  const bytes0 = 0;
  say(`phase 1: ${requests.toLocaleString()} requests of ${IDS_PER_REQUEST} new items (${(requests * IDS_PER_REQUEST).toLocaleString()} distinct items), batches of ${BATCH_REQUESTS}, ${CONCURRENCY} in flight`);
  for (let done = 0; done < requests; done += BATCH_REQUESTS) {
    const count = Math.min(BATCH_REQUESTS, requests - done);
    const r = await post('/drive', { account, charge, kind: 'request', count, ids: IDS_PER_REQUEST, first_id: 1e12 + done * IDS_PER_REQUEST, concurrency: CONCURRENCY });
    const perRequest = r.ms / count;
    batches.push({ after_items: (done + count) * IDS_PER_REQUEST, guard_ms_per_request: perRequest, p50_ms: r.per_request_ms.p50 });
    if (batches.length === 1 || batches.length % 4 === 0 || done + count >= requests) {
      say(`  ${((done + count) * IDS_PER_REQUEST).toLocaleString()} items: ${perRequest.toFixed(3)} ms of guard time per request (charge + delivery)`);
    }
  }
  const bytesAfterItems = dbBytes(persist);
  const usage = await post('/command', { account, command: { usage: { from: Math.floor(Date.now() / 86_400_000), to: Math.floor(Date.now() / 86_400_000) } } });
  const distinct = usage.usage.rows.reduce((n, r) => n + r.distinct_items, 0);

  // Phase 2: refusals.
  await post('/drive', { account, charge: full, kind: 'request', count: 1, ids: 1, first_id: 1 });
  const refusalBatches = [];
  say(`phase 2: ${REFUSALS.toLocaleString()} refusals, batches of ${BATCH_REFUSALS}`);
  const auditBefore = (await post('/command', { account, command: 'report' })).report.audit_entries;
  for (let done = 0; done < REFUSALS; done += BATCH_REFUSALS) {
    const count = Math.min(BATCH_REFUSALS, REFUSALS - done);
    const r = await post('/drive', { account, refused_charge: full, kind: 'refusal', count, concurrency: CONCURRENCY });
    refusalBatches.push({ after: done + count, guard_ms_per_refusal: r.ms / count });
    if (refusalBatches.length === 1 || refusalBatches.length % 40 === 0 || done + count >= REFUSALS) {
      say(`  ${(done + count).toLocaleString()} refusals: ${(r.ms / count).toFixed(3)} ms of guard time per refusal`);
    }
  }
  const report = (await post('/command', { account, command: 'report' })).report;

  // Phase 3: lease renewals at full pages, into the same day's de-dup set.
  const leaseBatches = [];
  say(`phase 3: ${LEASES.toLocaleString()} lease renewals under the API's plan, each with the report of ${LEASE_UNITS} requests and `
    + `${(LEASE_UNITS * IDS_PER_REQUEST).toLocaleString()} new ids (${(LEASES * LEASE_UNITS * IDS_PER_REQUEST).toLocaleString()} distinct items), batches of ${BATCH_LEASES}, ${CONCURRENCY} isolates`);
  let leaseReports = 0;
  for (let done = 0; done < LEASES; done += BATCH_LEASES) {
    const count = Math.min(BATCH_LEASES, LEASES - done);
    // Each batch's reports use ids of their own: every one is new to the day.
    const r = await post('/drive', {
      account, charge: leased, kind: 'lease', count, units: LEASE_UNITS, ids: IDS_PER_REQUEST,
      first_id: 3e12 + leaseBatches.length * (BATCH_LEASES + CONCURRENCY) * LEASE_UNITS * IDS_PER_REQUEST, concurrency: CONCURRENCY, run: `scale-${done}`,
    });
    // Every report (a renewal's, or an isolate's last settlement) is a lease's worth of work.
    leaseReports += r.reports;
    leaseBatches.push({ after_calls: done + count, reports: r.reports, guard_ms_per_lease: r.ms / r.reports });
    if (leaseBatches.length === 1 || leaseBatches.length % 5 === 0 || done + count >= LEASES) {
      say(`  ${(done + count).toLocaleString()} leases: ${(r.ms / r.reports).toFixed(2)} ms of guard time per renewal (${LEASE_UNITS} requests, ${(LEASE_UNITS * IDS_PER_REQUEST).toLocaleString()} ids)`);
    }
  }
  const leaseUsage = await post('/command', { account, command: { usage: { from: Math.floor(Date.now() / 86_400_000), to: Math.floor(Date.now() / 86_400_000) } } });
  const leaseDistinct = leaseUsage.usage.rows.filter((r) => r.app === leased.app).reduce((n, r) => n + r.distinct_items, 0);
  const bytesEnd = dbBytes(persist);

  // The first batch warms the object up (module compiled, SQLite opened). The start is the
  // median of the first tenth of the other batches (at least three), the end the median of the
  // last tenth: medians, so that a moment of load from elsewhere on the machine does not pass
  // for growth.
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const tenth = (xs) => Math.max(3, Math.ceil(xs.length / 10));
  const steady = batches.length > 4 ? batches.slice(1) : batches;
  const first = { guard_ms_per_request: median(steady.slice(0, tenth(steady)).map((b) => b.guard_ms_per_request)) };
  const last = { guard_ms_per_request: median(steady.slice(-tenth(steady)).map((b) => b.guard_ms_per_request)) };
  const bytesPerItem = (bytesAfterItems - bytes0) / Math.max(distinct, 1);
  const leaseSteady = leaseBatches.length > 4 ? leaseBatches.slice(1) : leaseBatches;
  const leaseMs = {
    start: median(leaseSteady.slice(0, tenth(leaseSteady)).map((b) => b.guard_ms_per_lease)),
    end: median(leaseSteady.slice(-tenth(leaseSteady)).map((b) => b.guard_ms_per_lease)),
  };
  const leaseCallsPerSecond = 1000 / leaseMs.end;
  const seenTwoDays = bytesPerItem * CUSTOMER.items_per_day * 2;
  const result = {
    at: new Date().toISOString(),
    day,
    runtime_restarts: restarts,
    items: { requested: requests * IDS_PER_REQUEST, distinct_recorded: distinct },
    guard_ms_per_request: { start: first.guard_ms_per_request, end: last.guard_ms_per_request, ratio: last.guard_ms_per_request / first.guard_ms_per_request },
    guard_calls_per_second: 2 / (last.guard_ms_per_request / 1000),
    refusals: {
      count: REFUSALS,
      guard_ms_per_refusal: {
        start: median(refusalBatches.slice(0, tenth(refusalBatches)).map((b) => b.guard_ms_per_refusal)),
        end: median(refusalBatches.slice(-tenth(refusalBatches)).map((b) => b.guard_ms_per_refusal)),
      },
      audit_entries_before: auditBefore,
      audit_entries_after: report.audit_entries,
    },
    leases: {
      count: LEASES,
      requests_per_lease: LEASE_UNITS,
      ids_per_lease: LEASE_UNITS * IDS_PER_REQUEST,
      reports: leaseReports,
      ids_reported: leaseReports * LEASE_UNITS * IDS_PER_REQUEST,
      distinct_recorded: leaseDistinct,
      guard_ms_per_lease: { ...leaseMs, ratio: leaseMs.end / leaseMs.start },
      guard_calls_per_second: leaseCallsPerSecond,
    },
    storage_bytes: { after_items: bytesAfterItems, at_end: bytesEnd, per_distinct_item: bytesPerItem },
    projection: {
      customer: CUSTOMER,
      seen_set_two_days_bytes: seenTwoDays,
      within_object_limit: seenTwoDays < OBJECT_LIMIT_BYTES,
      account_peak_requests_per_second_carried: 1000 / last.guard_ms_per_request,
      customer_peak_requests_per_second: (CUSTOMER.calls_per_year / (365 * 86_400)) * CUSTOMER.peak_factor,
      goal: GOAL,
      // Lease mode at full pages: one guard call per 50 requests and 5,000 ids.
      leased: {
        guard_calls_per_request: 1 / LEASE_UNITS,
        account_peak_requests_per_second_carried: leaseCallsPerSecond * LEASE_UNITS,
        dedup_ids_per_second_inserted: leaseCallsPerSecond * LEASE_UNITS * IDS_PER_REQUEST,
        meets_goal: leaseCallsPerSecond * LEASE_UNITS >= GOAL.requests_per_second
          && leaseCallsPerSecond * LEASE_UNITS * IDS_PER_REQUEST >= GOAL.items_per_second,
      },
    },
    batches,
    refusal_batches: refusalBatches,
    lease_batches: leaseBatches,
  };
  writeFileSync(join(ROOT, 'bench/scale.json'), JSON.stringify(result, null, 2) + '\n');
  const p = result.projection;
  say('');
  say(`distinct items recorded: ${distinct.toLocaleString()} (of ${(requests * IDS_PER_REQUEST).toLocaleString()} sent)`);
  say(`guard time per request: ${first.guard_ms_per_request.toFixed(3)} ms at the start, ${last.guard_ms_per_request.toFixed(3)} ms at the end: ratio ${result.guard_ms_per_request.ratio.toFixed(2)} (goal <= 1.2)`);
  say(`refusals: ${REFUSALS.toLocaleString()}; audit entries ${auditBefore} before, ${report.audit_entries} after; ${result.refusals.guard_ms_per_refusal.start.toFixed(3)} -> ${result.refusals.guard_ms_per_refusal.end.toFixed(3)} ms each`);
  say(`storage: ${(bytesEnd / 1e6).toFixed(1)} MB at the end; ${bytesPerItem.toFixed(1)} bytes per distinct item in the day's de-dup set`);
  say(`projection: the largest customer's ${Math.round(CUSTOMER.items_per_day / 1e6)} M items a day need ${(seenTwoDays / 1e9).toFixed(2)} GB of de-dup set (today and yesterday) in one object: ${p.within_object_limit ? 'within' : 'OVER'} 10 GB`);
  say(`one guard carries about ${Math.round(p.account_peak_requests_per_second_carried)} requests/s of this plan locally (2 guard calls each); the customer's peak is about ${Math.round(p.customer_peak_requests_per_second)}/s`);
  const l = p.leased;
  say(`lease mode (the API's plan at full pages): ${leaseMs.start.toFixed(2)} -> ${leaseMs.end.toFixed(2)} ms of guard time per renewal; `
    + `${leaseDistinct.toLocaleString()} distinct items recorded of ${(leaseReports * LEASE_UNITS * IDS_PER_REQUEST).toLocaleString()} reported`);
  say(`one guard carries about ${Math.round(l.account_peak_requests_per_second_carried).toLocaleString()} requests/s of this plan in lease mode `
    + `(${Math.round(leaseCallsPerSecond)} guard calls/s × ${LEASE_UNITS} requests each) and inserts ${Math.round(l.dedup_ids_per_second_inserted).toLocaleString()} de-dup ids/s; `
    + `ten times the customer's peak is ${GOAL.requests_per_second.toLocaleString()} requests/s and ${GOAL.items_per_second.toLocaleString()} items/s: ${l.meets_goal ? 'carried' : 'NOT carried'}`);
  say('wrote bench/scale.json');
} catch (e) {
  say(`failed: ${e.message}`);
  say(`wrangler's last lines:\n${logsOf().split('\n').slice(-40).join('\n')}`);
  process.exitCode = 1;
} finally {
  await stop();
}
