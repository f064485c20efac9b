// `make load`: sustained mixed traffic at Tollgate on loopback for a bounded time (LOAD_SECONDS,
// default 30, at most 600), then the checks: no 5xx from Tollgate's own code, the ledger equals
// the origin's count exactly, and throttling stayed exact. Prints the figures; exits 1 if a
// check fails.
import { demoToken, newToken, startStack, tokenHash } from '../tests/harness.mjs';

const SECONDS = Math.min(Number(process.env.LOAD_SECONDS ?? 30), 600);
const CONCURRENCY = Math.min(Number(process.env.LOAD_CONCURRENCY ?? 16), 64);
const POOLED = 150; // the throttled account's pooled limit for the whole run

const throttled = [newToken(), newToken(), newToken()];
// Valid traffic goes to an account without limits (the demo's acme has the API's 450 searches
// per 15 minutes, which a run at full speed would reach).
const free = newToken();
const entries = [
  {
    key: 'tollgate:v1:plan:load-free',
    value: JSON.stringify({
      v: 1, id: 'load-free',
      endpoints: [
        { method: 'GET', path: '/2/tweets/:id', group: 'lookup' },
        { method: 'GET', path: '/2/tweets', group: 'lookup' },
        { method: 'GET', path: '/2/tweets/search/recent', group: 'search' },
      ],
    }),
  },
  {
    key: 'tollgate:v1:account:loadfree',
    value: JSON.stringify({ v: 1, id: 'loadfree', name: 'Load Free', plan: 'load-free', status: 'active', use_cases: [{ id: 'load', status: 'approved' }] }),
  },
  {
    key: `tollgate:v1:token:${tokenHash(free)}`,
    value: JSON.stringify({ v: 1, account: 'loadfree', app: 'load-free-app', status: 'active', use_case: 'load' }),
  },
  {
    key: 'tollgate:v1:plan:load-throttled',
    value: JSON.stringify({
      v: 1, id: 'load-throttled',
      endpoints: [{ method: 'GET', path: '/2/tweets/:id', group: 'lookup' }],
      limits: [
        { group: 'lookup', scope: 'app', requests: 60, window_seconds: 2678400 },
        { group: 'lookup', scope: 'account', requests: POOLED, window_seconds: 2678400 },
      ],
    }),
  },
  {
    key: 'tollgate:v1:account:loadco',
    value: JSON.stringify({ v: 1, id: 'loadco', name: 'Load Co', plan: 'load-throttled', status: 'active', use_cases: [{ id: 'load', status: 'approved' }] }),
  },
  ...throttled.map((t, i) => ({
    key: `tollgate:v1:token:${tokenHash(t)}`,
    value: JSON.stringify({ v: 1, account: 'loadco', app: `load-app-${i}`, status: 'active', use_case: 'load' }),
  })),
];

// Each kind of traffic, with the statuses its documented answer allows.
const kinds = [
  { name: 'valid', weight: 4, ok: [200], req: (i) => [['/2/tweets/20', '/2/tweets?ids=1,2,3', '/2/tweets/search/recent?query=load'][i % 3], free] },
  { name: 'throttled', weight: 3, ok: [200, 429], req: (i) => [`/2/tweets/${100 + (i % 50)}`, throttled[i % 3]] },
  { name: 'refused', weight: 2, ok: [401, 403], req: (i) => [['/2/tweets/20', '/2/tweets/search/recent?query=x', '/2/tweets/20'][i % 3], [newToken(), demoToken('globex-lookup'), demoToken('acme-retired')][i % 3]] },
  { name: 'hostile', weight: 1, ok: [400, 401, 414], req: (i) => [['/2/tweets/1%2F..%2Fsearch', `/2/tweets/20?q=${'x'.repeat(9000)}`, '/2/tweets/20'][i % 3], i % 3 === 2 ? 'tg_garbage' : demoToken('acme-search')] },
];
const schedule = kinds.flatMap((k) => Array(k.weight).fill(k));

const stack = await startStack({ entries });
let failed = false;
try {
  const counts = Object.fromEntries(kinds.map((k) => [k.name, { sent: 0, byStatus: {} }]));
  const unexpected = [];
  let n = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      const i = n++;
      const kind = schedule[i % schedule.length];
      const [path, token] = kind.req(i);
      let status;
      try {
        const res = await stack.call(path, { token });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        status = 0;
      }
      const c = counts[kind.name];
      c.sent += 1;
      c.byStatus[status] = (c.byStatus[status] ?? 0) + 1;
      if (!kind.ok.includes(status)) unexpected.push(`${kind.name} ${path.slice(0, 60)} -> ${status}`);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 2000)); // ledger lines written just after responses

  const origin = await stack.originStats();
  let ledgerForwarded = 0;
  let ledgerItems = 0;
  for (const account of ['acme', 'globex', 'loadco', 'loadfree']) {
    const t = (await (await stack.admin('GET', `accounts/${account}/usage`)).json()).totals;
    ledgerForwarded += t.forwarded;
    ledgerItems += t.items;
  }
  const throttledServed = counts.throttled.byStatus[200] ?? 0;
  const total = Object.values(counts).reduce((a, c) => a + c.sent, 0);
  const fivexx = Object.values(counts).reduce((a, c) => a + Object.entries(c.byStatus).filter(([s]) => Number(s) >= 500).reduce((x, [, v]) => x + v, 0), 0);

  console.log(`\nTollgate load: ${total} requests in ${elapsed.toFixed(1)} s (${(total / elapsed).toFixed(0)} req/s), concurrency ${CONCURRENCY}\n`);
  console.log('traffic    | sent   | by status');
  for (const [name, c] of Object.entries(counts)) {
    console.log(`${name.padEnd(10)} | ${String(c.sent).padEnd(6)} | ${Object.entries(c.byStatus).map(([s, v]) => `${s}: ${v}`).join(', ')}`);
  }
  const checks = [
    ['no 5xx from Tollgate', fivexx === 0, `${fivexx}`],
    ['every answer as documented', unexpected.length === 0, `${unexpected.length} unexpected`],
    ['ledger forwarded = origin served', ledgerForwarded === origin.served, `${ledgerForwarded} = ${origin.served}`],
    ['ledger items = origin items', ledgerItems === origin.items, `${ledgerItems} = ${origin.items}`],
    ['throttled account served exactly its pooled limit', throttledServed === Math.min(POOLED, counts.throttled.sent), `${throttledServed} of limit ${POOLED}`],
  ];
  console.log('\ncheck                                              | result | figures');
  for (const [name, pass, fig] of checks) {
    console.log(`${name.padEnd(50)} | ${pass ? 'pass' : 'FAIL'}   | ${fig}`);
    if (!pass) failed = true;
  }
  if (unexpected.length) console.log(`\nfirst unexpected: ${unexpected.slice(0, 5).join('; ')}`);
} finally {
  await stack.stop();
}
process.exit(failed ? 1 : 0);
