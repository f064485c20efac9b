// Audit trails (an account's, and the chain of plan changes) with their verification, and the
// pooling and resale events of an account with their evidence.
import { api, errorBox } from './api.js';
import { actionButton, dl, field, fill, fmtInt, fmtTime, h, msgSlot, num, select, table, tr } from './dom.js';
import { announce } from './ui.js';

const enc = encodeURIComponent;
const PAGE = 50;

/** The verification of a chain, in words. */
function verdict(v) {
  if (v.ok) {
    return h('div', { class: 'verdict ok', id: 'audit-verdict' },
      h('p', { class: 'verdict-head' }, `Chain intact: all ${fmtInt(v.entries)} entries verified.`),
      v.head ? h('p', null, 'Head hash (publish it to pin this history): ', h('code', { class: 'hash' }, v.head)) : null);
  }
  const b = v.first_break ?? {};
  return h('div', { class: 'verdict broken', id: 'audit-verdict', role: 'alert' },
    h('p', { class: 'verdict-head' }, `Chain broken at entry #${b.seq ?? '?'}: ${b.reason ?? 'its content or link does not match'}.`),
    h('p', null, `${fmtInt(v.entries)} entries checked. Entries from #${b.seq ?? '?'} on cannot be trusted as recorded; the ones before it are intact.`));
}

function detailOf(text) {
  let value;
  try { value = JSON.parse(text); } catch { return h('span', null, text); }
  const compact = JSON.stringify(value);
  if (compact.length <= 160) return h('code', { class: 'detail' }, compact);
  return h('details', { class: 'detail' }, h('summary', null, h('code', null, `${compact.slice(0, 120)}…`)), h('pre', null, JSON.stringify(value, null, 2)));
}

/** A chain and its verification: `route` is `accounts/<id>/audit` or `audit`. */
export async function trail(ctx, panel, route, title) {
  const verdictSlot = h('div', null, h('p', { class: 'loading' }, 'Verifying the chain…'));
  const listSlot = h('div', null, h('p', { class: 'loading' }, 'Loading entries…'));
  const msg = msgSlot();
  const verify = async () => {
    try {
      const v = await api('GET', `${route}/verify`);
      if (ctx.alive()) fill(verdictSlot, verdict(v));
      return v;
    } catch (err) {
      if (ctx.alive()) fill(verdictSlot, errorBox(err));
      return null;
    }
  };
  panel.append(h('section', { class: 'card', 'aria-labelledby': 'sec-audit' },
    h('h2', { id: 'sec-audit', tabindex: '-1' }, title),
    h('p', { class: 'hint' }, 'Every admin change, refusal, and pooling or resale event is appended to a hash chain: each entry’s hash covers the one before it, so a change to any past entry breaks the chain from there on.'),
    verdictSlot,
    h('div', { class: 'actions' }, actionButton('Verify again', async () => {
      const v = await verify();
      if (v) announce(v.ok ? `Chain verified: ${v.entries} entries intact.` : `Chain broken at entry #${v.first_break?.seq}.`);
    }, { class: 'secondary' })),
    msg,
    listSlot));

  const [, exported] = await Promise.all([verify(), api('GET', route).catch((err) => err)]);
  if (!ctx.alive()) return;
  if (exported instanceof Error) { fill(listSlot, errorBox(exported)); return; }
  const entries = [...(exported.entries ?? [])].reverse(); // newest first
  if (!entries.length) { fill(listSlot, h('p', { class: 'empty' }, 'No entries yet.')); return; }

  const kinds = [...new Set(entries.map((e) => e.kind))].sort();
  const kind = select([['', `all kinds (${fmtInt(entries.length)})`], ...kinds.map((k) => [k, `${k} (${fmtInt(entries.filter((e) => e.kind === k).length)})`])], '');
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary' });
  const shownCount = h('p', { class: 'hint', 'aria-live': 'polite' });
  let shown = 0;
  const matching = () => entries.filter((e) => !kind.value || e.kind === kind.value);
  const paint = (reset) => {
    const list = matching();
    if (reset) { fill(tbody); shown = 0; }
    const next = list.slice(shown, shown + PAGE);
    tbody.append(...next.map((e) => tr(num(e.seq), fmtTime(e.at), h('code', null, e.kind), actorOf(e.actor), h('td', { class: 'wrap' }, detailOf(e.detail)), h('code', { class: 'hash' }, `${e.hash.slice(0, 16)}…`))));
    shown += next.length;
    shownCount.textContent = `Showing the newest ${fmtInt(shown)} of ${fmtInt(list.length)} entries.`;
    more.hidden = shown >= list.length;
    more.textContent = `Show ${fmtInt(Math.min(PAGE, list.length - shown))} older entries`;
  };
  kind.addEventListener('change', () => paint(true));
  more.addEventListener('click', () => paint(false));
  fill(listSlot,
    h('div', { class: 'toolbar' }, field('Kind', kind), shownCount),
    h('div', { class: 'table-wrap' }, h('table', { class: 'audit' },
      h('caption', { class: 'sr-only' }, 'Audit entries, newest first'),
      h('thead', null, h('tr', null, ['#', 'Time', 'Kind', 'By', 'Detail', 'Hash'].map((t) => h('th', { scope: 'col', class: t === '#' ? 'num' : null }, t)))),
      tbody)),
    h('div', { class: 'actions' }, more));
  paint(true);
}

