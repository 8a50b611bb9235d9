// Budgets: an org admin's spending caps in US dollars per UTC day, week,
// month or for good, on the org, its keys, its users or their tokens; a
// form to add one, deletion with an inline confirmation, and what each
// budget has spent, holds and has left in its current window.
import * as api from '../api.js';
import { WINDOWS, dollarsToMicros, formatDollars, usedMeter, zoneBadge } from '../budget.js';
import { h, field, select, errorNotice, loading, empty, replace, pageHead, busy, setError, toast, formatTime } from '../ui.js';

const SCOPES = [['user', 'Users'], ['org', 'The whole org'], ['key', 'API keys'], ['token', 'User tokens']];
const PERIODS = [['month', 'Per UTC month'], ['week', 'Per UTC week (from Monday)'], ['day', 'Per UTC day'], ['lifetime', 'For good (never resets)']];
const SUBJECT_HINTS = {
  user: 'A user of the org, e.g. alice. Leave empty for a default that each user gets separately.',
  key: 'An API key id. Leave empty for a default that each key gets separately.',
  token: 'A user token id. Leave empty for a default that each token gets separately.',
  org: 'The org’s budget caps all its calls together: no subject.',
};

/** subjectText names whom a budget caps: "the org", "each user", "user alice". */
function subjectText(scope, subject) {
  if (scope === 'org') return 'the org';
  return subject ? `${scope} ${subject}` : `each ${scope}`;
}

/** budgetName is a budget in words, for labels: "monthly budget of each user". */
const budgetName = (b) => `${WINDOWS[b.window] || b.window} budget of ${subjectText(b.scope, b.subject)}`;

export async function render(container, ctx) {
  container.append(pageHead('Budgets',
    `Spending caps for org ${ctx.session.org} in US dollars. A call that a blocking budget cannot cover is refused with 402 budget_exceeded before it reaches the provider; users see their own budgets as a percentage, without amounts.`));
  const defs = h('div', {}, loading('Loading budgets…'));
  const status = h('div', {}, loading('Loading spending…'));
  const refresh = async () => {
    const [list, spending] = await Promise.allSettled([api.listBudgets(), api.budgetStatus()]);
    replace(defs, list.status === 'rejected' ? errorNotice(list.reason)
      : list.value.length ? budgetTable(list.value, refresh) : empty('No budgets: this org’s spending is not capped.'));
    replace(status, spending.status === 'rejected' ? errorNotice(spending.reason)
      : spending.value.length ? statusTable(spending.value)
        : empty('Nothing to show yet: a default budget appears here for each user, key or token once it spends.'));
  };
  container.append(budgetForm(refresh),
    h('h2', { text: 'Budgets' }), defs,
    h('h2', { text: 'Spending this window' }), status);
  await refresh();
}

function budgetForm(refresh) {
  const scope = field('Applies to', select(SCOPES, { name: 'scope' }));
  const subject = field('Subject', h('input', { type: 'text', name: 'subject', spellcheck: 'false', autocomplete: 'off', maxlength: 128 }),
    { hint: SUBJECT_HINTS.user });
  const hint = subject.querySelector('.hint');
  const period = field('Window', select(PERIODS, { name: 'window' }));
  const limit = field('Limit', h('input', { type: 'text', name: 'limit', inputmode: 'decimal', autocomplete: 'off', required: true }),
    { hint: 'In US dollars, e.g. 5.00 (to the micro-dollar).' });
  const alertOnly = h('input', { type: 'checkbox', name: 'alert_only', id: 'budget-alert-only' });
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Add budget' });
  scope.control.addEventListener('change', () => {
    const org = scope.control.value === 'org';
    subject.control.disabled = org;
    if (org) subject.control.value = '';
    hint.textContent = SUBJECT_HINTS[scope.control.value];
  });
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'budget-form-title' },
    h('h2', { id: 'budget-form-title', text: 'Add a budget' }),
    h('p', { class: 'muted small', text: 'A budget naming a user, key or token replaces the default of the same window for it. Alerts go to the audit log at 80% and 95% of the limit.' }),
    h('div', { class: 'row row-top' }, scope, subject, period, limit),
    h('label', { class: 'check', for: 'budget-alert-only' }, alertOnly, 'Alert only: count and alert, but never refuse a call'),
    status, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    replace(status);
    const micros = dollarsToMicros(limit.control.value);
    if (micros === null) {
      setError(limit, 'Enter an amount in dollars, such as 5.00.');
      limit.control.focus();
      return;
    }
    setError(limit, '');
    await busy(submit, 'Adding…', async () => {
      try {
        const b = await api.setBudget({ scope: scope.control.value, subject: subject.control.value.trim() || undefined,
          window: period.control.value, limitMicros: micros, enforcement: alertOnly.checked ? 'alert_only' : undefined });
        toast(`Budget added: ${budgetName(b)}, ${formatDollars(b.limit_micros)}.`);
        limit.control.value = '';
        subject.control.value = '';
        await refresh();
      } catch (err) {
        replace(status, errorNotice(err, 'The budget was not added'));
      }
    });
  });
  return form;
}

