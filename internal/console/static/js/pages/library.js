// The video library: the org's videos from aiproxy's job records as a grid
// of cards (thumbnail, title, script, avatar, voice, who made it, length,
// status, date), searched and filtered by the server and paged with its
// cursor, so it holds for thousands of videos. #/library/{id} is one
// video: the player, a download, the request that made it and the job's
// event history.
import * as api from '../api.js';
import { h, field, select, loading, empty, errorNotice, replace, pageHead, formatTime, debounce } from '../ui.js';
import { formatSeconds, isoDay } from '../format.js';
import { avatarItems } from './avatars.js';

const PAGE = 24;

// The filters live in the page's address (#/library?q=…&state=…), so that
// a video's page leads back to the same list and a filtered list can be
// shared; lastQuery is that address's query for the back link.
let lastQuery = '';
const STATES = [['', 'Any status'], ['completed', 'Completed'], ['processing', 'Rendering'], ['pending', 'Queued'], ['failed', 'Failed']];
const STATE_LABELS = { pending: 'Queued', processing: 'Rendering', completed: 'Completed', failed: 'Failed' };

/** video normalizes a job record for the library; details may be absent or null. */
export function video(job) {
  const d = job.details || {};
  const urls = job.result_urls || {};
  const script = d.script || '';
  return {
    id: job.id, providerId: job.provider_job_id, state: job.state, action: job.action,
    title: d.title || (script ? excerpt(script, 60) : `Video ${job.provider_job_id || job.id}`),
    script, avatar: d.avatar_id || '', voice: d.voice_id || '', duration: d.duration_seconds,
    thumbnail: d.thumbnail_url || urls.thumbnail_url || '', videoUrl: urls.video_url || '',
    user: job.user || '', keyId: (job.key && job.key.id) || '', keyName: (job.key && job.key.name) || '', error: job.error || '', createdAt: job.created_at, job,
  };
}

/** excerpt shortens text to n characters at a word boundary. */
export function excerpt(text, n = 120) {
  const t = String(text || '').replace(/\s+/g, ' ').trim();
  if (t.length <= n) return t;
  const cut = t.slice(0, n);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), n - 20))}…`;
}

/** matches applies the filters to a loaded video, for a server that does not filter yet. */
export function matches(v, f) {
  const q = (f.q || '').toLowerCase();
  if (q && !`${v.title} ${v.script} ${v.id} ${v.providerId}`.toLowerCase().includes(q)) return false;
  if (f.state && v.state !== f.state) return false;
  if (f.avatar && v.avatar !== f.avatar) return false;
  const day = v.createdAt ? isoDay(new Date(v.createdAt)) : '';
  if (f.from && day < f.from) return false;
  if (f.to && day > f.to) return false;
  return true;
}

function badge(state) {
  const cls = { completed: 'badge-ok', failed: 'badge-danger' }[state] || 'badge-accent';
  return h('span', { class: `badge ${cls}`, text: STATE_LABELS[state] || state });
}

/** who says who made a video: its user and the key's name (its id when the key has no name the caller may see). */
export function who(v) {
  return [v.user && `user ${v.user}`, (v.keyName || v.keyId) && `key ${v.keyName || v.keyId}`].filter(Boolean).join(' · ') || 'the org';
}

/** byline is who() as a definition, the key's id as its tooltip. */
function byline(v) {
  return h('dd', { 'data-by': v.keyId || '', title: v.keyName ? v.keyId : undefined, text: who(v) });
}

function card(v, names = new Map()) {
  const href = `#/library/${encodeURIComponent(v.id)}`;
  return h('li', { class: 'tile video-tile', 'data-video': v.id, 'data-state': v.state },
    h('a', { class: 'thumb', href, 'aria-hidden': 'true', tabindex: '-1' },
      v.thumbnail ? h('img', { src: v.thumbnail, alt: '', loading: 'lazy', width: 320, height: 180 })
        : h('span', { class: 'thumb-empty', text: v.state === 'completed' ? '▶' : '…' })),
    h('div', { class: 'tile-body' },
      h('h3', {}, h('a', { href, text: v.title })),
      v.script ? h('p', { class: 'small script', text: excerpt(v.script) }) : null,
      h('div', { class: 'meta' }, badge(v.state),
        v.duration ? h('span', { class: 'badge', text: formatSeconds(v.duration) }) : null),
      h('dl', { class: 'small facts' },
        v.avatar ? [h('dt', { text: 'Avatar' }), h('dd', { class: names.has(v.avatar) ? undefined : 'mono', title: names.has(v.avatar) ? v.avatar : undefined,
          'data-avatar-id': v.avatar, text: names.get(v.avatar) || v.avatar })] : null,
        v.voice ? [h('dt', { text: 'Voice' }), h('dd', { class: 'mono', text: v.voice })] : null,
        h('dt', { text: 'By' }), byline(v),
        h('dt', { text: 'Made' }), h('dd', {}, h('time', { datetime: v.createdAt, text: formatTime(v.createdAt) })))));
}

