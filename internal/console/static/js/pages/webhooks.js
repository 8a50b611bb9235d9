// Webhooks: the org's endpoints that aiproxy calls when a job changes, each
// with its delivery log. A new endpoint's signing secret is shown once.
import * as api from '../api.js';
import { h, field, errorNotice, loading, empty, replace, pageHead, busy, setError, formatTime, toast } from '../ui.js';

const EVENTS = ['job.completed', 'job.failed', 'job.created', 'job.updated'];

export async function render(container, ctx) {
  container.append(pageHead('Webhooks', `Endpoints that aiproxy calls when a job of org ${ctx.session.org} changes, signed with their secret by the Standard Webhooks scheme (webhook-signature), with their delivery log.`));
  const created = h('div', { tabindex: '-1' });
  const list = h('div', {}, loading('Loading webhook endpoints…'));
  const open = new Set();
  const refresh = async () => {
    try {
      const eps = await api.listWebhooks();
      replace(list, eps.length ? h('div', { class: 'stack' }, eps.map((e) => endpointCard(e, open, refresh))) : empty('No webhook endpoints yet.'));
    } catch (err) {
      replace(list, errorNotice(err));
    }
  };
  container.append(createForm(created, refresh), created, h('h2', { text: 'Endpoints' }), list);
  await refresh();
  // Keep open delivery logs fresh while the page is shown.
  const timer = setInterval(() => { for (const fn of open) fn(); }, 3000);
  return () => clearInterval(timer);
}

function createForm(created, refresh) {
  const url = field('URL', h('input', { type: 'url', name: 'url', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://example.com/aiproxy' }),
    { hint: 'aiproxy POSTs each event here as JSON.' });
  const boxes = EVENTS.map((ev) => h('input', { type: 'checkbox', name: 'events', value: ev, checked: ev === 'job.completed' || ev === 'job.failed', id: `wh-ev-${ev.replace('.', '-')}` }));
  const events = h('fieldset', { class: 'field' }, h('legend', { text: 'Events' }),
    h('div', { class: 'actions' }, boxes.map((b) => h('label', { class: 'check', for: b.id }, b, ` ${b.value}`))));
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Add endpoint' });
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'wh-form-title' },
    h('h2', { id: 'wh-form-title', text: 'Add an endpoint' }), url, events, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const u = url.control.value.trim();
    if (!/^https?:\/\/\S+$/.test(u)) { setError(url, 'Enter an http:// or https:// URL.'); url.control.focus(); return; }
    setError(url, '');
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!chosen.length) { replace(created, errorNotice({ detail: 'Choose at least one event.' })); boxes[0].focus(); return; }
    await busy(submit, 'Adding…', async () => {
      try {
        const e = await api.createWebhook(u, chosen);
        replace(created, secretBox(e, created));
        url.control.value = '';
        created.focus();
        await refresh();
      } catch (err) {
        replace(created, errorNotice(err, 'The endpoint was not added'));
        created.focus();
      }
    });
  });
  return form;
}

function secretBox(e, slot) {
  const code = h('code', { class: 'secret', text: e.secret, 'data-testid': 'webhook-secret' });
  const copy = h('button', { type: 'button', class: 'btn btn-secondary btn-small', text: 'Copy' });
  copy.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(e.secret); toast('Secret copied.'); } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      toast('Selected: press Ctrl+C to copy.');
    }
  });
  return h('div', { class: 'notice notice-ok', role: 'alert' },
    h('strong', { text: `Endpoint added. Copy its signing secret now: it will not be shown again.` }),
    h('div', { class: 'secret-box' }, code, copy),
    h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'I have saved it', onclick: () => replace(slot) }));
}

function endpointCard(e, open, refresh) {
  const log = h('div', { class: 'delivery-log' });
  const load = async () => {
    try {
      const page = await api.listDeliveries({ endpointId: e.id, limit: 20 });
      const rows = (page && page.deliveries) || [];
      replace(log, rows.length ? deliveryTable(rows, e) : empty('No deliveries yet: they appear when a job event happens.'));
    } catch (err) {
      replace(log, errorNotice(err));
    }
  };
  const details = h('details', {}, h('summary', { text: 'Delivery log' }), log);
  details.addEventListener('toggle', () => {
    if (details.open) { replace(log, loading('Loading deliveries…')); load(); open.add(load); } else open.delete(load);
  });
  const cell = h('div', { class: 'actions' });
  cell.append(deleteButton(e, cell, open, load, refresh));
  return h('section', { class: 'card', 'data-webhook': e.id, 'aria-label': `Webhook ${e.url}` },
    h('h3', { class: 'mono', text: e.url }),
    h('p', { class: 'small muted' }, `${e.id} · added ${formatTime(e.created_at)} · `, (e.events || []).join(', ')),
    details, cell);
}

function deliveryTable(rows, e) {
  const badge = (s) => h('span', { class: `badge ${{ delivered: 'badge-ok', failed: 'badge-danger' }[s] || 'badge-accent'}`, text: s });
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden', text: `Deliveries to ${e.url}` }),
    h('thead', {}, h('tr', {}, ['Event', 'State', 'Attempts', 'Last status', 'Created', 'Delivered'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows.map((d) => h('tr', { 'data-delivery': d.id, 'data-state': d.state },
      h('td', {}, h('div', { text: d.event_type }), h('div', { class: 'mono small muted', text: d.event_id })),
      h('td', {}, badge(d.state), d.last_error ? h('div', { class: 'small', text: d.last_error }) : null),
      h('td', { text: String(d.attempts) }),
      h('td', { text: d.last_status ? String(d.last_status) : '—' }),
      h('td', { text: formatTime(d.created_at) }),
      h('td', { text: d.delivered_at ? formatTime(d.delivered_at) : (d.next_attempt_at ? `next try ${formatTime(d.next_attempt_at)}` : '—') }))))));
}

function deleteButton(e, cell, open, load, refresh) {
  const btn = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Delete endpoint', 'aria-label': `Delete webhook ${e.url}` });
  btn.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', text: 'Delete now', 'aria-label': `Confirm: delete webhook ${e.url}` });
    const no = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Cancel' });
    replace(cell, h('span', { class: 'small', text: 'Events will no longer be sent here. ' }), yes, no);
    yes.focus();
    no.addEventListener('click', () => { replace(cell, deleteButton(e, cell, open, load, refresh)); cell.querySelector('button').focus(); });
    yes.addEventListener('click', () => busy(yes, 'Deleting…', async () => {
      try {
        await api.deleteWebhook(e.id);
        open.delete(load);
        toast('Webhook endpoint deleted.');
        await refresh();
      } catch (err) {
        replace(cell, errorNotice(err));
      }
    }));
  });
  return btn;
}
