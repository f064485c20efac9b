// The Tollgate admin console: a static page that talks only to the admin API of the worker that
// serves it. Routes live in the URL fragment (#/accounts/acme/usage), so no route ever reaches a
// server and the admin secret is never part of a URL.
import 'uplot/dist/uPlot.min.css';
import './style.css';

import { api, errorBox, session, setUnauthorizedHandler } from './api.js';
import { field, fill, h, onSubmit } from './dom.js';
import { accountsView, accountView } from './accounts.js';
import { fleetView } from './fleet.js';
import { announce, clearStatus, navigate, takePending } from './ui.js';
import { planAuditView, plansView, planView } from './plans.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOutButton = document.getElementById('sign-out');

let generation = 0;
let cleanups = [];
const ROUTES = [
  [/^\/accounts$/, () => accountsView],
  [/^\/accounts\/([^/]+)$/, (m) => (ctx) => accountView(ctx, m[1], 'overview')],
  [/^\/accounts\/([^/]+)\/(tokens|usage|audit|events|statement)(?:\/(\d{4}-\d{2}))?$/, (m) => (ctx) => accountView(ctx, m[1], m[2], m[3])],
  [/^\/plans$/, () => plansView],
  [/^\/plans\/([^/]+)$/, (m) => (ctx) => planView(ctx, m[1])],
  [/^\/plan-audit$/, () => planAuditView],
  [/^\/fleet(?:\/([a-z_]+)\/(asc|desc))?$/, (m) => (ctx) => fleetView(ctx, m[1], m[2])],
];

function currentPath() {
  const raw = location.hash.replace(/^#/, '') || '/accounts';
  try {
    return decodeURIComponent(raw).replace(/\/+$/, '') || '/accounts';
  } catch {
    return raw;
  }
}

function setNav(path) {
  for (const a of nav.querySelectorAll('a')) {
    const target = a.getAttribute('href').slice(1);
    if (path === target || path.startsWith(`${target}/`)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Renders the route in the fragment. Views check `ctx.alive()` after every await. */
function render({ focus = false, keepStatus = false, focusId = null } = {}) {
  const gen = ++generation;
  for (const fn of cleanups) { try { fn(); } catch { /* already gone */ } }
  cleanups = [];
  if (!keepStatus) clearStatus();
  const message = takePending();
  if (message) announce(message);
  if (!session.get()) {
    signInView();
    return;
  }
  nav.hidden = false;
  signOutButton.hidden = false;
  const path = currentPath();
  setNav(path);
  fill(main);
  const ctx = {
    main,
    path,
    alive: () => gen === generation,
    onCleanup: (fn) => cleanups.push(fn),
    /** Renders this page again; `id` is the element to focus once the view has settled. */
    refresh: (id) => render({ keepStatus: true, focusId: id }),
    /** Called by a view once its content is in place. */
    settled: () => {
      if (focusId && gen === generation) document.getElementById(focusId)?.focus();
    },
  };
  let view = null;
  for (const [re, make] of ROUTES) {
    const m = path.match(re);
    if (m) { view = make(m); break; }
  }
  if (!view) {
    main.append(h('h1', { tabindex: '-1' }, 'Not found'), h('p', null, 'There is no console page at this address. ', h('a', { href: '#/accounts' }, 'Go to the accounts.')));
  } else {
    Promise.resolve(view(ctx)).catch((err) => {
      if (ctx.alive()) main.append(errorBox(err));
    });
  }
  if (focus) main.querySelector('h1')?.focus();
}

function signInView(message) {
  nav.hidden = true;
  signOutButton.hidden = true;
  document.title = 'Sign in · Tollgate console';
  const input = h('input', {
    type: 'password', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', required: true,
  });
  const msg = h('div', { class: 'msg' }, message ? errorBox(message) : null);
  // The field has no `name`: even if this form were ever submitted natively, the secret would
  // not be sent anywhere.
  const form = h('form', { class: 'card narrow', method: 'post', action: '#', novalidate: true },
    field('Admin secret', input, 'The deployment’s ADMIN_SECRET. It is kept in this browser tab only (session storage) and forgotten when the tab closes or you sign out.'),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  onSubmit(form, async () => {
    const secret = input.value.trim();
    fill(msg);
    if (!secret) {
      msg.append(h('div', { class: 'error', role: 'alert' }, h('p', { class: 'error-head' }, 'Enter the admin secret.')));
      input.focus();
      return;
    }
    try {
      // Any read proves the secret; the accounts list is the first page anyway.
      await api('GET', 'accounts', undefined, { secret, signIn: true });
    } catch (err) {
      msg.append(errorBox(err));
      input.select();
      input.focus();
      return;
    }
    input.value = '';
    session.set(secret);
    const here = currentPath();
    navigate(here === '/' ? '/accounts' : here, 'Signed in.');
  });
  fill(main,
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', { class: 'lead' }, 'The Tollgate console manages accounts, tokens, plans and usage through the admin API of this deployment.'),
    form);
  input.focus();
}

function signOut(reason) {
  session.clear();
  generation++;
  for (const fn of cleanups) { try { fn(); } catch { /* already gone */ } }
  cleanups = [];
  signInView(reason);
}

setUnauthorizedHandler((err) => {
  signOut(err);
});

signOutButton.addEventListener('click', () => {
  signOut();
  announce('Signed out. The admin secret was removed from this tab.');
});

window.addEventListener('hashchange', () => render({ focus: true }));
render();
