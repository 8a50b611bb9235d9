// Pages without a dedicated form yet (usage): each probes its candidate
// routes; while the server answers 404 for all of them, the page says the
// feature is not on this server yet. Once a route answers, its JSON is shown
// as a table (and usage as a chart).
import * as api from '../api.js';
import { h, loading, empty, errorNotice, replace, pageHead, formatTime } from '../ui.js';

/** firstAvailable returns the JSON of the first candidate route that exists, or null. */
async function firstAvailable(paths) {
  for (const p of paths) {
    try {
      return { path: p, data: await api.orgGet(p) };
    } catch (err) {
      if (!(err instanceof api.AIProxyError) || err.status !== 404) throw err;
    }
  }
  return null;
}

/** rowsOf finds the list in an answer: the answer itself or its first array field. */
export function rowsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object') {
    const arr = Object.values(data).find(Array.isArray);
    if (arr) return arr;
    return [data];
  }
  return [];
}

const isTime = (k) => /(_at|time|date|window_start|window_end)$/.test(k);

function cellText(k, v) {
  if (v === null || v === undefined) return '—';
  if (isTime(k) && (typeof v === 'string' || typeof v === 'number')) return formatTime(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** dataTable shows a list of objects as a table. */
export function dataTable(rows, caption) {
  const cols = [...new Set(rows.slice(0, 50).flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : ['value'])))].slice(0, 9);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden', text: caption }),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c.replace(/_/g, ' ') })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, cols.map((c) => h('td', { text: cellText(c, r && typeof r === 'object' ? r[c] : r) })))))));
}

/** barChart draws the first numeric field of rows as an SVG bar chart. */
export function barChart(rows, title) {
  const sample = rows.find((r) => r && typeof r === 'object') || {};
  const valueKey = Object.keys(sample).find((k) => typeof sample[k] === 'number');
  const labelKey = Object.keys(sample).find((k) => typeof sample[k] === 'string');
  if (!valueKey || rows.length < 1) return null;
  const data = rows.slice(-30);
  const max = Math.max(1, ...data.map((r) => Number(r[valueKey]) || 0));
  const W = 600, H = 200, pad = 24, bw = (W - pad * 2) / data.length;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H + 20}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${title}: ${valueKey} per ${labelKey || 'entry'}, highest ${max}`);
  const el = (tag, attrs, text) => {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  el('line', { class: 'axis', x1: pad, x2: W - pad, y1: H, y2: H });
  data.forEach((r, i) => {
    const v = Number(r[valueKey]) || 0;
    const bh = (v / max) * (H - pad);
    const bar = el('rect', { class: 'bar', x: pad + i * bw + 2, y: H - bh, width: Math.max(1, bw - 4), height: bh, rx: 2 });
    const t = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    t.textContent = `${labelKey ? cellText(labelKey, r[labelKey]) : i + 1}: ${v}`;
    bar.append(t);
    if (data.length <= 12 && labelKey) el('text', { x: pad + i * bw + bw / 2, y: H + 14, 'text-anchor': 'middle' }, String(r[labelKey]).slice(0, 10));
  });
  el('text', { x: pad, y: 12 }, `max ${max} ${valueKey}`);
  return h('figure', { class: 'card' }, svg, h('figcaption', { class: 'muted small', text: `${title}: ${valueKey}` }));
}

function pendingPage({ title, lede, paths, waiting, chart = false, more = [] }) {
  return {
    async render(container) {
      container.append(pageHead(title, lede));
      const body = h('div', {}, loading());
      container.append(body);
      for (const m of more) container.append(await moreSection(m));
      try {
        const found = await firstAvailable(paths);
        if (!found) {
          replace(body, h('div', { class: 'state' },
            h('p', {}, h('strong', { text: 'Not available on this server yet.' })),
            h('p', { text: waiting }),
            h('p', { class: 'small' }, 'This page turns on by itself once the server answers ', h('code', { text: `/api/ai-proxy/orgs/{org}${paths[0]}` }), '.')));
          return;
        }
        const rows = rowsOf(found.data);
        replace(body, rows.length
          ? h('div', { class: 'stack' }, chart ? barChart(rows, title) : null, dataTable(rows, title))
          : empty(`Nothing to show yet.`));
      } catch (err) {
        replace(body, errorNotice(err));
      }
    },
  };
}

/** moreSection shows a further route of a page (such as the webhook delivery log) when it exists. */
async function moreSection({ title, paths }) {
  const section = h('section', { 'aria-label': title });
  try {
    const found = await firstAvailable(paths);
    if (!found) return section;
    const rows = rowsOf(found.data);
    section.append(h('h2', { text: title }), rows.length ? dataTable(rows, title) : empty('Nothing to show yet.'));
  } catch (err) {
    section.append(h('h2', { text: title }), errorNotice(err));
  }
  return section;
}

export const usage = pendingPage({
  title: 'Usage',
  lede: 'What this org used, per service and day.',
  paths: ['/usage/'],
  waiting: 'Usage metering is being added to aiproxy.',
  chart: true,
});
