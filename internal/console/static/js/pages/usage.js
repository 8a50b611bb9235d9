// Usage that reads at a glance: for a date range, one chart per unit
// (requests, errors, each metered unit, data sent, cost, and what the
// speech cache saved when it saved anything) with a bar per day split by
// service, action, key or user and a legend, all from the usage report; the same numbers as a table with
// formatted units and bytes; and a CSV download of exactly the table
// shown.
import * as api from '../api.js';
import { h, field, select, loading, empty, errorNotice, replace, pageHead } from '../ui.js';
import { stackedChart } from '../chart.js';
import { formatCount, formatBytes, formatUSD, formatUnit, unitLabel, isoDay, daysBetween, dayLabel, csv } from '../format.js';

const SPLITS = [['service', 'Service'], ['action', 'Action'], ['key', 'API key'], ['user', 'User']];

/** seriesOf names a row's series under a split; calls without a key or user get a word. */
export function seriesOf(row, split) {
  if (split === 'key') return row.key_id || '(no key: user tokens)';
  if (split === 'user') return row.user || '(the org itself)';
  if (split === 'action') return `${row.service}/${row.action}`;
  return row.service || '(unknown)';
}

/**
 * aggregate sums rows by day and series: {series: [...], cells: Map("day|series" → totals),
 * units: [...], saved_usd} where totals has requests, errors, bytes_out, cost_usd, saved_usd
 * and units, and saved_usd is what the speech cache saved over every row.
 */
export function aggregate(rows, split) {
  const cells = new Map();
  const series = new Set();
  const units = new Set();
  let saved = 0;
  for (const r of rows) {
    const s = seriesOf(r, split);
    series.add(s);
    const k = `${r.day}|${s}`;
    const c = cells.get(k) || { day: r.day, series: s, requests: 0, errors: 0, bytes_out: 0, cost_usd: 0, saved_usd: 0, units: {} };
    c.requests += r.requests || 0;
    c.errors += r.errors || 0;
    c.bytes_out += r.bytes_out || 0;
    c.cost_usd += r.cost_usd || 0;
    c.saved_usd += r.saved_usd || 0;
    saved += r.saved_usd || 0;
    for (const [u, n] of Object.entries(r.units || {})) { c.units[u] = (c.units[u] || 0) + n; units.add(u); }
    cells.set(k, c);
  }
  return { series: [...series].sort(), cells, units: [...units].sort(), saved_usd: saved };
}

function defaultRange() {
  const to = new Date();
  const from = new Date(to);
  from.setUTCDate(from.getUTCDate() - 13);
  return { from: isoDay(from), to: isoDay(to) };
}

export async function render(container, ctx) {
  container.append(pageHead('Usage', `What org ${ctx.session.org} used, day by day (UTC), and what it cost.`));
  const range = defaultRange();
  const from = field('From', h('input', { type: 'date', name: 'from', value: ctx.query.get('from') || range.from, required: true }));
  const to = field('To', h('input', { type: 'date', name: 'to', value: ctx.query.get('to') || range.to, required: true }));
  const service = field('Service', select([['', 'All services']], { name: 'service' }));
  const split = field('Split by', select(SPLITS, { name: 'split', value: ctx.query.get('split') || 'service' }));
  const form = h('form', { class: 'filters', 'aria-label': 'Usage report', onsubmit: (ev) => { ev.preventDefault(); load(); } },
    from, to, service, split,
    h('div', { class: 'field' }, h('span', { class: 'label-spacer', 'aria-hidden': 'true', text: ' ' }),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-secondary btn-small', text: 'Last 7 days', onclick: () => preset(7) }),
        h('button', { type: 'button', class: 'btn btn-secondary btn-small', text: 'Last 30 days', onclick: () => preset(30) }))));
  const body = h('div', { 'aria-live': 'polite' }, loading('Loading usage…'));
  container.append(form, body);
  const preset = (n) => {
    const end = new Date();
    const start = new Date(end);
    start.setUTCDate(start.getUTCDate() - (n - 1));
    from.control.value = isoDay(start);
    to.control.value = isoDay(end);
    load();
  };
  for (const c of [from, to, service, split]) c.control.addEventListener('change', () => load());
  api.listServices().then((list) => {
    const keep = service.control.value;
    replace(service.control, h('option', { value: '', text: 'All services' }), list.map((s) => h('option', { value: s.slug, text: s.display_name || s.slug })));
    service.control.value = keep;
  }).catch(() => { /* the report still works for all services */ });

  let seq = 0;
  let csvURL = null;
  async function load() {
    const mine = ++seq;
    const f = from.control.value, t = to.control.value;
    if (!f || !t || f > t) {
      replace(body, h('div', { class: 'notice notice-error', role: 'alert', text: 'Choose a start day on or before the end day.' }));
      return;
    }
    const how = split.control.value;
    replace(body, loading('Loading usage…'));
    try {
      // The report splits by action, key or user itself (group_by), so
      // every split covers every call of the days chosen.
      const rows = await api.usage({ from: f, to: t, service: service.control.value, group_by: how === 'service' ? '' : how });
      if (mine !== seq) return;
      if (csvURL) URL.revokeObjectURL(csvURL);
      const out = report(rows || [], { from: f, to: t, split: how, service: service.control.value });
      csvURL = out.csvURL || null;
      replace(body, out);
    } catch (err) {
      if (mine !== seq) return;
      if (err instanceof api.AIProxyError && err.status === 404) {
        replace(body, h('div', { class: 'state' }, h('p', {}, h('strong', { text: 'Not available on this server yet.' })),
          h('p', { text: 'This server does not meter usage.' })));
        return;
      }
      replace(body, errorNotice(err));
    }
  }
  await load();
  return () => { if (csvURL) URL.revokeObjectURL(csvURL); };
}