export async function render(container, ctx) {
  if (ctx.params[0]) return detail(container, ctx, ctx.params[0]);
  const whose = ctx.session.member ? `Your videos (${ctx.session.user})` : `Every video of org ${ctx.session.org}`;
  container.append(pageHead('Video library', `${whose}, newest first, whether made here, from the CLI or through the API.`,
    h('a', { class: 'btn', href: '#/generate', text: 'New video' })));
  const q = field('Search', h('input', { type: 'search', name: 'q', autocomplete: 'off', placeholder: 'Title or script', value: ctx.query.get('q') || '' }));
  const state = field('Status', select(STATES, { name: 'state', value: ctx.query.get('state') || '' }));
  const avatar = field('Avatar', select([['', 'Any avatar']], { name: 'avatar' }));
  const from = field('From', h('input', { type: 'date', name: 'from', value: ctx.query.get('from') || '' }));
  const to = field('To', h('input', { type: 'date', name: 'to', value: ctx.query.get('to') || '' }));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter videos', onsubmit: (ev) => ev.preventDefault() },
    h('div', { class: 'field grow' }, ...q.childNodes), state, avatar, from, to);
  const count = h('p', { class: 'result-count', role: 'status', 'aria-live': 'polite' });
  const list = h('ul', { class: 'gallery video-grid', 'aria-label': 'Videos' });
  const more = h('div', { class: 'more' });
  container.append(form, count, list, more);
  const names = new Map();
  api.listAvatars().then((a) => {
    const keep = avatar.control.value || ctx.query.get('avatar') || '';
    replace(avatar.control, h('option', { value: '', text: 'Any avatar' }), avatarItems(a).map((x) => h('option', { value: x.id, text: x.name })));
    avatar.control.value = keep;
    // Cards show the avatar's name once the list is known.
    for (const x of avatarItems(a)) names.set(x.id, x.name);
    for (const dd of list.querySelectorAll('[data-avatar-id]')) {
      const name = names.get(dd.dataset.avatarId);
      if (name) { dd.textContent = name; dd.classList.remove('mono'); dd.title = dd.dataset.avatarId; }
    }
  }).catch(() => { avatar.hidden = true; });

  let seq = 0;
  let shown = 0;
  const filters = () => ({ q: q.control.value.trim(), state: state.control.value,
    avatar: avatar.control.value || (avatar.control.options.length > 1 ? '' : ctx.query.get('avatar') || ''), from: from.control.value, to: to.control.value });
  const page = async (cursor) => {
    const mine = cursor ? seq : ++seq;
    const f = filters();
    if (!cursor) {
      shown = 0;
      replace(list);
      replace(more, loading('Loading videos…'));
      lastQuery = api.query(f);
      history.replaceState(null, '', `#/library${lastQuery}`);
    }
    try {
      const res = await api.listJobs({ ...f, service: 'heygen', limit: PAGE, cursor });
      if (mine !== seq) return;
      const vids = (res.jobs || []).map(video).filter((v) => matches(v, f));
      list.append(...vids.map((v) => card(v, names)));
      shown += vids.length;
      const filtered = Object.values(f).some(Boolean);
      count.textContent = shown ? `${shown} video${shown === 1 ? '' : 's'}${filtered ? ' matching' : ''}${res.next_cursor ? ', more to load' : ''}` : '';
      if (!shown && !res.next_cursor) {
        replace(more, filtered
          ? empty('No videos match these filters.', h('button', { type: 'button', class: 'btn btn-secondary', text: 'Clear filters', onclick: clear }))
          : empty('No videos yet.', h('a', { class: 'btn', href: '#/generate', text: 'Generate a video' })));
        return;
      }
      replace(more, res.next_cursor
        ? h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'more-videos', text: 'Load more videos', onclick: () => page(res.next_cursor) })
        : null);
    } catch (err) {
      if (mine === seq) replace(more, errorNotice(err, 'Could not list the videos'));
    }
  };
  const clear = () => {
    for (const c of [q, state, avatar, from, to]) c.control.value = '';
    page();
  };
  q.control.addEventListener('input', debounce(() => page(), 250));
  for (const c of [state, avatar, from, to]) c.control.addEventListener('change', () => page());
  await page();
}

