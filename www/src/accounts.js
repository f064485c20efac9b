// Accounts: the list, a new account, and one account's pages (overview, tokens, usage, audit,
// events). Every change goes through the admin API's PUT and POST routes; the page then shows
// what the API stored. The forms and buttons that change something are offered only to a role
// that may (operator and owner); an auditor sees the same pages without them.
import { api, can, errorBox } from './api.js';
import { actionButton, badge, dl, field, fill, fmtInt, h, msgSlot, nextId, onSubmit, required, select, table, tr } from './dom.js';
import { tokensPanel } from './tokens.js';
import { auditPanel, eventsPanel } from './trail.js';
import { usagePanel } from './usage.js';
import { statementPanel } from './statement.js';
import { announce, heading, navigate, readOnly } from './ui.js';

const ID_HINT = '1 to 64 characters: a-z 0-9 . _ - (starting with a letter or digit).';
const USE_CASE_STATUSES = ['approved', 'pending', 'withdrawn'];
const CLASSES = ['commercial', 'academic', 'nonprofit', 'internal', 'government', 'surveillance', 'intelligence'];
const APPROVALS = ['approved', 'pending', 'rejected'];
const MODES = [['none', 'none: refused'], ['ids_only', 'ids_only: ids only'], ['full', 'full: whole objects']];

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order. */
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const enc = encodeURIComponent;
/** Runs a change; shows its error in `slot`, or announces `done` and renders the page again. */
async function change(ctx, slot, fn, done, focusId) {
  fill(slot);
  try {
    await fn();
  } catch (err) {
    if (ctx.alive()) slot.append(errorBox(err));
    return false;
  }
  announce(done);
  ctx.refresh(focusId);
  return true;
}

export async function accountsView(ctx) {
  const listSlot = h('div', null, h('p', { class: 'loading' }, 'Loading accounts…'));
  const planSlot = h('div', { class: 'field' }, h('label', null, 'Plan'), h('p', { class: 'loading' }, 'Loading plans…'));
  const form = newAccountForm(ctx, planSlot);
  ctx.main.append(
    heading('Accounts'),
    h('p', { class: 'lead' }, 'Every account of this deployment, with its plan and standing. Open one for its tokens, record, usage and audit trail.'),
    listSlot,
    can('operate')
      ? h('section', { class: 'card', 'aria-labelledby': 'new-account' },
        h('h2', { id: 'new-account', tabindex: '-1' }, 'New account'),
        form)
      : readOnly('accounts are created by operators and owners.'));

  const [listed, plans] = await Promise.all([
    api('GET', 'accounts'),
    api('GET', 'plans').catch((err) => err),
  ]);
  if (!ctx.alive()) return;
  const planIds = Array.isArray(plans?.ids) ? plans.ids : null;
  planSlot.replaceWith(planIds
    ? field('Plan', select(planIds, planIds.includes('standard') ? 'standard' : planIds[0], { id: 'new-account-plan', required: true }))
    : h('div', null, field('Plan', h('input', { id: 'new-account-plan', required: true, spellcheck: 'false' }), 'The plans could not be listed; type the plan id.'), errorBox(plans)));

  const records = await mapLimit(listed.ids, 6, (id) => api('GET', `accounts/${enc(id)}`).then((r) => ({ id, r }), (e) => ({ id, e })));
  if (!ctx.alive()) return;
  if (!records.length) {
    fill(listSlot, h('p', { class: 'empty' }, 'No accounts yet. Create the first one below.'));
    ctx.settled();
    return;
  }
  const rows = records.map(({ id, r, e }) => {
    const row = r
      ? tr(
        h('td', null, h('a', { href: `#/accounts/${enc(id)}` }, r.name), h('span', { class: 'sub mono' }, id)),
        h('td', null, h('a', { href: `#/plans/${enc(r.plan)}` }, r.plan)),
        h('td', null, badge(r.status)),
        h('td', { class: 'num' }, fmtInt(r.use_cases?.length ?? 0)),
        h('td', { class: 'num' }, fmtInt(r.redistribution?.recipients?.length ?? 0)),
        h('td', { class: 'links' },
          h('a', { href: `#/accounts/${enc(id)}/tokens`, 'aria-label': `Tokens of ${r.name}` }, 'Tokens'),
          h('a', { href: `#/accounts/${enc(id)}/usage`, 'aria-label': `Usage of ${r.name}` }, 'Usage'),
          h('a', { href: `#/accounts/${enc(id)}/audit`, 'aria-label': `Audit trail of ${r.name}` }, 'Audit')))
      : tr(
        h('td', null, h('a', { href: `#/accounts/${enc(id)}` }, id)),
        h('td', { colspan: '5' }, h('span', { class: 'problem-inline' }, `${e.title} (${e.status || 'network'}): ${e.detail}`)));
    row.dataset.filter = `${id} ${r?.name ?? ''} ${r?.plan ?? ''} ${r?.status ?? ''}`.toLowerCase();
    return row;
  });
  const count = h('p', { class: 'hint', 'aria-live': 'polite' });
  const filter = h('input', { type: 'search', spellcheck: 'false', autocomplete: 'off' });
  const showCount = (n) => { count.textContent = `${n} of ${rows.length} account${rows.length === 1 ? '' : 's'} shown.`; };
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    let n = 0;
    for (const row of rows) {
      row.hidden = Boolean(q) && !row.dataset.filter.includes(q);
      if (!row.hidden) n++;
    }
    showCount(n);
  });
  showCount(rows.length);
  fill(listSlot,
    h('div', { class: 'toolbar' }, field('Filter accounts', filter), count),
    listed.complete === false ? h('p', { class: 'hint' }, 'KV listed the first 1,000 accounts only.') : null,
    table(null, ['Account', 'Plan', 'Status', '#Use cases', '#Recipients', 'Pages'], rows, { class: 'accounts' }));
  ctx.settled();
}

