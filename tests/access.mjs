// A stand-in for a Cloudflare Access team in tests: real RS256 key pairs made with node:crypto,
// their public halves served as a JSON Web Key Set by a small server on loopback (as Access
// serves https://<team>.cloudflareaccess.com/cdn-cgi/access/certs), and application tokens
// signed with them, good or deliberately bad.
import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';

export const TEAM = 'https://tollgate-test.cloudflareaccess.com';
export const AUD = randomBytes(32).toString('hex');

const b64url = (data) => Buffer.from(data).toString('base64url');

/** A new signing key: its id, private key and public JWK. */
export function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(16).toString('hex');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicKey, jwk };
}

/** The claims Access puts in an application token, for `who` (an email or a service token). */
export function claims(who, { now = Math.floor(Date.now() / 1000), ttl = 600, ...extra } = {}) {
  const base = { aud: [AUD], iss: TEAM, iat: now, nbf: now, exp: now + ttl, type: 'app', identity_nonce: 'n', country: 'XX' };
  const identity = who.endsWith('.access') ? { common_name: who, sub: '' } : { email: who, sub: randomBytes(8).toString('hex') };
  return { ...base, ...identity, ...extra };
}

/** A compact RS256 JWS over `payload` with `key` (header fields can be overridden). */
export function signToken(key, payload, header = {}) {
  const head = b64url(JSON.stringify({ alg: 'RS256', kid: key.kid, typ: 'JWT', ...header }));
  const body = b64url(JSON.stringify(payload));
  const signature = sign('sha256', Buffer.from(`${head}.${body}`), key.privateKey);
  return `${head}.${body}.${b64url(signature)}`;
}

/** The classic confusion: an HS256 token whose HMAC secret is the RS256 public key. */
export function hs256WithPublicKey(key, payload) {
  const head = b64url(JSON.stringify({ alg: 'HS256', kid: key.kid, typ: 'JWT' }));
  const body = b64url(JSON.stringify(payload));
  const secret = key.publicKey.export({ format: 'pem', type: 'spki' });
  return `${head}.${body}.${b64url(createHmac('sha256', secret).update(`${head}.${body}`).digest())}`;
}

/** An unsigned token (`alg: none`). */
export function unsigned(kid, payload) {
  return `${b64url(JSON.stringify({ alg: 'none', kid, typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.`;
}

/**
 * The team's key server: `keys` is the set it publishes (change it to rotate), `down` makes it
 * answer 503, `fetches` counts the requests for the set.
 */
export async function startKeyServer(initial) {
  const state = { keys: [...initial], down: false, fetches: 0 };
  const server = createServer((req, res) => {
    if (req.url !== '/cdn-cgi/access/certs') {
      res.writeHead(404).end();
      return;
    }
    state.fetches++;
    if (state.down) {
      res.writeHead(503).end('down');
      return;
    }
    const keys = state.keys.map((k) => k.jwk);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys, public_cert: { kid: keys[0]?.kid, cert: '' }, public_certs: [] }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    state,
    url: `http://127.0.0.1:${port}/cdn-cgi/access/certs`,
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
