// A bounded closed-loop load generator: `concurrency` workers, each sending one request at a
// time over keep-alive connections (node:http, one Agent with exactly `concurrency` sockets),
// for a fixed duration and never more than `maxRequests` in all. Used by bench/run.mjs for both
// Tollgate and the baseline, with the same settings, so their figures compare. And `runBurst`:
// a fixed number of requests, as fast as `concurrency` sockets allow, spread over several tokens
// (the overshoot measurement of lease mode).
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of a sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function once(agent, target, method, headers, body, timeoutMs, path = target.pathname + target.search) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: target.hostname, port: target.port, path, method, headers },
      (res) => {
        res.on('error', reject);
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Runs the load and returns { sent, ok, statuses, errors, elapsed_s, rps, p50_ms, p90_ms, p99_ms }.
 * `rps` and the percentiles count only `expect` answers (200); the rest is in `statuses` / `errors`.
 * `pathOf(n)`, if given, is the path and query of the n-th request (else the url's).
 */
export async function runLoad({
  url, method = 'GET', headers = {}, body, expect = 200, pathOf,
  concurrency = 16, durationMs = 8000, maxRequests = 1_000_000, timeoutMs = 10_000,
}) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const latencies = [];
  const statuses = {};
  let sent = 0;
  let errors = 0;
  let lastError = null;
  const start = performance.now();
  const deadline = start + durationMs;

  const worker = async () => {
    while (performance.now() < deadline && sent < maxRequests) {
      sent += 1;
      const path = pathOf?.(sent);
      const t0 = performance.now();
      try {
        const status = await once(agent, target, method, headers, body, timeoutMs, path);
        const t1 = performance.now();
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === expect) latencies.push(t1 - t0);
      } catch (e) {
        errors += 1;
        lastError = e.message;
        // A refused connection fails at once: do not spin.
        await sleep(50);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const ok = statuses[expect] ?? 0;
  return {
    sent,
    ok,
    statuses,
    errors,
    last_error: lastError,
    elapsed_s: elapsed,
    rps: ok / elapsed,
    p50_ms: percentile(latencies, 50),
    p90_ms: percentile(latencies, 90),
    p99_ms: percentile(latencies, 99),
  };
}

/**
 * Sends exactly `total` requests over `concurrency` keep-alive sockets, request i with
 * `headerSets[i % headerSets.length]` (and the path `pathOf(i)`, if given), and returns { sent,
 * statuses, by_set, errors, last_error, elapsed_s }: `by_set[k]` is the status count of the
 * requests sent with header set k.
 */
export async function runBurst({ url, method = 'GET', headerSets, pathOf, total, concurrency = 96, timeoutMs = 30_000 }) {
  if (!headerSets?.length) throw new Error('runBurst needs at least one header set');
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const statuses = {};
  const bySet = headerSets.map(() => ({}));
  let next = 0;
  let errors = 0;
  let lastError = null;
  const start = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const k = i % headerSets.length;
      try {
        const status = await once(agent, target, method, headerSets[k], undefined, timeoutMs, pathOf?.(i));
        statuses[status] = (statuses[status] ?? 0) + 1;
        bySet[k][status] = (bySet[k][status] ?? 0) + 1;
      } catch (e) {
        errors += 1;
        lastError = e.message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { sent: next, statuses, by_set: bySet, errors, last_error: lastError, elapsed_s: elapsed };
}
