// What every view shares: the polite status line and navigation.
import { fill, h } from './dom.js';

const statusEl = document.getElementById('status');
let statusTimer;

/** A short success message in the live region at the top of the page. */
export function announce(text) {
  clearTimeout(statusTimer);
  fill(statusEl, h('p', null, text));
  statusEl.classList.add('shown');
  statusTimer = setTimeout(clearStatus, 10_000);
}

export function clearStatus() {
  clearTimeout(statusTimer);
  statusEl.classList.remove('shown');
  fill(statusEl);
}

let pending = null;

/**
 * Goes to a console route (`/accounts/acme/tokens`), rendering it again if already there, and
 * announces `message` once the new page is up.
 */
export function navigate(path, message = null) {
  pending = message;
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = path;
}

/** The message a navigation left for the page it led to. */
export function takePending() {
  const m = pending;
  pending = null;
  return m;
}

/** The page title and its h1 (focusable, so navigation can move focus to it). */
export function heading(text, ...extra) {
  document.title = `${text} · Tollgate console`;
  return h('h1', { tabindex: '-1' }, text, ...extra);
}

/** What a role that may not change something sees in its place. */
export function readOnly(what) {
  return h('p', { class: 'read-only' }, `Your role reads only here: ${what}`);
}
