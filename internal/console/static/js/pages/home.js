// Home: this period at a glance. For an org admin: this month's requests,
// video time, characters and cost against the org's quotas, and the state
// of each service's credential; for everyone: the latest videos and the
// latest failures. Each panel loads on its own and says so when its route
// is missing or refused, so one slow or absent API never blanks the page.
import * as api from '../api.js';
import { h, loading, empty, errorNotice, replace, pageHead, formatTime } from '../ui.js';
import { formatCount, formatUnit, unitLabel, formatUSD, formatSeconds, isoDay } from '../format.js';
import { budgetPanel, showsOwnBudget, usedMeter } from '../budget.js';
import { video, excerpt } from './library.js';

const canAdmin = (s) => !s.member && (s.role === 'admin' || s.role === 'platform');

/** panel is a titled card whose body a loader fills. */
function panel(title, id, load) {
  const body = h('div', {}, loading());
  const el = h('section', { class: 'card home-panel', 'aria-labelledby': id, 'data-panel': id },
    h('h2', { id, text: title }), body);
  load().then((content) => replace(body, content)).catch((err) => replace(body,
    err instanceof api.AIProxyError && err.status === 404
      ? h('p', { class: 'state', text: 'Not available on this server yet.' })
      : errorNotice(err)));
  return el;
}

/** monthTotals sums usage rows into requests, errors, cost and each unit. */
export function monthTotals(rows) {
  const t = { requests: 0, errors: 0, cost_usd: 0, units: {} };
  for (const r of rows || []) {
    t.requests += r.requests || 0;
    t.errors += r.errors || 0;
    t.cost_usd += r.cost_usd || 0;
    for (const [u, n] of Object.entries(r.units || {})) t.units[u] = (t.units[u] || 0) + n;
  }
  return t;
}

/** formatMinutes shows seconds as minutes: one decimal under ten minutes, whole minutes above. */
export function formatMinutes(seconds) {
  const m = (Number(seconds) || 0) / 60;
  return `${m < 10 ? m.toFixed(1) : formatCount(Math.round(m))} min`;
}

const METRIC_NAMES = { requests: 'Requests', characters: 'Characters', renders: 'Renders' };

async function thisPeriod() {
  const now = new Date();
  const first = isoDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)));
  const [rows, quotas, videos] = await Promise.all([api.usage({ from: first, to: isoDay(now) }), api.listQuotas().catch(() => []),
    api.jobTotals({ service: 'heygen', from: first, to: isoDay(now) }).catch(() => null)]);
  const t = monthTotals(rows);
  const stats = [
    ['Requests', formatCount(t.requests), 'requests'],
    ...Object.entries(t.units).map(([u, n]) => [unitLabel(u), formatUnit(u, n), u]),
    // Minutes of video made: the lengths of the videos that completed,
    // from their job records (renders count the starts).
    ...(videos ? [['Video minutes', formatMinutes(videos.video_seconds), 'video_minutes',
      `${formatCount(videos.completed)} video${videos.completed === 1 ? '' : 's'} completed, ${formatSeconds(videos.video_seconds)} in all`]] : []),
    ['Cost', formatUSD(t.cost_usd), 'cost_usd'],
  ];
  return h('div', {},
    h('p', { class: 'muted small', text: `Since ${first} (UTC).` }),
    h('dl', { class: 'stats' }, stats.map(([label, value, key, note]) => h('div', { class: 'stat', 'data-stat': key },
      h('dt', { text: label }), h('dd', { text: value, title: note })))),
    quotas.length
      ? h('ul', { class: 'quota-list', 'aria-label': 'Quotas' }, quotas.map((q) => {
        const pct = q.limit ? Math.min(100, Math.round((q.used / q.limit) * 100)) : 0;
        const name = `${METRIC_NAMES[q.metric] || q.metric}${q.service ? ` (${q.service})` : ''} per ${q.period}`;
        return h('li', { 'data-quota': `${q.service || '*'}/${q.metric}/${q.period}` },
          h('span', { text: `${name}: ${formatCount(q.used)} of ${formatCount(q.limit)}` }), usedMeter(pct, name));
      }))
      : h('p', { class: 'muted small', text: 'No quotas cap this org.' }),
    h('p', { class: 'small' }, h('a', { href: '#/usage', text: 'See usage by day' })));
}

function videoList(jobs, none) {
  const vids = (jobs || []).map(video);
  if (!vids.length) return empty(none);
  return h('ul', { class: 'recent-list' }, vids.map((v) => h('li', { 'data-video': v.id },
    v.thumbnail ? h('img', { src: v.thumbnail, alt: '', width: 96, height: 54, loading: 'lazy' }) : h('span', { class: 'thumb-empty small', 'aria-hidden': 'true', text: '▶' }),
    h('div', {}, h('a', { href: `#/library/${encodeURIComponent(v.id)}`, text: v.title }),
      h('span', { class: 'muted small', text: ` · ${formatTime(v.createdAt)}` }),
      v.error ? h('p', { class: 'small field-error', text: excerpt(v.error, 140) }) : null))));
}

async function credentials() {
  const [summaries, stored] = await Promise.all([api.listServices(), api.listCredentials('org')]);
  const services = await Promise.all(summaries.map((s) => api.getService(s.slug)));
  const byName = new Map(stored.map((c) => [c.name, c]));
  return h('ul', { class: 'cred-list' }, services.map((s) => {
    const own = byName.get(s.credential_name);
    const p = s.credential_policy || {};
    const [cls, text] = own ? ['badge-ok', 'Org key set']
      : p.allow_platform_key ? ['badge-accent', 'Uses the platform key'] : ['badge-danger', 'No key: calls will fail'];
    return h('li', { 'data-credential-state': s.slug }, h('strong', { text: s.display_name || s.slug }), ' ',
      h('span', { class: `badge ${cls}`, text }), own && own.updated_at ? h('span', { class: 'muted small', text: ` · updated ${formatTime(own.updated_at)}` }) : null);
  }), h('li', {}, h('a', { href: '#/credentials', text: 'Manage credentials' })));
}

export async function render(container, ctx) {
  const s = ctx.session;
  container.append(pageHead(`Home · ${s.org}`, s.member ? `Your work in org ${s.org}.` : `What org ${s.org} made and used this month.`,
    h('a', { class: 'btn', href: '#/generate', text: 'New video' }), h('a', { class: 'btn btn-secondary', href: '#/tts', text: 'New speech' })));
  if (showsOwnBudget(s)) container.append(budgetPanel());
  const grid = h('div', { class: 'home-grid' });
  container.append(grid);
  if (canAdmin(s)) grid.append(panel('This month', 'home-period', thisPeriod));
  grid.append(
    panel('Recent videos', 'home-videos', async () => videoList((await api.listJobs({ service: 'heygen', limit: 6 })).jobs, 'No videos yet.')),
    panel('Recent failures', 'home-failures', async () => videoList((await api.listJobs({ service: 'heygen', state: 'failed', limit: 5 })).jobs, 'No failed videos.')));
  if (canAdmin(s)) grid.append(panel('Credentials', 'home-credentials', credentials));
}
