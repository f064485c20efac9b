// The fleet at a glance: every account's month on one page (requests, items, the amount so far,
// the cap used, pooling and resale events, status), from one admin API call that reads the
// rollup the guards write. Sorted by the admin API; a column header sorts by that column, and a
// second press reverses it.
import { api, errorBox } from './api.js';
import { badge, fill, fmtInt, fmtTime, h, num, table, tr } from './dom.js';
import { money } from './statement.js';
import { navigate } from './ui.js';

const enc = encodeURIComponent;

const COLUMNS = [
  ['account', 'Account'],
  [null, 'Plan'],
  ['status', 'Status'],
  ['requests', '#Requests'],
  ['items', '#Items'],
  [null, '#Distinct items'],
  ['amount', '#Amount so far'],
  ['cap_used', '#Cap used'],
  ['events', '#Pooling and resale'],
  [null, 'Updated'],
];

export async function fleetView(ctx, sort = 'amount', order = null) {
  document.title = 'Fleet · Tollgate console';
  const body = h('div', null, h('p', { class: 'loading' }, 'Loading the fleet…'));
  ctx.main.append(
    h('h1', { tabindex: '-1' }, 'Fleet'),
    h('p', { class: 'lead' }, 'Every account’s month so far, from the rollup each account’s guard writes. Open an account for its statement.'),
    body);
  let fleet;
  try {
    fleet = await api('GET', `fleet?sort=${enc(sort)}${order ? `&order=${enc(order)}` : ''}`);
  } catch (err) {
    if (ctx.alive()) fill(body, errorBox(err));
    return;
  }
  if (!ctx.alive()) return;
  const header = ([key, label]) => {
    if (!key) return label;
    const current = fleet.sort === key;
    const next = current && fleet.order === 'desc' ? 'asc' : current ? 'desc' : (key === 'account' || key === 'status' ? 'asc' : 'desc');
    const arrow = current ? (fleet.order === 'desc' ? ' ↓' : ' ↑') : '';
    const text = label.replace(/^#/, '');
    return h('button', {
      type: 'button', class: 'sort', 'aria-sort': current ? (fleet.order === 'desc' ? 'descending' : 'ascending') : null,
      onclick: () => navigate(`/fleet/${key}/${next}`),
    }, `${text}${arrow}`);
  };
  const rows = fleet.lines.map((l) => tr(
    h('a', { href: `#/accounts/${enc(l.account)}/statement` }, h('span', { class: 'mono' }, l.account), l.name ? ` ${l.name}` : ''),
    l.plan || '–',
    badge(l.status),
    num(l.requests), num(l.items), num(l.distinct_items),
    h('td', { class: 'num' }, l.amount_minor === null ? '–' : money(l.amount_minor, l.minor_digits ?? 2, l.currency)),
    h('td', { class: 'num' }, l.cap_used_pct === null ? '–' : `${l.cap_used_pct.toFixed(1)} %`),
    num(l.events),
    l.updated_at === null ? 'no traffic this month' : fmtTime(l.updated_at)));
  const table_ = table(null, COLUMNS.map(([, label]) => label), rows, { class: 'fleet', 'aria-describedby': 'fleet-as-of' });
  // The headers that sort are buttons inside the header cells.
  const ths = table_.querySelectorAll('thead th');
  COLUMNS.forEach((col, i) => { if (col[0]) fill(ths[i], header(col)); });
  fill(body,
    h('p', { class: 'hint', id: 'fleet-as-of' },
      `${fmtInt(fleet.accounts)} accounts in ${fleet.month}, as of ${fmtTime(fleet.generated_at)}. `,
      `Each account’s row is at most ${fleet.rollup_seconds} s behind its guard; `,
      fleet.oldest_update ? `the oldest row was written ${fmtTime(fleet.oldest_update)}. ` : '',
      `One database query (${fleet.query_ms} ms).`),
    table_);
  ctx.settled();
}
