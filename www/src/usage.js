// An account's usage in one month: requests forwarded and refused, items and distinct items per
// day, refusals by reason, and the ledger as CSV.
import { api, errorBox } from './api.js';
import { dayBars, PALETTE } from './charts.js';
import { actionButton, dl, field, fill, fmtBytes, fmtInt, h, msgSlot, num, table, tr } from './dom.js';
import { announce, navigate } from './ui.js';

const enc = encodeURIComponent;

/** What each refusal reason means (the README's table); unknown reasons are shown as they are. */
export const REASONS = {
  'missing-token': 'No Authorization header',
  'malformed-token': 'Not a well-formed bearer token',
  'unknown-token': 'Well formed, but never issued',
  'expired-token': 'Past its expiry',
  'suspended-token': 'The token is suspended',
  'revoked-token': 'The token is revoked',
  'endpoint-not-in-plan': 'Method and path are not in the plan',
  'account-suspended': 'The account is suspended',
  'use-case-missing': 'The app names no use case of the account',
  'use-case-pending': 'The app’s use case is pending',
  'use-case-withdrawn': 'The app’s use case is withdrawn',
  'recipient-required': 'No recipient named',
  'recipient-malformed': 'The recipient id is invalid',
  'recipient-unknown': 'The recipient is not declared',
  'recipient-not-approved': 'The recipient is not approved',
  'government-approval-required': 'Government recipient without written approval',
  'recipient-class-prohibited': 'Surveillance or intelligence recipient',
  'redistribution-not-allowed': 'The recipient’s form is none',
  'rate-limit-exceeded': 'A request window was full',
  'usage-capped': 'The monthly item cap was reached',
  'redistribution-capped': 'The entity’s 30-day IDs were used up',
  'guard-unavailable': 'The account’s guard did not answer',
};

export const thisMonth = () => new Date().toISOString().slice(0, 7);

function shiftMonth(month, by) {
  const [y, m] = month.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + by, 1));
  return d.toISOString().slice(0, 7);
}

/** Unix seconds of every UTC midnight of the month, and the matching `YYYY-MM-DD` keys. */
function monthDays(month) {
  const [y, m] = month.split('-').map(Number);
  const n = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const secs = [];
  const keys = [];
  for (let d = 1; d <= n; d++) {
    secs.push(Date.UTC(y, m - 1, d) / 1000);
    keys.push(`${month}-${String(d).padStart(2, '0')}`);
  }
  return { secs, keys };
}

const sumRefused = (r) => Object.values(r.refused ?? {}).reduce((a, b) => a + b, 0);

/** Per-day sums, refusals by reason, and per app/group/recipient sums of a month's rows. */
export function summarise(month, rows) {
  const { secs, keys } = monthDays(month);
  const index = new Map(keys.map((k, i) => [k, i]));
  const zero = () => keys.map(() => 0);
  const perDay = { forwarded: zero(), refused: zero(), items: zero(), distinct: zero(), bytes: zero() };
  const reasons = new Map();
  const byLine = new Map();
  for (const r of rows) {
    const i = index.get(r.day);
    const refused = sumRefused(r);
    if (i !== undefined) {
      perDay.forwarded[i] += r.forwarded;
      perDay.refused[i] += refused;
      perDay.items[i] += r.items;
      perDay.distinct[i] += r.distinct_items;
      perDay.bytes[i] += r.bytes;
    }
    for (const [reason, n] of Object.entries(r.refused ?? {})) {
      if (!reasons.has(reason)) reasons.set(reason, { total: 0, perDay: zero() });
      const entry = reasons.get(reason);
      entry.total += n;
      if (i !== undefined) entry.perDay[i] += n;
    }
    const key = `${r.app}\u0000${r.group}\u0000${r.recipient}`;
    const line = byLine.get(key) ?? { app: r.app, group: r.group, recipient: r.recipient, forwarded: 0, refused: 0, items: 0, distinct: 0, bytes: 0 };
    line.forwarded += r.forwarded;
    line.refused += refused;
    line.items += r.items;
    line.distinct += r.distinct_items;
    line.bytes += r.bytes;
    byLine.set(key, line);
  }
  return { secs, keys, perDay, reasons: [...reasons].sort((a, b) => b[1].total - a[1].total), lines: [...byLine.values()] };
}

