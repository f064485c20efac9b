// The admin API client. Behind Cloudflare Access the browser's own requests carry the sign-in
// (the CF_Authorization cookie, or the header Access adds), and the console holds nothing. An
// admin key or the break-glass secret typed into the sign-in form lives in this tab's
// sessionStorage and nowhere else: not in the URL (routes are in the fragment and never carry
// it), not in localStorage, not in a cookie. Every error the API returns is an RFC 9457
// problem; it becomes an ApiError that the views show as it is, with a hint of what to do.
import { h } from './dom.js';

export const BASE = '/_tollgate/admin/v1/';
const KEY = 'tollgate.console.adminSecret';
const TIMEOUT_MS = 30_000;

/** The admin key or break-glass secret typed in this tab, if any. */
export const session = {
  get: () => sessionStorage.getItem(KEY),
  set: (secret) => sessionStorage.setItem(KEY, secret),
  clear: () => sessionStorage.removeItem(KEY),
};

/** Who is signed in (`GET whoami`): id, role, via, permissions. */
let me = null;
export const identity = {
  get: () => me,
  set: (who) => { me = who; },
  clear: () => { me = null; },
};
/** Whether the signed-in role has a permission: `read`, `operate` or `own`. */
export const can = (permission) => Boolean(me?.permissions?.includes(permission));

export class ApiError extends Error {
  constructor({ status = 0, title, detail = '', type = '', retryAfter = null }) {
    super(`${title}: ${detail}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = type;
    this.retryAfter = retryAfter;
  }
}

let onUnauthorized = () => {};
/** Called when a signed-in request is refused with 401: the secret is no longer valid. */
export const setUnauthorizedHandler = (fn) => { onUnauthorized = fn; };

async function problemOf(res) {
  const retryAfter = res.headers.get('retry-after');
  const text = await res.text().catch(() => '');
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  if (body && typeof body === 'object' && (body.title || body.detail)) {
    return new ApiError({
      status: typeof body.status === 'number' ? body.status : res.status,
      title: String(body.title || res.statusText || 'Error'),
      detail: String(body.detail || ''),
      type: String(body.type || ''),
      retryAfter,
    });
  }
  return new ApiError({
    status: res.status,
    title: res.statusText || `HTTP ${res.status}`,
    detail: text ? text.slice(0, 300) : 'The admin API answered without a problem description.',
    retryAfter,
  });
}

/**
 * One admin API call. `route` is relative to the API base (`accounts/acme`). `body` is sent as
 * JSON (a string is sent as it is: the plan editor sends exactly what the admin wrote).
 * Returns the parsed JSON, or the Response itself with `{ raw: true }`.
 */
export async function api(method, route, body, { secret = session.get(), raw = false, signIn = false } = {}) {
  const headers = { accept: 'application/json, application/problem+json, text/csv' };
  // Without a typed credential, the browser's Access sign-in (its cookie) is the credential.
  if (secret) headers.authorization = `Bearer ${secret}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(BASE + route, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    throw new ApiError({
      title: 'The admin API could not be reached',
      detail: e?.name === 'TimeoutError'
        ? `No answer within ${TIMEOUT_MS / 1000} seconds.`
        : 'The request did not reach the worker. Check that it is running and that this computer is online.',
    });
  }
  if (!res.ok) {
    const err = await problemOf(res);
    if (res.status === 401 && !signIn) onUnauthorized(err);
    throw err;
  }
  if (raw) return res;
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError({ status: res.status, title: 'Unexpected answer', detail: 'The admin API answered with something that is not JSON.' });
  }
}

const HINTS = {
  0: '',
  400: 'Nothing was written. Correct what the detail points to and try again.',
  401: 'Sign in again: through Cloudflare Access, or with an admin key.',
  403: 'Your role does not allow this. An owner can change roles.',
  404: 'It may have been removed, or the id is mistyped.',
  409: 'The stored record conflicts with this change.',
  413: 'The body is over the 256 KiB limit.',
  429: 'Too many failed attempts from this client.',
  503: 'KV or the account’s guard did not answer. Nothing may have been written; try again shortly.',
};

/** The words of an error, for a message or a test. */
export function describe(err) {
  if (!(err instanceof ApiError)) return { head: 'Something went wrong in the console', detail: String(err?.message ?? err), hint: '' };
  const head = err.status ? `${err.title} (${err.status})` : err.title;
  let hint = HINTS[err.status] ?? (err.status >= 500 ? 'The worker could not complete the request; try again shortly.' : '');
  if (err.status === 429 && err.retryAfter) hint = `${hint} Try again in ${err.retryAfter} seconds.`;
  return { head, detail: err.detail, hint };
}

/** An error as an alert box. */
export function errorBox(err) {
  const { head, detail, hint } = describe(err);
  return h('div', { class: 'error', role: 'alert' },
    h('p', { class: 'error-head' }, head),
    detail ? h('p', { class: 'error-detail' }, detail) : null,
    hint ? h('p', { class: 'hint' }, hint) : null);
}
