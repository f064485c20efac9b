// A small DOM toolkit: elements are built with text nodes only (never innerHTML), so nothing
// the admin API returns can become markup.

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'readOnly', 'required', 'open']);

/** `h('a', { href: '#/x', class: 'btn' }, 'text', child, [more])` */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's children; like `replaceChildren`, but nothing (null, false) is no node. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A unique element id, for label/field and aria-describedby pairs. */
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

/** A labelled form field: `field('App id', h('input', {...}), 'hint')` → the wrapper. */
export function field(label, control, hint) {
  control.id ||= nextId();
  const hintEl = hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

export const select = (options, value, props = {}) =>
  h('select', props, options.map((o) => {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: v === value }, text);
  }));

const intFmt = new Intl.NumberFormat('en-US');
export const fmtInt = (n) => (typeof n === 'number' ? intFmt.format(n) : '–');

export function fmtBytes(n) {
  if (typeof n !== 'number') return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** Unix milliseconds → `2026-04-05 12:34:56 UTC`. */
export function fmtTime(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A status word as a badge; the word itself carries the meaning, the colour only helps. */
export const badge = (word) => h('span', { class: `badge badge-${String(word).replace(/[^a-z_-]/g, '')}` }, word);

/** A table; a header written `#Requests` heads a column of numbers (aligned right). */
export const table = (caption, headers, rows, props = {}) =>
  h('div', { class: 'table-wrap' },
    h('table', props,
      caption ? h('caption', null, caption) : null,
      h('thead', null, h('tr', null, headers.map((t) => (t.startsWith('#')
        ? h('th', { scope: 'col', class: 'num' }, t.slice(1))
        : h('th', { scope: 'col' }, t))))),
      h('tbody', null, rows)));

export const tr = (...cells) => h('tr', null, cells.map((c) => (c instanceof HTMLTableCellElement ? c : h('td', null, c))));

export const num = (n) => h('td', { class: 'num' }, fmtInt(n));

/** A `<dl>` from [term, description] pairs. */
export const dl = (pairs, props = {}) => h('dl', { class: 'facts', ...props }, pairs.map(([t, d]) => h('div', null, h('dt', null, t), h('dd', null, d))));

/** A button that disables itself while its async action runs. */
export function actionButton(text, action, props = {}) {
  const btn = h('button', { type: 'button', ...props }, text);
  btn.addEventListener('click', async () => {
    if (btn.disabled) return;
    btn.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    try { await action(btn); } finally { btn.disabled = false; btn.removeAttribute('aria-busy'); }
  });
  return btn;
}

/** Handles a form's submit with the submit button disabled while `action` runs. */
export function onSubmit(form, action) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const buttons = form.querySelectorAll('button[type=submit]');
    if ([...buttons].some((b) => b.disabled)) return;
    buttons.forEach((b) => { b.disabled = true; b.setAttribute('aria-busy', 'true'); });
    try { await action(); } finally { buttons.forEach((b) => { b.disabled = false; b.removeAttribute('aria-busy'); }); }
  });
  return form;
}

/** The place under a form where its outcome is said. */
export const msgSlot = () => h('div', { class: 'msg' });

/** A message box in `slot` that is not from the API: `role=alert`, so it is announced. */
export function sayError(slot, head, detail) {
  fill(slot, h('div', { class: 'error', role: 'alert' }, h('p', { class: 'error-head' }, head), detail ? h('p', { class: 'error-detail' }, detail) : null));
}

/** Checks that the given inputs are filled; otherwise says which one is not, and focuses it. */
export function required(slot, fields) {
  const empty = fields.find(([input]) => !input.value.trim());
  if (!empty) return true;
  sayError(slot, `${empty[1]} is required.`);
  empty[0].focus();
  return false;
}