export async function usagePanel(ctx, account, panel, monthArg) {
  const id = account.id;
  let month = monthArg ?? thisMonth();
  const body = h('div', null, h('p', { class: 'loading' }, 'Loading usage…'));
  const msg = msgSlot();
  let destroyers = [];
  const destroyCharts = () => { destroyers.forEach((d) => d()); destroyers = []; };
  ctx.onCleanup(destroyCharts);

  const monthInput = h('input', { type: 'month', value: month, required: true });
  const form = h('form', { class: 'toolbar', novalidate: true },
    field('Month (UTC)', monthInput),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => navigate(`/accounts/${id}/usage/${shiftMonth(month, -1)}`) }, '← Previous month'),
      h('button', { type: 'button', class: 'secondary', onclick: () => navigate(`/accounts/${id}/usage/${shiftMonth(month, 1)}`) }, 'Next month →'),
      h('button', { type: 'submit', class: 'secondary' }, 'Show month'),
      actionButton('Reload usage', async () => { await load(); announce(`Usage of ${month} reloaded.`); }, { class: 'primary' }),
      actionButton('Download CSV', () => download(), { class: 'secondary' })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (/^\d{4}-\d{2}$/.test(monthInput.value)) navigate(`/accounts/${id}/usage/${monthInput.value}`);
  });
  panel.append(h('section', { class: 'card', 'aria-labelledby': 'sec-usage' },
    h('h2', { id: 'sec-usage', tabindex: '-1' }, `Usage in ${month}`),
    h('p', { class: 'hint' }, 'From the account’s ledger: requests forwarded to the origin and refused, items returned, and distinct items (an item delivered twice on one day counts once). Days are UTC.'),
    form, msg, body));

  async function download() {
    fill(msg);
    try {
      const res = await api('GET', `accounts/${enc(id)}/usage?month=${month}&format=csv`, undefined, { raw: true });
      const blob = new Blob([await res.arrayBuffer()], { type: 'text/csv' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `tollgate-usage-${id}-${month}.csv`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
      announce(`Downloaded the usage of ${month} as CSV (${fmtBytes(blob.size)}).`);
    } catch (err) {
      if (ctx.alive()) msg.append(errorBox(err));
    }
  }

  async function load() {
    fill(msg);
    let usage;
    try {
      usage = await api('GET', `accounts/${enc(id)}/usage?month=${month}`);
    } catch (err) {
      if (ctx.alive()) { destroyCharts(); fill(body, errorBox(err)); }
      return;
    }
    if (!ctx.alive()) return;
    month = usage.month ?? month;
    destroyCharts();
    renderUsage(usage);
  }

  function figure(fid, caption, note) {
    const plot = h('div', { class: 'plot' });
    const fig = h('figure', { class: 'chart', id: fid, 'aria-labelledby': `${fid}-caption` },
      h('figcaption', { id: `${fid}-caption` }, h('strong', null, caption), ' ', h('span', { class: 'chart-summary' }, note)),
      plot);
    return { fig, plot };
  }

  function renderUsage(usage) {
    const t = usage.totals ?? {};
    const s = summarise(month, usage.rows ?? []);
    const empty = !(usage.rows ?? []).length;
    const totals = dl([
      ['Forwarded requests', fmtInt(t.forwarded)],
      ['Refused requests', fmtInt(t.refused)],
      ['Items', fmtInt(t.items)],
      ['Distinct items', fmtInt(t.distinct_items)],
      ['Bytes', fmtBytes(t.bytes)],
    ], { class: 'facts totals', id: 'usage-totals' });

    const requests = figure('chart-requests', 'Requests per day.', `${fmtInt(t.forwarded)} forwarded and ${fmtInt(t.refused)} refused in ${month}.`);
    const items = figure('chart-items', 'Items per day.', `${fmtInt(t.items)} items, ${fmtInt(t.distinct_items)} distinct, in ${month}.`);
    const refusals = figure('chart-refusals', 'Refusals per day by reason.',
      s.reasons.length ? s.reasons.map(([reason, r]) => `${reason}: ${fmtInt(r.total)}`).join(', ') + '.' : `None in ${month}.`);

    const reasonRows = s.reasons.map(([reason, r]) => tr(
      h('code', null, reason), REASONS[reason] ?? '—', num(r.total),
      h('td', { class: 'num' }, t.refused ? `${((100 * r.total) / t.refused).toFixed(1)} %` : '–')));
    const activeDays = s.keys.map((k, i) => i).filter((i) => s.perDay.forwarded[i] || s.perDay.refused[i] || s.perDay.items[i]);

    fill(body,
      empty ? h('p', { class: 'empty' }, `No usage recorded for ${month}.`) : null,
      totals,
      h('div', { class: 'charts' }, requests.fig, items.fig),
      refusals.fig,
      h('h3', { id: 'refusals-by-reason' }, 'Refusals by reason'),
      reasonRows.length
        ? table(null, ['Reason', 'Meaning', '#Refusals', '#Share'], reasonRows, { class: 'reasons', 'aria-labelledby': 'refusals-by-reason' })
        : h('p', { class: 'empty' }, 'No refusals in this month.'),
      h('h3', { id: 'usage-days' }, 'Per day'),
      activeDays.length
        ? table(null, ['Day', '#Forwarded', '#Refused', '#Items', '#Distinct items', '#Bytes'], activeDays.map((i) => tr(
          s.keys[i], num(s.perDay.forwarded[i]), num(s.perDay.refused[i]), num(s.perDay.items[i]), num(s.perDay.distinct[i]),
          h('td', { class: 'num' }, fmtBytes(s.perDay.bytes[i])))), { class: 'days', 'aria-labelledby': 'usage-days' })
        : h('p', { class: 'empty' }, 'No activity on any day of this month.'),
      h('h3', { id: 'usage-lines' }, 'By app, endpoint group and recipient'),
      s.lines.length
        ? table(null, ['App', 'Group', 'Recipient', '#Forwarded', '#Refused', '#Items', '#Distinct items', '#Bytes'], s.lines.map((l) => tr(
          h('span', { class: 'mono' }, l.app || '—'), l.group || '—', l.recipient || '—', num(l.forwarded), num(l.refused), num(l.items), num(l.distinct),
          h('td', { class: 'num' }, fmtBytes(l.bytes)))), { class: 'lines', 'aria-labelledby': 'usage-lines' })
        : h('p', { class: 'empty' }, 'Nothing to break down.'));

    // The charts measure their container, so they are drawn once it is in the page.
    destroyers.push(
      dayBars(requests.plot, { days: s.secs, series: [
        { label: 'Forwarded', values: s.perDay.forwarded, color: PALETTE[0] },
        { label: 'Refused', values: s.perDay.refused, color: PALETTE[1] },
      ] }),
      dayBars(items.plot, { days: s.secs, series: [
        { label: 'Items', values: s.perDay.items, color: PALETTE[2] },
        { label: 'Distinct items', values: s.perDay.distinct, color: PALETTE[4] },
      ] }),
      dayBars(refusals.plot, {
        days: s.secs,
        stacked: true,
        height: 180,
        series: s.reasons.length
          ? s.reasons.map(([reason, r], i) => ({ label: reason, values: r.perDay, color: PALETTE[(i + 1) % PALETTE.length] }))
          : [{ label: 'Refused', values: s.perDay.refused, color: PALETTE[1] }],
      }));
  }

  await load();
}
