// Stacked bar charts in SVG for the usage page: one chart per unit, a bar
// per day, a coloured segment per series (service, key, user), a legend,
// a y-axis with the unit's own labels, and a table-like text alternative.
// Colours come from classes (series-0 … series-7) in app.css, as the CSP
// allows no inline styles.
import { h } from './ui.js';
import { dayLabel } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = 8;

function svgEl(parent, tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  parent.append(e);
  return e;
}

/** niceMax rounds a maximum up to 1, 2 or 5 times a power of ten. */
export function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * stackedChart draws values[day][series] for the given days and series.
 * opts: title, fmt (a value for people), seriesLabel (a series name for people).
 */
export function stackedChart({ title, days, series, value, fmt, seriesLabel = (s) => s, unit }) {
  const W = 640, H = 240, left = 76, right = 8, top = 12, bottom = 30;
  const totals = days.map((d) => series.reduce((sum, s) => sum + (value(d, s) || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotH = H - top - bottom;
  const bw = (W - left - right) / Math.max(1, days.length);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const total = totals.reduce((a, b) => a + b, 0);
  svg.setAttribute('aria-label', `${title}: ${fmt(total)} over ${days.length} day${days.length === 1 ? '' : 's'}, at most ${fmt(Math.max(0, ...totals))} in a day`);
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    svgEl(svg, 'line', { class: f === 0 ? 'axis' : 'grid', x1: left, x2: W - right, y1: y, y2: y });
    svgEl(svg, 'text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, fmt(max * f));
  }
  // Label as many days as fit, evenly: about one label per 60 px.
  const every = Math.max(1, Math.ceil(days.length / Math.floor((W - left - right) / 70)));
  days.forEach((d, i) => {
    let y = top + plotH;
    series.forEach((s, si) => {
      const v = value(d, s) || 0;
      if (!v) return;
      const bh = (v / max) * plotH;
      y -= bh;
      const rect = svgEl(svg, 'rect', { class: `bar series-${si % COLOURS}`, x: left + i * bw + bw * 0.15, y, width: Math.max(1, bw * 0.7), height: bh });
      svgEl(rect, 'title', {}, `${dayLabel(d)} · ${seriesLabel(s)}: ${fmt(v)}`);
    });
    if (i % every === 0) svgEl(svg, 'text', { x: left + i * bw + bw / 2, y: H - 8, 'text-anchor': 'middle' }, dayLabel(d));
  });
  const legend = h('ul', { class: 'legend', 'aria-label': `${title} legend` }, series.map((s, si) => {
    const sum = days.reduce((a, d) => a + (value(d, s) || 0), 0);
    return h('li', {}, h('span', { class: `swatch series-${si % COLOURS}`, 'aria-hidden': 'true' }),
      `${seriesLabel(s)}: `, h('strong', { text: fmt(sum) }));
  }));
  return h('figure', { class: 'card chart-card', 'data-chart': unit || title },
    h('figcaption', {}, h('strong', { text: title }), h('span', { class: 'muted small', text: ` · total ${fmt(total)}` })),
    svg, legend);
}