function budgetTable(list, refresh) {
  const rows = list.map((b) => {
    const cell = h('td', {});
    cell.append(deleteButton(b, cell, refresh));
    return h('tr', { 'data-budget': b.id },
      h('td', { text: b.scope }),
      h('td', {}, b.scope === 'org' ? '—' : b.subject ? h('span', { class: 'mono', text: b.subject }) : h('em', { text: `Each ${b.scope}` })),
      h('td', { text: WINDOWS[b.window] || b.window }),
      h('td', { class: 'num', text: formatDollars(b.limit_micros) }),
      h('td', { text: (b.alert_thresholds || []).map((t) => `${Math.round(t * 1000) / 10}%`).join(', ') }),
      h('td', { text: b.enforcement === 'alert_only' ? 'alert only' : 'block' }),
      cell);
  });
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden', text: 'Budgets' }),
    h('thead', {}, h('tr', {}, ['Scope', 'Subject', 'Window', 'Limit', 'Alerts at', 'At the limit', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows)));
}

function statusTable(list) {
  const rows = list.map((s) => h('tr', { 'data-status-budget': s.id, 'data-subject': s.subject || '' },
    h('td', {}, h('div', { text: s.scope }), h('div', { class: 'small muted', text: s.scope === 'org' ? 'the org' : s.subject })),
    h('td', { text: WINDOWS[s.window] || s.window }),
    h('td', { class: 'num', text: formatDollars(s.spent_micros) }),
    h('td', { class: 'num', text: formatDollars(s.reserved_micros) }),
    h('td', { class: 'num', text: formatDollars(s.limit_micros) }),
    h('td', { class: 'num', text: formatDollars(s.remaining_micros) }),
    h('td', {}, usedMeter(s.percent, `${budgetName(s)}: ${s.percent}% used`)),
    h('td', {}, zoneBadge(s.zone)),
    h('td', { text: s.resets_at ? formatTime(s.resets_at) : 'Never' })));
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden', text: 'Spending this window' }),
    h('thead', {}, h('tr', {}, ['Budget', 'Window', 'Spent', 'Held', 'Limit', 'Left', 'Used', 'Zone', 'Resets'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows)));
}

function deleteButton(b, cell, refresh) {
  const name = budgetName(b);
  const btn = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Delete', 'aria-label': `Delete ${name}` });
  btn.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', text: 'Delete now', 'aria-label': `Confirm: delete ${name}` });
    const no = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Cancel' });
    replace(cell, h('div', { class: 'actions', role: 'group', 'aria-label': 'Confirm deletion' }, yes, no));
    yes.focus();
    no.addEventListener('click', () => { replace(cell, deleteButton(b, cell, refresh)); cell.querySelector('button').focus(); });
    yes.addEventListener('click', () => busy(yes, 'Deleting…', async () => {
      try {
        await api.deleteBudget(b.id);
        toast(`Deleted the ${name}.`);
        await refresh();
      } catch (err) {
        replace(cell, errorNotice(err));
      }
    }));
  });
  return btn;
}
