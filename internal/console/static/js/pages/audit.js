// The audit log: who changed keys, credentials, quotas, access and webhooks,
// newest first, with filters (action, actor, text) over the loaded events,
// paging back by event id, and, for platform admins, any org or all.
import * as api from '../api.js';
import { h, field, select, errorNotice, loading, empty, replace, pageHead, busy, formatTime, debounce } from '../ui.js';

const PAGE = 100;

export async function render(container, ctx) {
  const platform = ctx.session.role === 'platform';
  container.append(pageHead('Audit log', 'Who changed keys, credentials and settings, and when. Secrets are never recorded.'));
  let events = [];
  let more = false;
  const org = platform ? field('Org', h('input', { type: 'text', name: 'org', value: ctx.session.org, spellcheck: 'false' }), { hint: 'An org, or * for every org.' }) : null;
  const action = field('Action', select([['', 'Any action']], { name: 'action' }));
  const text = field('Search', h('input', { type: 'search', name: 'q', placeholder: 'actor, target or detail' }));
  const count = h('p', { class: 'muted small result-count', role: 'status' });
  const table = h('div', {}, loading('Loading the audit log…'));
  const moreBtn = h('button', { type: 'button', class: 'btn btn-secondary', text: 'Load older events', hidden: true });

  const draw = () => {
    const a = action.control.value;
    const q = text.control.value.trim().toLowerCase();
    const shown = events.filter((e) => (!a || e.action === a) &&
      (!q || [e.actor, e.target, e.detail, e.org].some((v) => String(v || '').toLowerCase().includes(q))));
    const actions = [...new Set(events.map((e) => e.action))].sort();
    const keep = action.control.value;
    replace(action.control, h('option', { value: '', text: 'Any action' }), actions.map((x) => h('option', { value: x, text: x })));
    action.control.value = actions.includes(keep) ? keep : '';
    count.textContent = shown.length === events.length ? `${events.length} events` : `${shown.length} of ${events.length} events`;
    replace(table, shown.length ? auditTable(shown) : empty(events.length ? 'No events match the filters.' : 'No audit events yet.'));
    moreBtn.hidden = !more;
  };
  const load = async (reset) => {
    const o = org ? org.control.value.trim() : undefined;
    const before = reset || !events.length ? undefined : events[events.length - 1].id;
    try {
      const page = await api.listAudit({ org: o, before, limit: PAGE });
      events = reset ? page : [...events, ...page];
      more = page.length === PAGE;
      draw();
    } catch (err) {
      replace(table, errorNotice(err));
    }
  };
  action.control.addEventListener('change', draw);
  text.control.addEventListener('input', debounce(draw));
  if (org) org.control.addEventListener('change', () => { replace(table, loading('Loading the audit log…')); load(true); });
  moreBtn.addEventListener('click', () => busy(moreBtn, 'Loading…', () => load(false)));
  container.append(h('form', { class: 'card filters audit-filters', role: 'search', 'aria-label': 'Filter the audit log', onsubmit: (ev) => ev.preventDefault() }, org, action, text),
    count, table, h('div', { class: 'actions' }, moreBtn));
  await load(true);
}

function auditTable(list) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden', text: 'Audit events' }),
    h('thead', {}, h('tr', {}, ['When', 'Action', 'Actor', 'Org', 'Target', 'Detail'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, list.map((e) => h('tr', { 'data-audit': e.id },
      h('td', { text: formatTime(e.at) }),
      h('td', {}, h('span', { class: 'badge', text: e.action })),
      h('td', { class: 'mono small', text: e.actor }),
      h('td', { text: e.org || '—' }),
      h('td', { class: 'mono small', text: e.target || '—' }),
      h('td', { class: 'small', text: e.detail || '' }))))));
}
