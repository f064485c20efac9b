// An account's apps and their tokens: issue (the token is shown once, here, and kept nowhere),
// rotate, suspend, reinstate and revoke; for operators and owners only (an auditor sees the list).
import { api, can, errorBox } from './api.js';
import { actionButton, badge, field, fill, fmtTime, h, msgSlot, onSubmit, required, select, table, tr } from './dom.js';
import { announce, readOnly } from './ui.js';

const enc = encodeURIComponent;

export async function tokensPanel(ctx, account, panel) {
  const id = account.id;
  const onceSlot = h('div');
  const listSlot = h('div', null, h('p', { class: 'loading' }, 'Loading tokens…'));
  const listMsg = msgSlot();

  const app = h('input', { required: true, spellcheck: 'false', autocomplete: 'off' });
  const cases = account.use_cases ?? [];
  const useCase = select([['', 'none'], ...cases.map((c) => [c.id, c.status === 'approved' ? c.id : `${c.id} (${c.status})`])],
    cases.find((c) => c.status === 'approved')?.id ?? '');
  const expires = h('input', { type: 'date' });
  const issueMsg = msgSlot();
  const issueForm = onSubmit(h('form', { novalidate: true },
    h('div', { class: 'grid' },
      field('App id', app, 'Names the app in usage and audit: 1 to 64 characters of a-z 0-9 . _ -'),
      field('Use case', useCase, cases.length ? 'The approved use case the app’s requests are for.' : 'The account has no use cases: add one on the overview first.'),
      field('Expires on (UTC, optional)', expires, 'The token stops working at 00:00 UTC on this day.')),
    issueMsg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Issue token'))),
  async () => {
    fill(issueMsg);
    if (!required(issueMsg, [[app, 'App id']])) return;
    const body = { app: app.value.trim() };
    if (useCase.value) body.use_case = useCase.value;
    if (expires.value) body.expires_at = Math.floor(Date.parse(`${expires.value}T00:00:00Z`) / 1000);
    let issued;
    try {
      issued = await api('POST', `accounts/${enc(id)}/tokens`, body);
    } catch (err) {
      if (ctx.alive()) issueMsg.append(errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    app.value = '';
    showOnce(issued, `New token for ${issued.app}`);
    await load();
  });

  panel.append(
    onceSlot,
    h('section', { class: 'card', 'aria-labelledby': 'sec-tokens' },
      h('h2', { id: 'sec-tokens', tabindex: '-1' }, 'Tokens'),
      h('p', { class: 'hint' }, 'Tokens issued through the admin API, by app. Only each token’s SHA-256 is stored. Revoking is at once, at every edge; a revoked token never comes back.'),
      listMsg,
      listSlot),
    can('operate')
      ? h('section', { class: 'card', 'aria-labelledby': 'sec-issue' },
        h('h2', { id: 'sec-issue', tabindex: '-1' }, 'Issue a token'),
        issueForm)
      : readOnly('tokens are issued, rotated, suspended and revoked by operators and owners.'));

  /** The one-time display of a new token: it lives in this element only, until dismissed. */
  function showOnce(issued, title) {
    const value = h('input', { type: 'text', readOnly: true, value: issued.token, class: 'mono token', spellcheck: 'false', autocomplete: 'off' });
    const copyMsg = h('span', { class: 'hint', 'aria-live': 'polite' });
    const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
    copy.addEventListener('click', async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(value.value);
        copyMsg.textContent = 'Copied.';
      } catch {
        copyMsg.textContent = 'Copying was not allowed: the token is selected, press Ctrl+C.';
      }
    });
    const done = h('button', { type: 'button', class: 'primary' }, 'I have stored it');
    done.addEventListener('click', () => {
      fill(onceSlot);
      announce('The new token was removed from the page.');
      app.focus();
    });
    const box = h('section', { class: 'card once', 'aria-labelledby': 'once-title' },
      h('h2', { id: 'once-title', tabindex: '-1' }, title),
      h('p', null, h('strong', null, 'Copy it now: it is shown once.'), ' Only its SHA-256 is stored, so nobody can show it again. Give it to the customer over a secure channel.'),
      field('New token', value),
      h('p', { class: 'hint mono' }, `SHA-256 ${issued.token_sha256}`),
      h('div', { class: 'actions' }, copy, done, copyMsg));
    fill(onceSlot, box);
    value.focus();
    value.select();
  }

  async function tokenAction(row, action) {
    const short = row.token_sha256.slice(0, 12);
    const questions = {
      revoke: `Revoke the token of ${row.app} (${short}…)? It is refused from its next request, at every edge, and cannot be reinstated.`,
      rotate: `Rotate the token of ${row.app} (${short}…)? The old token is revoked at once and a new one is shown here once.`,
      suspend: `Suspend the token of ${row.app} (${short}…)? It is refused until reinstated.`,
    };
    if (questions[action] && !window.confirm(questions[action])) return;
    fill(listMsg);
    let result;
    try {
      result = await api('POST', `tokens/${row.token_sha256}/${action}`);
    } catch (err) {
      if (ctx.alive()) listMsg.append(errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    const past = { revoke: 'revoked', suspend: 'suspended', reinstate: 'reinstated', rotate: 'rotated' }[action];
    announce(`The token of ${row.app} (${short}…) was ${past}.`);
    if (action === 'rotate') showOnce(result, `New token for ${result.app} (rotated)`);
    await load();
    if (action !== 'rotate') document.getElementById('sec-tokens')?.focus();
  }

  async function load() {
    let listed;
    try {
      listed = await api('GET', `accounts/${enc(id)}/tokens`);
    } catch (err) {
      if (ctx.alive()) fill(listSlot, errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    const tokens = listed.tokens ?? [];
    if (!tokens.length) {
      fill(listSlot, h('p', { class: 'empty' }, 'No tokens issued through the admin API yet. (Tokens written straight to KV are not listed here.)'));
      return;
    }
    const rows = tokens.map((t) => {
      const label = `${t.app} (${t.token_sha256.slice(0, 12)}…)`;
      const actions = t.status === 'revoked' || !can('operate')
        ? h('span', { class: 'hint' }, t.status === 'revoked' ? 'none: revoked for good' : '—')
        : h('div', { class: 'row-actions' },
          actionButton('Rotate', () => tokenAction(t, 'rotate'), { class: 'secondary small', 'aria-label': `Rotate ${label}` }),
          t.status === 'suspended'
            ? actionButton('Reinstate', () => tokenAction(t, 'reinstate'), { class: 'secondary small', 'aria-label': `Reinstate ${label}` })
            : actionButton('Suspend', () => tokenAction(t, 'suspend'), { class: 'secondary small', 'aria-label': `Suspend ${label}` }),
          actionButton('Revoke', () => tokenAction(t, 'revoke'), { class: 'danger small', 'aria-label': `Revoke ${label}` }));
      const row = tr(h('span', { class: 'mono' }, t.app), h('code', null, `${t.token_sha256.slice(0, 12)}…`), badge(t.status), fmtTime(t.updated_at), actions);
      row.dataset.app = t.app;
      row.dataset.hash = t.token_sha256;
      return row;
    });
    fill(listSlot, table(null, ['App', 'Token SHA-256', 'Status', 'Changed', 'Actions'], rows, { class: 'tokens' }));
  }

  await load();
}