async function detail(container, ctx, id) {
  container.append(h('p', { class: 'small' }, h('a', { href: `#/library${lastQuery}`, text: '← Video library' })));
  const body = h('div', {}, loading('Loading the video…'));
  container.append(body);
  let v;
  try {
    v = video(await api.getJob(id));
  } catch (err) {
    replace(body, errorNotice(err, 'Could not read this video'));
    return;
  }
  const player = v.videoUrl
    ? h('div', { class: 'video-slot library-player' },
      h('video', { controls: true, preload: 'metadata', src: v.videoUrl, poster: v.thumbnail || undefined, 'aria-label': `Video: ${v.title}` }),
      h('div', { class: 'actions' }, h('a', { class: 'btn btn-secondary', href: v.videoUrl, download: `${v.providerId || v.id}.mp4`, target: '_blank', rel: 'noopener', text: 'Download MP4' })))
    : v.state === 'failed'
      ? h('div', { class: 'notice notice-error', role: 'alert' }, h('strong', { text: 'The render failed.' }), ` ${v.error || 'The provider gave no reason.'}`)
      : h('div', { class: 'placeholder-video', text: 'The video appears here when it is ready.' });
  const j = v.job;
  const cred = j.credential || {};
  const request = h('section', { class: 'card', 'aria-labelledby': 'video-request' },
    h('h2', { id: 'video-request', text: 'The request that made it' }),
    h('dl', { class: 'facts' },
      h('dt', { text: 'Call' }), h('dd', { class: 'mono', text: `${j.service}/${j.action}` }),
      h('dt', { text: 'By' }), byline(v),
      h('dt', { text: 'Provider id' }), h('dd', { class: 'mono', text: v.providerId || '—' }),
      h('dt', { text: 'Credential' }), h('dd', { text: [cred.source, cred.org, cred.name].filter(Boolean).join(' · ') || '—' }),
      v.avatar ? [h('dt', { text: 'Avatar' }), h('dd', { class: 'mono', text: v.avatar })] : null,
      v.voice ? [h('dt', { text: 'Voice' }), h('dd', { class: 'mono', text: v.voice })] : null,
      v.duration ? [h('dt', { text: 'Length' }), h('dd', { text: formatSeconds(v.duration) })] : null,
      h('dt', { text: 'Started' }), h('dd', { text: formatTime(j.created_at) }),
      h('dt', { text: 'Finished' }), h('dd', { text: formatTime(j.completed_at) })),
    v.script ? [h('h3', { text: 'Script' }), h('p', { class: 'script', text: v.script })] : null,
    h('details', {}, h('summary', { text: 'The job record (JSON)' }), h('pre', { tabindex: 0, text: JSON.stringify(j, null, 2) })));
  const history = h('section', { class: 'card', 'aria-labelledby': 'video-history' },
    h('h2', { id: 'video-history', text: 'History' }), loading('Loading the history…'));
  replace(body,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: v.title }), h('div', { class: 'actions' }, badge(v.state)))),
    h('div', { class: 'split' }, player, request), history);
  try {
    const res = await api.jobHistory(v.id);
    const events = (res && res.events) || [];
    history.lastChild.replaceWith(events.length
      ? h('ol', { class: 'timeline', 'data-testid': 'job-history' }, events.map((e) => h('li', { 'data-event': e.type },
        h('time', { datetime: e.created_at, text: formatTime(e.created_at) }), ' ', h('strong', { text: e.type }),
        e.data && e.data.state ? ` · ${STATE_LABELS[e.data.state] || e.data.state}` : '',
        e.data && e.data.error ? h('span', { class: 'muted small', text: ` · ${e.data.error}` }) : null)))
      : empty('No events recorded for this job.'));
  } catch (err) {
    history.lastChild.replaceWith(err instanceof api.AIProxyError && err.status === 404
      ? h('p', { class: 'state', 'data-testid': 'history-pending', text: 'The event history is not available on this server yet.' })
      : errorNotice(err, 'Could not read the history'));
  }
}