function newAccountForm(ctx, planSlot) {
  const id = h('input', { required: true, spellcheck: 'false', autocomplete: 'off' });
  const name = h('input', { required: true, autocomplete: 'off' });
  const caseId = h('input', { spellcheck: 'false', autocomplete: 'off' });
  const caseDesc = h('input', { autocomplete: 'off' });
  const msg = msgSlot();
  const form = h('form', { novalidate: true },
    h('div', { class: 'grid' },
      field('Account id', id, ID_HINT),
      field('Name', name),
      planSlot,
      field('First use case id (optional)', caseId, 'Approved at once; apps name it when their token is issued.'),
      field('Use case description', caseDesc)),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create account')));
  onSubmit(form, async () => {
    fill(msg);
    const accountId = id.value.trim();
    const plan = form.querySelector('#new-account-plan')?.value.trim() ?? '';
    const missing = [[accountId, 'Account id', id], [name.value.trim(), 'Name', name], [plan, 'Plan', null]].find(([v]) => !v);
    if (missing) {
      msg.append(h('div', { class: 'error', role: 'alert' }, h('p', { class: 'error-head' }, `${missing[1]} is required.`)));
      missing[2]?.focus();
      return;
    }
    const record = { v: 1, id: accountId, name: name.value.trim(), plan, status: 'active' };
    if (caseId.value.trim()) record.use_cases = [{ id: caseId.value.trim(), status: 'approved', description: caseDesc.value.trim() }];
    try {
      // PUT writes whatever it is given: look first, so that creating never overwrites.
      const exists = await api('GET', `accounts/${enc(accountId)}`).then(() => true, (err) => (err.status === 404 ? false : Promise.reject(err)));
      if (exists) {
        msg.append(h('div', { class: 'error', role: 'alert' },
          h('p', { class: 'error-head' }, `An account with id ${accountId} already exists.`),
          h('p', null, h('a', { href: `#/accounts/${enc(accountId)}` }, `Open ${accountId}`), ' to change it.')));
        return;
      }
      await api('PUT', `accounts/${enc(accountId)}`, record);
    } catch (err) {
      if (ctx.alive()) msg.append(errorBox(err));
      return;
    }
    navigate(`/accounts/${accountId}`, `Account ${accountId} created.`);
  });
  return form;
}

const TABS = [['overview', 'Overview'], ['tokens', 'Tokens'], ['usage', 'Usage'], ['audit', 'Audit trail'], ['events', 'Pooling and resale'], ['statement', 'Statement']];

export async function accountView(ctx, id, tab, month) {
  const title = heading(id);
  const meta = h('p', { class: 'meta' });
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Account pages' }, TABS.map(([key, text]) =>
    h('a', { href: `#/accounts/${enc(id)}${key === 'overview' ? '' : `/${key}`}`, 'aria-current': key === tab ? 'page' : null }, text)));
  const panel = h('div', { class: 'panel' }, h('p', { class: 'loading' }, 'Loading the account…'));
  ctx.main.append(h('p', { class: 'crumbs' }, h('a', { href: '#/accounts' }, 'Accounts'), ' / ', id), title, meta, tabs, panel);

  let account;
  try {
    account = await api('GET', `accounts/${enc(id)}`);
  } catch (err) {
    if (!ctx.alive()) return;
    fill(panel, errorBox(err), h('p', null, h('a', { href: '#/accounts' }, 'Back to the accounts')));
    return;
  }
  if (!ctx.alive()) return;
  title.textContent = account.name;
  document.title = `${account.name} · Tollgate console`;
  fill(meta,
    h('span', { class: 'mono' }, account.id), ' · plan ', h('a', { href: `#/plans/${enc(account.plan)}` }, account.plan), ' · ', badge(account.status));
  fill(panel);
  const panels = { overview: overviewPanel, tokens: tokensPanel, usage: usagePanel, audit: auditPanel, events: eventsPanel, statement: statementPanel };
  await panels[tab](ctx, account, panel, month);
  if (ctx.alive()) ctx.settled();
}

