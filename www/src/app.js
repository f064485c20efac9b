// The Tollgate admin console: a static page that talks only to the admin API of the worker that
// serves it. Routes live in the URL fragment (#/accounts/acme/usage), so no route ever reaches a
// server and no credential is ever part of a URL. Who is signed in comes from `GET whoami`:
// through Cloudflare Access (the browser's own sign-in) or with an admin key typed in the tab;
// the header names them and their role, and the views offer only what the role allows.
import 'uplot/dist/uPlot.min.css';
import './style.css';

import { api, errorBox, identity, session, setUnauthorizedHandler } from './api.js';
import { field, fill, h, onSubmit } from './dom.js';
import { accountsView, accountView } from './accounts.js';
import { fleetView } from './fleet.js';
import { announce, clearStatus, navigate, takePending } from './ui.js';
import { planAuditView, plansView, planView } from './plans.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOutButton = document.getElementById('sign-out');
const who = document.getElementById('who');

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

/** Shows who is signed in, and how, in the header. */
function showWho(me) {
  const how = { access: 'through Cloudflare Access', key: 'with an admin key', break_glass: 'with the break-glass secret' }[me.via] ?? '';
  fill(who, 'Signed in as ', h('strong', null, me.id), h('span', { class: 'role', title: `Signed in ${how}` }, me.role));
  who.hidden = false;
  // An Access sign-in is the browser's: Access's own logout ends it.
  fill(signOutButton, me.via === 'access' ? 'Sign out of Access' : 'Sign out');
  signOutButton.hidden = false;
}

/**
 * Who the browser is signed in as: the key or secret typed in this tab, or else the browser's
 * Access sign-in. Resolves with the identity, or `null` with the reason (an ApiError) when no
 * one is signed in.
 */
async function whoami() {
  try {
    return { me: await api('GET', 'whoami', undefined, { signIn: true }) };
  } catch (err) {
    return { me: null, err };
  }
}

/** Renders the route in the fragment. Views check `ctx.alive()` after every await. */
async function render({ focus = false, keepStatus = false, focusId = null } = {}) {
  const gen = ++generation;
  for (const fn of cleanups) { try { fn(); } catch { /* already gone */ } }
  cleanups = [];
  if (!keepStatus) clearStatus();
  const message = takePending();
  if (message) announce(message);
  if (!identity.get()) {
    const { me, err } = await whoami();
    if (gen !== generation) return;
    if (!me) {
      // A typed credential the API no longer takes is forgotten; an Access identity without a
      // role is told so (403), since signing in again would not change it.
      const typed = session.get();
      if (typed && err?.status === 401) session.clear();
      signInView(typed || err?.status === 403 || err?.status >= 500 ? err : null);
      return;
    }
    identity.set(me);
  }
  showWho(identity.get());
  nav.hidden = false;
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
  who.hidden = true;
  document.title = 'Sign in · Tollgate console';
  const input = h('input', {
    type: 'password', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', required: true,
  });
  const msg = h('div', { class: 'msg' }, message ? errorBox(message) : null);
  // The field has no `name`: even if this form were ever submitted natively, the secret would
  // not be sent anywhere.
  const form = h('form', { class: 'card narrow', method: 'post', action: '#', novalidate: true },
    field('Admin key or secret', input, 'An admin key (tgk_…), or in an emergency the deployment’s break-glass ADMIN_SECRET. It is kept in this browser tab only (session storage) and forgotten when the tab closes or you sign out.'),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  onSubmit(form, async () => {
    const secret = input.value.trim();
    fill(msg);
    if (!secret) {
      msg.append(h('div', { class: 'error', role: 'alert' }, h('p', { class: 'error-head' }, 'Enter an admin key or the secret.')));
      input.focus();
      return;
    }
    let me;
    try {
      me = await api('GET', 'whoami', undefined, { secret, signIn: true });
    } catch (err) {
      msg.append(errorBox(err));
      input.select();
      input.focus();
      return;
    }
    input.value = '';
    session.set(secret);
    identity.set(me);
    const here = currentPath();
    navigate(here === '/' ? '/accounts' : here, 'Signed in.');
  });
  fill(main,
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', { class: 'lead' }, 'The Tollgate console manages accounts, tokens, plans and usage through the admin API of this deployment.'),
    h('p', null, 'Behind Cloudflare Access you are signed in with your Access identity as soon as the page opens. Without it, sign in with an admin key.'),
    form);
  input.focus();
}

function signOut(reason) {
  session.clear();
  identity.clear();
  generation++;
  for (const fn of cleanups) { try { fn(); } catch { /* already gone */ } }
  cleanups = [];
  signInView(reason);
}

setUnauthorizedHandler((err) => {
  signOut(err);
});

signOutButton.addEventListener('click', () => {
  if (identity.get()?.via === 'access') {
    identity.clear();
    window.location.assign('/cdn-cgi/access/logout');
    return;
  }
  signOut();
  announce('Signed out. The admin key or secret was removed from this tab.');
});

window.addEventListener('hashchange', () => render({ focus: true }));
render();
