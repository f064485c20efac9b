// The scale driver: sends the enforcer's own guard commands, as the edge sends them, straight to
// one account's AccountGuard, as fast as the object answers, and times each call. It runs inside
// workerd beside the enforcer, so HTTP and wrangler's proxy are out of the figures.
//
// POST /drive {account, calls: [{kind, count, ...}], concurrency}
//   kind "request": per request, a charge (strict) then a delivery of `ids` new item ids,
//                   numbered from `first_id`
//   kind "refusal": a charge against a token whose window is full
// Answers {calls, ms, per_request_ms: {p50, mean}} for the batch.
// POST /command {account, command}: one command, its reply.

const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

async function call(stub, command) {
  const res = await stub.fetch('https://account-guard/', { method: 'POST', body: JSON.stringify(command), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`guard answered ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/command') {
      // One command as it is, for the run's own reads (report, usage).
      const { account, command } = await request.json();
      const stub = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(account));
      return json(await call(stub, command));
    }
    if (request.method !== 'POST' || url.pathname !== '/drive') return json({ error: 'POST /drive or /command' }, 404);
    const { account, charge, refused_charge: refusedCharge, kind, count, ids, first_id: firstId, concurrency = 8 } = await request.json();
    const stub = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(account));
    const times = [];
    let next = 0;
    let refusals = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        if (kind === 'request') {
          const verdict = await call(stub, { charge });
          if (!verdict.verdict?.allow) throw new Error(`charge refused: ${JSON.stringify(verdict).slice(0, 200)}`);
          const base = firstId + i * ids;
          const delivered = { items: ids, ids: Array.from({ length: ids }, (_, k) => String(base + k)), untracked: 0, bytes: ids * 500 };
          await call(stub, { delivered: { app: charge.app, group: charge.group, delivered } });
        } else {
          const verdict = await call(stub, { charge: refusedCharge });
          if (verdict.verdict?.allow) throw new Error('a charge meant to be refused was allowed');
          refusals += 1;
        }
        times.push(performance.now() - t0);
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } catch (e) {
      return json({ error: String(e) }, 500);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / Math.max(times.length, 1);
    return json({ calls: times.length, refusals, ms: Date.now() - started, per_request_ms: { p50: sorted[Math.floor(sorted.length / 2)] ?? 0, mean } });
  },
};
