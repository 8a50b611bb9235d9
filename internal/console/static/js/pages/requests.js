// The request log: every call of the org, newest first (time, key or user,
// service and action, status, the provider's status, error code, latency,
// units, request id), filtered by the server and paged with its cursor.
// Opening a row shows the error as the client saw it. Org admins only.
import * as api from '../api.js';
import { h, field, select, loading, empty, errorNotice, replace, pageHead, formatTime } from '../ui.js';
import { formatUnit, unitLabel, formatUSD, formatCount } from '../format.js';

const PAGE = 50;

/** pageSize is ?limit= of the page's address (1 to 200), else 50. */
const pageSize = (query) => {
  const n = Number(query.get('limit'));
  return Number.isInteger(n) && n >= 1 && n <= 200 ? n : PAGE;
};

/** statusClass groups an HTTP status for its badge. */
const statusClass = (s) => (s >= 500 ? 'badge-danger' : s >= 400 ? 'badge-warn' : 'badge-ok');

function unitsText(r) {
  if (!r.unit || !r.units) return '—';
  const n = formatUnit(r.unit, r.units);
  return /^[\d.,]+$/.test(n) ? `${n} ${unitLabel(r.unit).toLowerCase()}` : n;
}

function row(r, onOpen) {
  const who = [r.user && `user ${r.user}`, r.key_id && `key ${r.key_id}`].filter(Boolean).join(' · ') || '—';
  const open = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'aria-expanded': 'false',
    'aria-label': `Details of request ${r.request_id || r.at}`, text: 'Details' });
  const tr = h('tr', { 'data-request': r.request_id || '', 'data-status': r.status },
    h('td', {}, h('time', { datetime: r.at, text: formatTime(r.at) })),
    h('td', { class: 'who', text: who }),
    h('td', { class: 'mono', text: `${r.service || '—'}/${r.action || '—'}` }),
    h('td', {}, h('span', { class: `badge ${statusClass(r.status)}`, text: String(r.status) })),
    h('td', { text: r.upstream_status ? String(r.upstream_status) : '—' }),
    h('td', { class: 'mono', text: r.error_code || '—' }),
    h('td', { class: 'num', text: r.latency_ms === undefined || r.latency_ms === null ? '—' : `${formatCount(r.latency_ms)} ms` }),
    h('td', { class: 'num', text: unitsText(r) }),
    h('td', { class: 'mono small', text: r.request_id || '—' }),
    h('td', {}, open));
  open.addEventListener('click', () => onOpen(tr, open, r));
  return tr;
}

/** detailRow is what an admin reads when a row is opened: the error as the client saw it, and every field. */
function detailRow(r) {
  const seen = r.status >= 400
    ? h('div', { class: 'notice notice-error' }, h('strong', { text: r.error_detail || r.error_code ||
      (r.upstream_status ? `The provider answered ${r.upstream_status}; its own answer went to the client.` : `HTTP ${r.status}`) }),
      h('span', { class: 'meta', text: [`HTTP ${r.status}`, r.error_code, r.upstream_status ? `provider answered ${r.upstream_status}` : ''].filter(Boolean).join(' · ') }))
    : h('p', { class: 'notice notice-ok', text: `Answered ${r.status}${r.cache ? ` (cache: ${r.cache})` : ''}.` });
  return h('tr', { class: 'request-detail' }, h('td', { colspan: 10 }, h('div', { class: 'detail-body' },
    h('h3', { text: 'What the client saw' }), seen,
    h('dl', { class: 'facts small' },
      h('dt', { text: 'Cost' }), h('dd', { text: r.cost_usd === undefined || r.cost_usd === null ? '—' : formatUSD(r.cost_usd) }),
      h('dt', { text: 'Cache' }), h('dd', { text: r.cache || '—' }),
      h('dt', { text: 'Credential' }), h('dd', { text: r.source || '—' })),
    h('details', {}, h('summary', { text: 'The log entry (JSON)' }), h('pre', { tabindex: 0, text: JSON.stringify(r, null, 2) })))));
}