/** report draws the charts, the table and the CSV link for loaded rows. */
function report(rows, { from, to, split, service }) {
  if (!rows.length) return empty('No calls in these days.');
  const agg = aggregate(rows, split);
  const days = daysBetween(from, to);
  const splitName = SPLITS.find(([k]) => k === split)[1];
  const cell = (d, s) => agg.cells.get(`${d}|${s}`);
  const metrics = [
    { key: 'requests', title: 'Requests', get: (c) => c.requests, fmt: formatCount },
    { key: 'errors', title: 'Errors', get: (c) => c.errors, fmt: formatCount },
    ...agg.units.map((u) => ({ key: `units.${u}`, title: unitLabel(u), get: (c) => c.units[u] || 0, fmt: (n) => formatUnit(u, n) })),
    { key: 'bytes_out', title: 'Data sent to clients', get: (c) => c.bytes_out, fmt: formatBytes },
    { key: 'cost_usd', title: 'Cost', get: (c) => c.cost_usd, fmt: formatUSD },
    agg.saved_usd > 0 ? { key: 'saved_usd', title: 'Saved by the speech cache', get: (c) => c.saved_usd, fmt: formatUSD } : null,
  ].filter(Boolean);
  const charts = h('div', { class: 'chart-grid' }, metrics.map((m) => stackedChart({
    title: m.title, unit: m.key, days, series: agg.series, fmt: m.fmt,
    value: (d, s) => { const c = cell(d, s); return c ? m.get(c) : 0; },
  })));
  const list = [...agg.cells.values()].sort((a, b) => (a.day === b.day ? a.series.localeCompare(b.series) : b.day.localeCompare(a.day)));
  const head = ['Day', splitName, ...metrics.map((m) => m.title)];
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'usage-table' },
    h('caption', { class: 'visually-hidden', text: `Usage per day and ${splitName.toLowerCase()}` }),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, list.map((c) => h('tr', { 'data-day': c.day, 'data-series': c.series },
      h('td', { text: dayLabel(c.day) }), h('td', { text: c.series }),
      metrics.map((m) => h('td', { class: 'num', text: m.fmt(m.get(c)) })))))));
  const csvText = csv([
    ['day', split, ...metrics.map((m) => m.key)],
    ...list.map((c) => [c.day, c.series, ...metrics.map((m) => (m.key.endsWith('_usd') ? Number(m.get(c).toFixed(6)) : m.get(c)))]),
  ]);
  const url = URL.createObjectURL(new Blob([csvText], { type: 'text/csv' }));
  const name = `usage-${from}-to-${to}${service ? `-${service}` : ''}-by-${split}.csv`;
  const out = h('div', { class: 'stack' },
    h('div', { class: 'actions' },
      h('a', { class: 'btn btn-secondary', href: url, download: name, 'data-testid': 'usage-csv', text: 'Download CSV' }),
      h('span', { class: 'muted small', text: `${list.length} row${list.length === 1 ? '' : 's'}, as in the table below` })),
    agg.saved_usd > 0 ? h('p', { class: 'notice notice-ok', 'data-testid': 'usage-saved' },
      h('strong', { text: `Saved by the speech cache: ${formatUSD(agg.saved_usd)}` }),
      ' — what the provider would have charged for the speech answered from the cache in these days.') : null,
    charts, h('h2', { text: 'Every day' }), table);
  out.csvURL = url;
  return out;
}
