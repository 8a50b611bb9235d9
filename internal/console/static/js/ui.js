// Small DOM helpers shared by the pages: element building without innerHTML
// (so provider data can never inject markup), labelled form fields, and the
// loading, empty and error states every page shows the same way.
import * as session from './session.js';

/**
 * h builds an element. attrs keys: "class", "text", "on<event>" handlers,
 * boolean attributes (true sets, false omits), anything else as an attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = true;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let idCounter = 0;
/** uid returns a fresh id for label/aria wiring. */
export const uid = (prefix = 'f') => `${prefix}-${++idCounter}`;

/**
 * field wraps a control with its label, an optional hint and an error slot,
 * wiring for/id and aria-describedby. Returns the wrapper; the control is
 * wrapper.control and setError(wrapper, msg) shows an error.
 */
export function field(label, control, { hint, id } = {}) {
  control.id = control.id || id || uid();
  const hintEl = hint ? h('span', { class: 'hint', id: `${control.id}-hint`, text: hint }) : null;
  const errEl = h('span', { class: 'field-error', id: `${control.id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, errEl.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control, hintEl, errEl);
  wrap.control = control;
  wrap.errorEl = errEl;
  return wrap;
}

/** setError shows (or with an empty message clears) a field's error. */
export function setError(wrap, message) {
  wrap.errorEl.textContent = message || '';
  wrap.errorEl.hidden = !message;
  if (message) wrap.control.setAttribute('aria-invalid', 'true');
  else wrap.control.removeAttribute('aria-invalid');
}

/** select builds a <select> from [value, label] pairs or plain strings. */
export function select(options, { value, ...attrs } = {}) {
  const el = h('select', attrs, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, text: label });
  }));
  if (value !== undefined) el.value = value;
  return el;
}

/** loading is the loading state. */
export const loading = (what = 'Loading…') => h('p', { class: 'state state-loading', role: 'status', text: what });

/** empty is the empty state. */
export const empty = (text, ...extra) => h('div', { class: 'state' }, h('p', { text }), ...extra);

/**
 * errorText is what a person reads for an error: the contract's message
 * (detail || error), then the status and stable code.
 */
export function errorText(err) {
  if (!err) return '';
  return textOf(err.detail) || textOf(err.body && err.body.error) || textOf(err.message) || String(err);
}

// textOf reads a message from a string or from a provider's error object
// (ElevenLabs answers {"detail": {"status", "message"}}).
function textOf(v) {
  if (!v) return '';
  if (typeof v === 'string') return v === '[object Object]' ? '' : v;
  if (typeof v === 'object') return textOf(v.message) || textOf(v.detail) || textOf(v.error) || textOf(v.status) || JSON.stringify(v);
  return String(v);
}

/** errorMeta is the status and code line under an error message. */
export function errorMeta(err) {
  const parts = [];
  if (err && err.status) parts.push(`HTTP ${err.status}`);
  if (err && err.code) parts.push(err.code);
  const retry = err && (err.retryAfterSeconds ?? err.retryAfter);
  if (retry) parts.push(`retry after ${retry} s`);
  return parts.join(' · ');
}

/** errorNotice renders an error as an alert with its message and code. */
export function errorNotice(err, prefix) {
  const meta = errorMeta(err);
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('strong', { text: prefix ? `${prefix}: ${errorText(err)}` : errorText(err) }),
    budgetRefusal(err),
    meta ? h('span', { class: 'meta', text: meta }) : null,
    hintFor(err));
}

/**
 * budgetRefusal says, for a 402 budget_exceeded, which budget refused the
 * call and when it resets, in the reader's time zone (the message has it
 * in UTC); an org admin gets a link to the budgets. null for any other
 * error.
 */
function budgetRefusal(err) {
  if (!err || err.code !== 'budget_exceeded' || !err.scope) return null;
  const s = session.load();
  const own = s && s.member;
  const whose = {
    user: own ? 'your user budget' : 'the user’s budget',
    token: own ? 'your token’s budget' : 'the user token’s budget',
    key: 'the API key’s budget',
    org: 'the org’s budget',
  }[err.scope] || `the ${err.scope} budget`;
  const when = err.resetsAt ? `It resets ${formatTime(err.resetsAt)}.` : err.resetsAt === null ? 'It never resets.' : '';
  const admin = s && !s.member && (s.role === 'admin' || s.role === 'platform');
  return h('span', { class: 'budget-refusal', 'data-budget-refusal': err.scope },
    `Refused by ${whose}${admin && err.budgetId ? ` (${err.budgetId})` : ''}. ${when}`,
    admin ? [' ', h('a', { href: '#/budgets', text: 'See the budgets' })] : null);
}

function hintFor(err) {
  const hints = {
    401: 'Your API key or user token was not accepted: it may have expired or been revoked. Sign out and sign in again.',
    402: 'Spending budgets cap what this org, its keys and its users may spend; the call was not sent to the provider.',
    403: 'Your key or token may not do this. Admin pages need an org admin key.',
    429: 'Too many requests or a quota is used up. Wait a moment and try again.',
    502: 'The provider failed or refused our credential. Check the credential for this service.',
    504: 'The provider took too long to answer. Try again.',
  };
  const text = err && hints[err.status];
  return text ? h('span', { class: 'meta', text: ` ${text}` }) : null;
}

/** replace swaps a container's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** toast shows a short message in the polite live region. */
export function toast(text) {
  const region = document.getElementById('toasts');
  const t = h('div', { class: 'toast', text });
  region.append(t);
  setTimeout(() => t.remove(), 4000);
}

/** pageHead is a page's title and lede. */
export function pageHead(title, lede, ...actions) {
  return h('div', { class: 'page-head' },
    h('div', {}, h('h1', { text: title }), lede ? h('p', { class: 'lede', text: lede }) : null),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** formatTime shows an ISO time or a Unix second count in the local zone. */
export function formatTime(t) {
  if (!t) return '—';
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** debounce delays fn until calls pause for ms. */
export function debounce(fn, ms = 150) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

/** busy disables a button while an async action runs, with a label. */
export async function busy(button, label, action) {
  const old = button.textContent;
  button.disabled = true;
  button.textContent = label;
  button.setAttribute('aria-busy', 'true');
  try { return await action(); } finally {
    button.disabled = false;
    button.textContent = old;
    button.removeAttribute('aria-busy');
  }
}
