// Plans: the list, one plan as JSON (edited as it is and validated by the API, whose 400 detail
// is shown), and the chain of plan changes. Only an owner writes plans: other roles see them.
import { api, can, errorBox } from './api.js';
import { dl, field, fill, fmtInt, h, msgSlot, onSubmit, required, sayError, table, tr } from './dom.js';
import { trail } from './trail.js';
import { heading, navigate, readOnly } from './ui.js';

const enc = encodeURIComponent;

const template = (id) => ({
  v: 1,
  id,
  endpoints: [
    { method: 'GET', path: '/2/tweets/:id', group: 'lookup' },
  ],
  limits: [
    { group: 'lookup', scope: 'app', requests: 300, window_seconds: 900 },
  ],
  guard_failure: 'closed',
});

export async function plansView(ctx) {
  const listSlot = h('div', null, h('p', { class: 'loading' }, 'Loading plans…'));
  const newId = h('input', { required: true, spellcheck: 'false', autocomplete: 'off' });
  const msg = msgSlot();
  const form = onSubmit(h('form', { novalidate: true },
    field('Plan id', newId, '1 to 64 characters: a-z 0-9 . _ - (starting with a letter or digit). The editor opens with a template; nothing is written until you save.'),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Open editor'))),
  async () => {
    if (!required(msg, [[newId, 'Plan id']])) return;
    navigate(`/plans/${newId.value.trim()}`);
  });
  ctx.main.append(
    heading('Plans'),
    h('p', { class: 'lead' }, 'A plan names the endpoints an account may call, grouped, with the limits of each group and an optional monthly item cap.'),
    listSlot,
    can('own')
      ? h('section', { class: 'card', 'aria-labelledby': 'new-plan' }, h('h2', { id: 'new-plan', tabindex: '-1' }, 'New plan'), form)
      : readOnly('plans are written by owners.'));

  const listed = await api('GET', 'plans');
  const plans = await Promise.all(listed.ids.map((id) => api('GET', `plans/${enc(id)}`).then((p) => ({ id, p }), (e) => ({ id, e }))));
  if (!ctx.alive()) return;
  fill(listSlot, plans.length
    ? table(null, ['Plan', '#Endpoints', 'Groups', '#Limits', '#Monthly item cap', 'If the guard fails'], plans.map(({ id, p, e }) => (p
      ? tr(h('a', { href: `#/plans/${enc(id)}` }, id), h('td', { class: 'num' }, fmtInt(p.endpoints.length)),
        [...new Set(p.endpoints.map((x) => x.group))].join(', ') || '—', h('td', { class: 'num' }, fmtInt(p.limits?.length ?? 0)),
        h('td', { class: 'num' }, p.monthly_item_cap ? fmtInt(p.monthly_item_cap) : 'none'), p.guard_failure ?? 'closed')
      : tr(h('a', { href: `#/plans/${enc(id)}` }, id), h('td', { colspan: '5' }, h('span', { class: 'problem-inline' }, `${e.title} (${e.status || 'network'}): ${e.detail}`))))), { class: 'plans' })
    : h('p', { class: 'empty' }, 'No plans yet.'));
  ctx.settled();
}

function summary(plan) {
  return [
    h('h3', null, 'Endpoints'),
    plan.endpoints?.length
      ? table(null, ['Method', 'Path', 'Group'], plan.endpoints.map((e) => tr(e.method, h('code', null, e.path), e.group)))
      : h('p', { class: 'empty' }, 'No endpoints: every request is refused.'),
    h('h3', null, 'Limits'),
    plan.limits?.length
      ? table(null, ['Group', 'Scope', '#Requests', 'Window', 'Mode'], plan.limits.map((l) => tr(l.group, l.scope, h('td', { class: 'num' }, fmtInt(l.requests)), `${fmtInt(l.window_seconds ?? 900)} s`, l.mode ?? 'strict')))
      : h('p', { class: 'empty' }, 'No request limits.'),
    dl([['Monthly item cap', plan.monthly_item_cap ? fmtInt(plan.monthly_item_cap) : 'none'], ['If the guard fails', plan.guard_failure ?? 'closed']]),
  ];
}

export async function planView(ctx, id) {
  const title = heading(`Plan ${id}`);
  const body = h('div', null, h('p', { class: 'loading' }, 'Loading the plan…'));
  ctx.main.append(h('p', { class: 'crumbs' }, h('a', { href: '#/plans' }, 'Plans'), ' / ', id), title, body);
  let plan = null;
  let loadError = null;
  try {
    plan = await api('GET', `plans/${enc(id)}`);
  } catch (err) {
    if (err.status !== 404) loadError = err;
  }
  if (!ctx.alive()) return;
  if (loadError) { fill(body, errorBox(loadError)); return; }
  if (!can('own')) {
    fill(body,
      plan ? h('section', { class: 'card', 'aria-labelledby': 'sec-plan-summary' }, h('h2', { id: 'sec-plan-summary' }, 'As stored'), ...summary(plan))
        : h('p', { class: 'empty' }, 'There is no plan with this id.'),
      readOnly('plans are written by owners.'));
    ctx.settled();
    return;
  }
  const isNew = !plan;
  if (isNew) title.textContent = `New plan ${id}`;

  const text = h('textarea', { rows: '22', spellcheck: 'false', class: 'mono', value: JSON.stringify(plan ?? template(id), null, 2) });
  const msg = msgSlot();
  const format = h('button', { type: 'button', class: 'secondary' }, 'Format JSON');
  format.addEventListener('click', () => {
    try { text.value = JSON.stringify(JSON.parse(text.value), null, 2); fill(msg); } catch (e) { sayError(msg, 'The text is not valid JSON', e.message); }
  });
  const form = onSubmit(h('form', { novalidate: true },
    field('Plan record (JSON)', text, 'Sent to the admin API as it is (PUT). It validates every field and writes nothing if one is wrong; its answer is shown here.'),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, isNew ? 'Create plan' : 'Save plan'), format)),
  async () => {
    fill(msg);
    try { JSON.parse(text.value); } catch (e) {
      sayError(msg, 'The text is not valid JSON', e.message);
      text.focus();
      return;
    }
    try {
      await api('PUT', `plans/${enc(id)}`, text.value);
    } catch (err) {
      if (ctx.alive()) msg.append(errorBox(err));
      return;
    }
    navigate(`/plans/${id}`, `Plan ${id} ${isNew ? 'created' : 'saved'}. Edges use it once their caches expire (about 90 s).`);
  });

  fill(body,
    isNew ? h('p', { class: 'lead' }, 'There is no plan with this id yet. The editor holds a template: change it, then create the plan.') : null,
    plan ? h('section', { class: 'card', 'aria-labelledby': 'sec-plan-summary' }, h('h2', { id: 'sec-plan-summary' }, 'As stored'), ...summary(plan)) : null,
    h('section', { class: 'card', 'aria-labelledby': 'sec-plan-edit' }, h('h2', { id: 'sec-plan-edit', tabindex: '-1' }, isNew ? 'Write the plan' : 'Edit'), form));
  ctx.settled();
}

export async function planAuditView(ctx) {
  ctx.main.append(heading('Plan changes'), h('p', { class: 'lead' }, 'Every plan written through the admin API, in a hash chain of its own.'));
  const panel = h('div');
  ctx.main.append(panel);
  await trail(ctx, panel, 'audit', 'Chain of plan changes');
  ctx.settled();
}