export async function render(container, ctx) {
  container.append(pageHead('Request log', `Every call of org ${ctx.session.org}, newest first. Open a row to see what the client was told.`));
  const from = field('From', h('input', { type: 'date', name: 'from' }));
  const to = field('To', h('input', { type: 'date', name: 'to' }));
  const service = field('Service', select([['', 'All services']], { name: 'service' }));
  const action = field('Action', h('input', { type: 'text', name: 'action', spellcheck: 'false', placeholder: 'tts' }));
  const status = field('Status', select([['', 'Any'], ['errors', 'Any failure'], ...['200', '400', '401', '402', '403', '404', '429', '500', '502', '504'].map((s) => [s, `HTTP ${s}`])], { name: 'status' }));
  const key = field('Key id', h('input', { type: 'text', name: 'key', spellcheck: 'false' }));
  const user = field('User', h('input', { type: 'text', name: 'user', spellcheck: 'false' }));
  const form = h('form', { class: 'filters', 'aria-label': 'Filter requests', onsubmit: (ev) => { ev.preventDefault(); load(); } },
    from, to, service, action, status, key, user,
    h('div', { class: 'field' }, h('span', { class: 'label-spacer', 'aria-hidden': 'true', text: ' ' }), h('button', { type: 'submit', class: 'btn btn-secondary', text: 'Apply' })));
  const body = h('div', {}, loading('Loading requests…'));
  container.append(form, body);
  for (const c of [from, to, service, status]) c.control.addEventListener('change', () => load());
  api.listServices().then((list) => {
    replace(service.control, h('option', { value: '', text: 'All services' }), list.map((s) => h('option', { value: s.slug, text: s.display_name || s.slug })));
  }).catch(() => { /* all services still works */ });

  const onOpen = (tr, btn, r) => {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('request-detail')) { next.remove(); btn.setAttribute('aria-expanded', 'false'); return; }
    tr.after(detailRow(r));
    btn.setAttribute('aria-expanded', 'true');
  };
  let seq = 0;
  async function load(cursor, tbody) {
    const mine = cursor ? seq : ++seq;
    const params = { from: from.control.value, to: to.control.value, service: service.control.value, action: action.control.value.trim(),
      status: status.control.value, key: key.control.value.trim(), user: user.control.value.trim(), limit: pageSize(ctx.query), cursor };
    if (!cursor) replace(body, loading('Loading requests…'));
    try {
      const res = await api.listRequests(params);
      if (mine !== seq) return;
      const rows = (res && res.requests) || [];
      if (!cursor && !rows.length) { replace(body, empty('No requests match.')); return; }
      if (!tbody) {
        tbody = h('tbody', {});
        replace(body, h('div', { class: 'table-wrap' }, h('table', { class: 'request-log' },
          h('caption', { class: 'visually-hidden', text: 'Requests, newest first' }),
          h('thead', {}, h('tr', {}, ['Time', 'Who', 'Call', 'Status', 'Provider', 'Error', 'Latency', 'Units', 'Request id', ''].map((c) => h('th', { scope: 'col', text: c })))),
          tbody)), h('div', { class: 'more' }));
      }
      tbody.append(...rows.map((r) => row(r, onOpen)));
      replace(body.lastChild, res.next_cursor
        ? h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'more-requests', text: 'Load older requests', onclick: () => load(res.next_cursor, tbody) })
        : null);
    } catch (err) {
      if (mine !== seq) return;
      if (err instanceof api.AIProxyError && err.status === 404) {
        replace(body, h('div', { class: 'state', 'data-testid': 'requests-pending' }, h('p', {}, h('strong', { text: 'Not available on this server yet.' })),
          h('p', {}, 'This page turns on by itself once the server answers ', h('code', { text: '/api/ai-proxy/orgs/{org}/requests/' }), '.')));
        return;
      }
      replace(body, errorNotice(err, 'Could not read the request log'));
    }
  }
  await load();
}