/** Who made a change, and as what; the guard's own entries (seals, events) have no actor. */
function actorOf(actor) {
  if (!actor) return h('span', { class: 'hint' }, 'Tollgate');
  return h('span', { title: `signed in via ${actor.via}` }, h('span', { class: 'mono' }, actor.id), ' ', h('span', { class: 'hint' }, `(${actor.role})`));
}

export const auditPanel = (ctx, account, panel) => trail(ctx, panel, `accounts/${enc(account.id)}/audit`, 'Audit trail');

const FINGERPRINT_NOTE = 'A client is a network prefix (IPv4 /24, IPv6 /48), an AS number and a user agent; no full address is kept.';

function poolingEvent(e) {
  const ev = e.evidence ?? {};
  return [
    h('p', null, `${fmtInt(ev.tokens_at_limit)} of the account’s ${fmtInt(ev.active_tokens)} active tokens reached their own limit of ${fmtInt(ev.per_token_limit)} requests in one window of group `, h('code', null, ev.group), ': the account split its load across tokens to pass the per-token limit.'),
    dl([
      ['Group', h('code', null, ev.group)],
      ['Window', `${fmtTime(ev.window_start * 1000)}, ${fmtInt(ev.window_seconds)} s`],
      ['Per-token limit', fmtInt(ev.per_token_limit)],
      ['Requests in the window', fmtInt(ev.total_requests)],
      ['Evenness (smallest ÷ largest)', typeof ev.evenness === 'number' ? ev.evenness.toFixed(2) : '–'],
    ]),
    table('Requests per app in the window', ['App', '#Requests'], (ev.by_app ?? []).map(([app, n]) => tr(h('span', { class: 'mono' }, app), num(n)))),
  ];
}

function resaleEvent(e) {
  const ev = e.evidence ?? {};
  return [
    h('p', null, 'The token of app ', h('code', null, ev.app), ` was used by ${fmtInt(ev.distinct_clients)} distinct clients in one UTC day (threshold ${fmtInt(ev.threshold)}): a customer letting others ride its token.`),
    dl([
      ['App', h('code', null, ev.app)],
      ['Day (UTC)', typeof ev.day === 'number' ? new Date(ev.day * 86_400_000).toISOString().slice(0, 10) : '–'],
      ['Distinct clients', fmtInt(ev.distinct_clients)],
      ['Threshold', fmtInt(ev.threshold)],
    ]),
    table(`Clients seen (${FINGERPRINT_NOTE})`, ['Network prefix', 'AS number', 'User agent'],
      (ev.clients ?? []).map((c) => tr(h('code', null, c.prefix), c.asn ?? '—', h('span', { class: 'mono' }, c.agent || '—')))),
  ];
}

export async function eventsPanel(ctx, account, panel) {
  const slot = h('div', null, h('p', { class: 'loading' }, 'Loading events…'));
  panel.append(h('section', { class: 'card', 'aria-labelledby': 'sec-events' },
    h('h2', { id: 'sec-events', tabindex: '-1' }, 'Pooling and resale events'),
    h('p', { class: 'hint' }, 'Pooling: two or more of the account’s tokens at their own limit in one window of one endpoint group. Resale: one token used by 10 or more distinct clients in one UTC day. Each event is also in the audit trail.'),
    slot));
  let report;
  try {
    report = await api('GET', `accounts/${enc(account.id)}/report`);
  } catch (err) {
    if (ctx.alive()) fill(slot, errorBox(err));
    return;
  }
  if (!ctx.alive()) return;
  const events = report.events ?? [];
  if (!events.length) {
    fill(slot, h('p', { class: 'empty' }, 'No pooling or resale events recorded for this account.'));
    return;
  }
  fill(slot, h('p', { class: 'hint' }, `${fmtInt(events.length)} event${events.length === 1 ? '' : 's'}, newest first.`),
    ...events.map((e) => {
      const kindTitle = e.kind === 'pooling' ? `Pooling in group ${e.evidence?.group ?? '?'}` : e.kind === 'resale' ? `Resale of app ${e.evidence?.app ?? '?'}` : e.kind;
      const body = e.kind === 'pooling' ? poolingEvent(e) : e.kind === 'resale' ? resaleEvent(e) : [h('pre', null, JSON.stringify(e.evidence, null, 2))];
      return h('article', { class: `event event-${e.kind}`, 'aria-labelledby': `event-${e.id}` },
        h('h3', { id: `event-${e.id}` }, kindTitle, ' ', h('span', { class: 'sub' }, `#${e.id} · ${fmtTime(e.at)}`)),
        ...body);
    }));
}
