// The scale driver: sends the enforcer's own guard commands, as the edge sends them, straight to
// one account's AccountGuard, as fast as the object answers, and times each call. It runs inside
// workerd beside the enforcer, so HTTP and wrangler's proxy are out of the figures.
//
// POST /drive {account, calls: [{kind, count, ...}], concurrency}
//   kind "request": per request, a charge (strict) then a delivery of `ids` new item ids,
//                   numbered from `first_id`
//   kind "refusal": a charge against a token whose window is full
//   kind "lease":   per call, what one isolate sends under a lease-mode plan at full pages: a
//                   lease of `units` (50), carrying the report of its previous lease: `units`
//                   requests served, each delivering `ids` new item ids (numbered from
//                   `first_id`), its slice of the month and its recipient ids given back. Each of
//                   the `concurrency` drivers is one such isolate.
// Answers {calls, reports, ms, per_request_ms: {p50, mean}} for the batch.
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
    const { account, charge, refused_charge: refusedCharge, kind, count, ids, first_id: firstId, concurrency = 8, units = 50, run = 'scale' } = await request.json();
    const stub = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(account));
    const times = [];
    let next = 0;
    let refusals = 0;
    const started = Date.now();
    const worker = async (_, driver) => {
      // An isolate under a lease-mode plan: the lease it holds, and the report it will carry.
      let held = null;
      const lease = async (reports) => {
        const verdict = await call(stub, { lease: { charge, want: units, reports } });
        const allow = verdict.verdict?.allow;
        if (!allow) throw new Error(`lease refused: ${JSON.stringify(verdict).slice(0, 200)}`);
        return allow;
      };
      // What the isolate served from a lease: every unit, a page of new ids each.
      const report = (allow, i) => {
        const delivered = allow.granted * ids;
        const base = firstId + i * units * ids;
        return {
          id: `${run}/${driver}#${i}`,
          charge,
          granted_at: Date.now(),
          granted: allow.granted,
          used: allow.granted,
          deliveries: { items: delivered, ids: Array.from({ length: delivered }, (_, k) => String(base + k)), untracked: 0, bytes: delivered * 500 },
          items: allow.items,
          ids: allow.allowance ? { ...allow.allowance, ids: Math.max(0, allow.allowance.ids - delivered) } : undefined,
        };
      };
      if (kind === 'lease') held = await lease([]);
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        if (kind === 'lease') {
          // The renewal carries the report of the lease before it, as an isolate's does.
          held = await lease([report(held, i)]);
        } else if (kind === 'request') {
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
      // The last lease's report, untimed, so the ledger holds everything the isolate served.
      if (held) await call(stub, { settle: { reports: [report(held, count + driver)] } });
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, (_, driver) => worker(null, driver)));
    } catch (e) {
      return json({ error: String(e) }, 500);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / Math.max(times.length, 1);
    // Leases: the renewals and each isolate's last settlement carry one report each.
    const reports = kind === 'lease' ? times.length + concurrency : 0;
    return json({ calls: times.length, reports, refusals, ms: Date.now() - started, per_request_ms: { p50: sorted[Math.floor(sorted.length / 2)] ?? 0, mean } });
  },
};
