// Pass-through baseline for `make bench`: forwards every request to ORIGIN_URL with the client's
// Authorization removed and the signed context header the origin requires added, and nothing else
// (no token check, no entitlement, no guard, no rate-limit headers). It runs in the same runtime
// as Tollgate (`wrangler dev`, workerd) against the same origin, so the throughput ratio isolates
// what Tollgate itself costs.
//
// The header is the one src/domain/context.rs builds:
//   x-tollgate-context: v2;t=<unix seconds>;account=<id>;app=<id>;client=<address>;sig=<hex>
//   sig = HMAC-SHA256(CONTEXT_SIGNING_KEY, "v1\n<t>\n<METHOD>\n<path?query>\n<account>\n<app>")
// The account and app are fixed (BASELINE_ACCOUNT, BASELINE_APP): a baseline knows no tokens.

const encoder = new TextEncoder();
// The key is imported once per isolate (and again only if the secret changes).
let keyPromise;
let keyText;

function signingKey(text) {
  if (!keyPromise || keyText !== text) {
    keyText = text;
    keyPromise = crypto.subtle.importKey('raw', encoder.encode(text), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  }
  return keyPromise;
}

function hex(buffer) {
  const bytes = new Uint8Array(buffer);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, '0');
  return out;
}

export default {
  async fetch(request, env) {
    if (!env.CONTEXT_SIGNING_KEY || !env.ORIGIN_URL) {
      return new Response('baseline: ORIGIN_URL and CONTEXT_SIGNING_KEY must be set\n', { status: 500 });
    }
    const url = new URL(request.url);
    const pathAndQuery = url.pathname + url.search;
    const t = Math.floor(Date.now() / 1000);
    const account = env.BASELINE_ACCOUNT;
    const app = env.BASELINE_APP;
    const client = request.headers.get('cf-connecting-ip') ?? 'unknown';
    const message = `v2\n${t}\n${request.method}\n${pathAndQuery}\n${account}\n${app}\n${client}`;
    const sig = hex(await crypto.subtle.sign('HMAC', await signingKey(env.CONTEXT_SIGNING_KEY), encoder.encode(message)));

    const headers = new Headers(request.headers);
    headers.delete('authorization');
    headers.set('x-tollgate-context', `v2;t=${t};account=${account};app=${app};client=${client};sig=${sig}`);
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    return fetch(env.ORIGIN_URL + pathAndQuery, {
      method: request.method,
      headers,
      body: hasBody ? request.body : undefined,
      redirect: 'manual',
    });
  },
};