async function overviewPanel(ctx, account, panel) {
  const id = account.id;
  const [report, plans] = await Promise.all([
    api('GET', `accounts/${enc(id)}/report`).catch((err) => err),
    api('GET', 'plans').catch(() => null),
  ]);
  if (!ctx.alive()) return;

  // Standing: status, and the guard's own view (which refuses at once).
  const standingMsg = msgSlot();
  const suspended = account.status === 'suspended';
  const toggle = actionButton(suspended ? 'Reinstate account' : 'Suspend account', async () => {
    if (!suspended && !window.confirm(`Suspend ${id}? Every token of the account is refused from its next request.`)) return;
    await change(ctx, standingMsg, () => api('POST', `accounts/${enc(id)}/${suspended ? 'reinstate' : 'suspend'}`),
      suspended ? `Account ${id} reinstated. Edges follow once KV and their caches catch up (about 90 s).` : `Account ${id} suspended: its tokens are refused from now on.`,
      'sec-standing');
  }, { class: suspended ? 'primary' : 'danger' });
  const reportFacts = report instanceof Error
    ? [['Guard', errorBox(report)]]
    : [
      ['Guard standing', report.suspended ? badge('suspended') : badge('active')],
      [`Distinct items in ${report.month}`, fmtInt(report.month_distinct_items)],
      ['Audit entries', h('a', { href: `#/accounts/${enc(id)}/audit` }, fmtInt(report.audit_entries))],
      ['Pooling and resale events', h('a', { href: `#/accounts/${enc(id)}/events` }, fmtInt(report.events?.length ?? 0))],
    ];
  const operate = can('operate');
  const standing = section('sec-standing', 'Standing',
    dl([['Status', badge(account.status)], ['Plan', h('a', { href: `#/plans/${enc(account.plan)}` }, account.plan)], ...reportFacts]),
    standingMsg,
    operate ? h('div', { class: 'actions' }, toggle) : readOnly('suspending and reinstating are for operators and owners.'));

  // Name and plan.
  const detailsMsg = msgSlot();
  const name = h('input', { value: account.name, required: true, autocomplete: 'off' });
  const planIds = plans?.ids ?? [];
  const plan = planIds.length
    ? select(planIds.includes(account.plan) ? planIds : [account.plan, ...planIds], account.plan)
    : h('input', { value: account.plan, spellcheck: 'false' });
  const detailsForm = onSubmit(h('form', { novalidate: true },
    h('div', { class: 'grid' }, field('Name', name), field('Plan', plan)),
    detailsMsg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save name and plan'))),
  () => required(detailsMsg, [[name, 'Name'], [plan, 'Plan']]) && change(ctx, detailsMsg, () => api('PUT', `accounts/${enc(id)}`, { ...account, name: name.value.trim(), plan: plan.value.trim() }),
    `Account ${id} saved.`, 'sec-details'));
  const details = section('sec-details', 'Name and plan', operate ? detailsForm : dl([['Name', account.name], ['Plan', account.plan]]));

  // Use cases.
  const cases = account.use_cases ?? [];
  const ucMsg = msgSlot();
  const ucId = h('input', { required: true, spellcheck: 'false', autocomplete: 'off' });
  const ucStatus = select(USE_CASE_STATUSES, 'approved');
  const ucDesc = h('input', { autocomplete: 'off' });
  const ucForm = onSubmit(h('form', { novalidate: true },
    h('h3', null, 'Add or change a use case'),
    h('div', { class: 'grid' }, field('Use case id', ucId, ID_HINT), field('Status', ucStatus), field('Description', ucDesc)),
    ucMsg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save use case'))),
  () => required(ucMsg, [[ucId, 'Use case id']]) && change(ctx, ucMsg, () => api('PUT', `accounts/${enc(id)}/use-cases/${enc(ucId.value.trim())}`, { status: ucStatus.value, description: ucDesc.value }),
    `Use case ${ucId.value.trim()} saved.`, 'sec-use-cases'));
  const useCases = section('sec-use-cases', 'Use cases',
    h('p', { class: 'hint' }, 'A token names one of these; requests of apps whose use case is not approved are refused.'),
    cases.length
      ? table(null, ['Use case', 'Status', 'Description', ''], cases.map((c) => tr(
        h('span', { class: 'mono' }, c.id), badge(c.status), c.description || '—',
        operate ? h('button', { type: 'button', class: 'link', 'aria-label': `Edit use case ${c.id}`, onclick: () => {
          ucId.value = c.id; ucStatus.value = c.status; ucDesc.value = c.description ?? ''; ucStatus.focus();
        } }, 'Edit') : '')))
      : h('p', { class: 'empty' }, 'No use cases: every request of this account is refused (use-case-missing) until one is approved.'),
    operate ? ucForm : null);

  // Redistribution terms and recipients.
  const red = account.redistribution ?? { serves_recipients: false, mode: 'none', ids_per_entity_30d: 1500000, recipients: [] };
  const redMsg = msgSlot();
  const serves = h('input', { type: 'checkbox', id: nextId(), checked: Boolean(red.serves_recipients) });
  const mode = select(MODES, red.mode);
  const cap = h('input', { type: 'number', min: '1', step: '1', value: String(red.ids_per_entity_30d ?? 1500000), inputmode: 'numeric' });
  const redForm = onSubmit(h('form', { novalidate: true },
    h('div', { class: 'check' }, serves, h('label', { for: serves.id }, 'Serves downstream recipients (requests must name one in x-tollgate-recipient)')),
    h('div', { class: 'grid' }, field('Default form', mode), field('IDs per entity per 30 days', cap)),
    redMsg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save redistribution terms'))),
  () => change(ctx, redMsg, () => api('PUT', `accounts/${enc(id)}`, {
    ...account,
    redistribution: { ...red, serves_recipients: serves.checked, mode: mode.value, ids_per_entity_30d: Number(cap.value) },
  }), 'Redistribution terms saved.', 'sec-redistribution'));

  const recipients = red.recipients ?? [];
  const rMsg = msgSlot();
  const rId = h('input', { required: true, spellcheck: 'false', autocomplete: 'off' });
  const rClass = select(CLASSES, 'commercial');
  const rEntity = h('input', { required: true, spellcheck: 'false', autocomplete: 'off' });
  const rApproval = select(APPROVALS, 'pending');
  const rMode = select([['', 'the account’s default'], ...MODES], '');
  const rRef = h('input', { autocomplete: 'off' });
  const rDate = h('input', { type: 'date' });
  const rForm = onSubmit(h('form', { novalidate: true },
    h('h3', null, 'Add or change a recipient'),
    h('div', { class: 'grid' },
      field('Recipient id', rId, ID_HINT), field('Class', rClass), field('Entity', rEntity, 'Recipients of one entity share the 30-day ID count.'),
      field('Approval', rApproval), field('Form', rMode),
      field('Government approval reference', rRef, 'Government recipients need a written approval on record.'), field('Approved on (UTC)', rDate)),
    rMsg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save recipient'))),
  () => {
    if (!required(rMsg, [[rId, 'Recipient id'], [rEntity, 'Entity']])) return null;
    const body = { id: rId.value.trim(), class: rClass.value, entity: rEntity.value.trim(), approval: rApproval.value };
    if (rMode.value) body.mode = rMode.value;
    if (rRef.value.trim() || rDate.value) {
      body.government_approval = { reference: rRef.value.trim(), approved_at: rDate.value ? Math.floor(Date.parse(`${rDate.value}T00:00:00Z`) / 1000) : 0 };
    }
    return change(ctx, rMsg, () => api('PUT', `accounts/${enc(id)}/recipients/${enc(body.id)}`, body), `Recipient ${body.id} saved.`, 'sec-redistribution');
  });
  const redistribution = section('sec-redistribution', 'Redistribution and recipients',
    operate ? redForm : dl([['Serves recipients', red.serves_recipients ? 'yes' : 'no'], ['Default form', red.mode], ['IDs per entity per 30 days', fmtInt(red.ids_per_entity_30d ?? 1500000)]]),
    recipients.length
      ? table('Recipients', ['Recipient', 'Class', 'Entity', 'Approval', 'Form', 'Government approval', ''], recipients.map((r) => tr(
        h('span', { class: 'mono' }, r.id), r.class, h('span', { class: 'mono' }, r.entity), badge(r.approval), r.mode ?? `default (${red.mode})`,
        r.government_approval ? `${r.government_approval.reference}, ${new Date(r.government_approval.approved_at * 1000).toISOString().slice(0, 10)}` : '—',
        operate ? h('button', { type: 'button', class: 'link', 'aria-label': `Edit recipient ${r.id}`, onclick: () => {
          rId.value = r.id; rClass.value = r.class; rEntity.value = r.entity; rApproval.value = r.approval; rMode.value = r.mode ?? '';
          rRef.value = r.government_approval?.reference ?? '';
          rDate.value = r.government_approval ? new Date(r.government_approval.approved_at * 1000).toISOString().slice(0, 10) : '';
          rApproval.focus();
        } }, 'Edit') : '')))
      : h('p', { class: 'empty' }, 'No recipients declared.'),
    operate ? rForm : null);

  // The whole record, as stored.
  const jsonMsg = msgSlot();
  const text = h('textarea', { rows: '16', spellcheck: 'false', class: 'mono', value: JSON.stringify(account, null, 2) });
  const jsonForm = onSubmit(h('form', { novalidate: true },
    field('Account record (JSON)', text, 'Written as it is with PUT; the API validates every field and writes nothing if one is wrong.'),
    jsonMsg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save record'))),
  () => {
    try { JSON.parse(text.value); } catch (e) {
      fill(jsonMsg, h('div', { class: 'error', role: 'alert' }, h('p', { class: 'error-head' }, 'The text is not valid JSON'), h('p', { class: 'error-detail' }, e.message)));
      return null;
    }
    return change(ctx, jsonMsg, () => api('PUT', `accounts/${enc(id)}`, text.value), `Account ${id} saved.`, 'sec-json');
  });
  const json = section('sec-json', 'Record as JSON', operate
    ? h('details', null, h('summary', null, 'Show and edit the stored record'), jsonForm)
    : h('details', null, h('summary', null, 'Show the stored record'), h('pre', { class: 'mono' }, JSON.stringify(account, null, 2))));

  panel.append(standing, details, useCases, redistribution, json);
}

function section(id, title, ...children) {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id, tabindex: '-1' }, title), ...children);
}
