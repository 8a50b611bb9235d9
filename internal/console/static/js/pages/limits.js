// Quotas: the org's caps per service (or all services), metric and UTC day
// or month, with what is used in the current window. Org admins read them;
// only a platform admin key may set or remove one (so an org cannot raise
// its own quota), and the page says so instead of showing the form.
import * as api from '../api.js';
import { h, field, select, errorNotice, loading, empty, replace, pageHead, busy, setError, formatTime, toast } from '../ui.js';

const METRICS = [['requests', 'Requests'], ['characters', 'Characters (TTS)'], ['renders', 'Renders (videos)']];
const PERIODS = [['day', 'Per UTC day'], ['month', 'Per UTC month']];

export async function render(container, ctx) {
  const canEdit = ctx.session.role === 'platform';
  container.append(pageHead('Quotas & limits', `Caps on what org ${ctx.session.org} may spend per day or month. A call that would pass a quota gets a 429 quota_exceeded.`));
  const table = h('div', {}, loading('Loading quotas…'));
  const refresh = async () => {
    try {
      const list = await api.listQuotas();
      replace(table, list.length ? quotaTable(list, canEdit, refresh) : empty('No quotas: this org’s use is not capped.'));
    } catch (err) {
      replace(table, errorNotice(err));
    }
  };
  if (canEdit) {
    let services = [];
    try { services = (await api.listServices()).map((s) => s.slug); } catch { /* the form still offers "all services" */ }
    container.append(quotaForm(services, refresh));
  } else {
    container.append(h('div', { class: 'notice read-only', role: 'note', 'data-testid': 'read-only' },
      h('strong', { text: 'Read only.' }),
      ' Quotas are set by the platform’s operators: an org admin key can see them but not change them. Sign in with a platform admin key to set or remove one.'));
  }
  container.append(h('h2', { text: 'Quotas' }), table);
  await refresh();
}

function quotaForm(services, refresh) {
  const service = field('Service', select([['', 'All services together'], ...services], { name: 'service' }));
  const metric = field('Metric', select(METRICS, { name: 'metric' }));
  const period = field('Period', select(PERIODS, { name: 'period' }));
  const limit = field('Limit', h('input', { type: 'number', name: 'limit', min: 1, step: 1, required: true, inputmode: 'numeric' }),
    { hint: 'A whole number.' });
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Save quota' });
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'quota-form-title' },
    h('h2', { id: 'quota-form-title', text: 'Set a quota' }),
    h('p', { class: 'muted small', text: 'Requests are calls that reach the provider, characters the text sent to text-to-speech, renders the videos started. Setting the service, metric and period of an existing quota changes its limit.' }),
    h('div', { class: 'row row-top' }, service, metric, period, limit), status, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    replace(status);
    const n = Number(limit.control.value);
    if (!limit.control.value || !Number.isInteger(n) || n < 1) {
      setError(limit, 'Enter a whole number of 1 or more.');
      limit.control.focus();
      return;
    }
    setError(limit, '');
    await busy(submit, 'Saving…', async () => {
      try {
        await api.setQuota({ service: service.control.value, metric: metric.control.value, period: period.control.value, limit: n });
        toast('Quota saved.');
        limit.control.value = '';
        await refresh();
      } catch (err) {
        replace(status, errorNotice(err, 'The quota was not saved'));
      }
    });
  });
  return form;
}

function usageCell(q) {
  const pct = q.limit > 0 ? Math.min(100, Math.round((q.used / q.limit) * 100)) : 0;
  return h('td', {}, h('div', { text: `${q.used.toLocaleString()} of ${q.limit.toLocaleString()} (${pct}%)` }),
    h('progress', { max: q.limit, value: Math.min(q.used, q.limit), 'aria-label': `${q.metric} used: ${pct}%` }));
}

function quotaTable(list, canEdit, refresh) {
  const rows = list.map((q) => {
    const name = `${q.service || 'all services'} ${q.metric} per ${q.period}`;
    const cell = h('td', {});
    if (canEdit) cell.append(deleteButton(q, name, cell, refresh));
    return h('tr', { 'data-quota': `${q.service}/${q.metric}/${q.period}` },
      h('td', {}, q.service ? h('span', { class: 'mono', text: q.service }) : h('em', { text: 'All services' })),
      h('td', { text: q.metric }), h('td', { text: q.period }), usageCell(q),
      h('td', { text: q.window_start ? formatTime(q.window_start) : '—' }),
      canEdit ? cell : null);
  });
  const cols = ['Service', 'Metric', 'Period', 'Used', 'Window started', ...(canEdit ? ['Actions'] : [])];
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden', text: 'Quotas' }),
    h('thead', {}, h('tr', {}, cols.map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows)));
}

function deleteButton(q, name, cell, refresh) {
  const btn = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Remove', 'aria-label': `Remove quota ${name}` });
  btn.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', text: 'Remove now', 'aria-label': `Confirm: remove quota ${name}` });
    const no = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Cancel' });
    replace(cell, h('div', { class: 'actions', role: 'group', 'aria-label': 'Confirm removal' }, yes, no));
    yes.focus();
    no.addEventListener('click', () => { replace(cell, deleteButton(q, name, cell, refresh)); cell.querySelector('button').focus(); });
    yes.addEventListener('click', () => busy(yes, 'Removing…', async () => {
      try {
        await api.deleteQuota(q);
        toast(`Quota ${name} removed.`);
        await refresh();
      } catch (err) {
        replace(cell, errorNotice(err));
      }
    }));
  });
  return btn;
}
