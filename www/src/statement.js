// An account's statement for one month, as a printable document: the lines per app and endpoint
// group, the charges at the plan's price version, the amount due, and what pins the figures
// (each day's ledger digest beside its seal, the audit chain's head). Amounts come from the
// admin API in integer minor units; this page only shows them.
import { api, errorBox } from './api.js';
import { actionButton, dl, field, fill, fmtBytes, fmtInt, h, msgSlot, num, table, tr } from './dom.js';
import { REASONS, thisMonth } from './usage.js';
import { announce, navigate } from './ui.js';

const enc = encodeURIComponent;

function shiftMonth(month, by) {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1 + by, 1)).toISOString().slice(0, 7);
}

/** Minor units as a decimal of the currency's main unit, without floats. */
export function money(minor, digits, currency) {
  if (typeof minor !== 'number') return '–';
  const text = String(minor).padStart(digits + 1, '0');
  const whole = digits ? text.slice(0, -digits) : text;
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${digits ? `${grouped}.${text.slice(-digits)}` : grouped} ${currency ?? ''}`.trim();
}

const CHARGE = {
  monthly_fee: () => 'Monthly fee',
  overage: () => 'Distinct items past those included',
  requests: (c) => `Requests to ${c.group}`,
};

export async function statementPanel(ctx, account, panel, monthArg) {
  const id = account.id;
  const month = monthArg ?? thisMonth();
  const msg = msgSlot();
  const body = h('div', null, h('p', { class: 'loading' }, 'Loading the statement…'));
  const monthInput = h('input', { type: 'month', value: month, required: true });
  const form = h('form', { class: 'toolbar no-print', novalidate: true },
    field('Month (UTC)', monthInput),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => navigate(`/accounts/${id}/statement/${shiftMonth(month, -1)}`) }, '← Previous month'),
      h('button', { type: 'button', class: 'secondary', onclick: () => navigate(`/accounts/${id}/statement/${shiftMonth(month, 1)}`) }, 'Next month →'),
      h('button', { type: 'submit', class: 'secondary' }, 'Show month'),
      h('button', { type: 'button', class: 'primary', onclick: () => window.print() }, 'Print'),
      actionButton('Download CSV', () => download(), { class: 'secondary' })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (/^\d{4}-\d{2}$/.test(monthInput.value)) navigate(`/accounts/${id}/statement/${monthInput.value}`);
  });
  panel.append(form, msg, h('article', { class: 'card statement', 'aria-labelledby': 'sec-statement' },
    h('h2', { id: 'sec-statement', tabindex: '-1' }, `Statement of ${account.name}, ${month}`), body));

  async function download() {
    fill(msg);
    try {
      const res = await api('GET', `accounts/${enc(id)}/statement?month=${month}&format=csv`, undefined, { raw: true });
      const blob = new Blob([await res.arrayBuffer()], { type: 'text/csv' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `tollgate-statement-${id}-${month}.csv`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
      announce(`Downloaded the statement of ${month} as CSV (${fmtBytes(blob.size)}).`);
    } catch (err) {
      if (ctx.alive()) msg.append(errorBox(err));
    }
  }

  let s;
  try {
    s = await api('GET', `accounts/${enc(id)}/statement?month=${month}`);
  } catch (err) {
    if (ctx.alive()) fill(body, errorBox(err));
    return;
  }
  if (!ctx.alive()) return;
  const amount = (n) => money(n, s.minor_digits ?? 2, s.currency);
  const reasons = [...new Set(s.lines.flatMap((l) => Object.keys(l.refused)))].sort();
  fill(body,
    dl([
      ['Account', h('span', { class: 'mono' }, s.account)],
      ['Period (UTC)', `${s.from} to ${s.to}`],
      ['Plan', `${s.plan}${s.price_version === null ? ' (no price for this month)' : `, price version ${s.price_version}`}`],
      ['Status', s.final ? 'Final: the month is over and every day is sealed' : 'Open: the figures so far'],
      ['Amount due', h('strong', { id: 'amount-due' }, s.amount_due_minor === null ? '–' : amount(s.amount_due_minor))],
    ], { class: 'facts totals', id: 'statement-facts' }),
    h('h3', { id: 'statement-lines' }, 'Usage by app and endpoint group'),
    s.lines.length
      ? table(null, ['App', 'Group', '#Requests', '#Items', '#Distinct items', '#Refused'], [
        ...s.lines.map((l) => tr(h('span', { class: 'mono' }, l.app), l.group, num(l.requests), num(l.items), num(l.distinct_items),
          h('td', { class: 'num', title: Object.entries(l.refused).map(([r, n]) => `${r}: ${n}`).join(', ') }, fmtInt(l.refused_total)))),
        tr(h('strong', null, 'Total'), '', num(s.totals.requests), num(s.totals.items), num(s.totals.distinct_items), num(s.totals.refused)),
      ], { class: 'lines', 'aria-labelledby': 'statement-lines' })
      : h('p', { class: 'empty' }, `No usage recorded for ${s.month}.`),
    reasons.length ? h('p', { class: 'hint' }, 'Refusals: ', reasons.map((r) => `${r} (${REASONS[r] ?? r})`).join('; '), '.') : null,
    h('h3', { id: 'statement-charges' }, 'Charges'),
    s.charges.length
      ? table(null, ['Charge', '#Quantity', '#Rate', '#Amount'], [
        ...s.charges.map((c) => tr(CHARGE[c.kind]?.(c) ?? c.kind, num(c.quantity),
          h('td', { class: 'num' }, c.per === 1 ? amount(c.rate) : `${amount(c.rate)} per ${fmtInt(c.per)}`),
          h('td', { class: 'num' }, amount(c.amount_minor)))),
        tr(h('strong', null, 'Amount due'), '', '', h('td', { class: 'num' }, h('strong', null, amount(s.amount_due_minor)))),
      ], { class: 'charges', 'aria-labelledby': 'statement-charges' })
      : h('p', { class: 'empty' }, 'The plan has no price for this month: usage only.'),
    h('h3', { id: 'statement-pins' }, 'What pins these figures'),
    h('p', { class: 'hint' }, 'Each day’s ledger rows hash to the digest below; once the day is over, the guard seals that digest into the account’s audit chain. The month’s digest covers every day.'),
    dl([
      ['Ledger digest of the month (SHA-256)', h('code', { class: 'hash' }, s.pinned_by.ledger_sha256)],
      ['Audit chain head', s.pinned_by.audit_head ? h('code', { class: 'hash' }, `#${s.pinned_by.audit_head.seq} ${s.pinned_by.audit_head.hash}`) : 'No entries yet'],
    ], { class: 'facts' }),
    s.pinned_by.days.length
      ? table(null, ['Day', '#Rows', 'Digest (SHA-256)', 'Seal'], s.pinned_by.days.map((d) => tr(d.day, num(d.rows), h('code', { class: 'hash' }, d.ledger_sha256),
        d.seal_seq === null ? 'Not sealed yet' : `#${d.seal_seq}: ${d.matches_seal ? 'matches' : 'DOES NOT MATCH'}`)), { class: 'pins' })
      : null);
}
