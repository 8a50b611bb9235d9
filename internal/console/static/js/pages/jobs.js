// Live jobs: each video this tab started with its status, elapsed time and
// progress, and a player once it is done. Updates come from the tracker in
// js/jobs.js: the server's event stream, or polling while it is down.
import { jobs } from '../jobs.js';
import { h, empty, replace, pageHead, formatTime } from '../ui.js';
import { budgetPanel, showsOwnBudget } from '../budget.js';

const LABELS = { pending: 'Queued', waiting: 'Waiting', processing: 'Rendering', completed: 'Completed', failed: 'Failed', unknown: 'Checking…' };

function elapsed(job) {
  const end = job.terminal ? job.completedAt || job.updatedAt || Date.now() : Date.now();
  const s = Math.max(0, Math.round((end - job.createdAt) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function statusBadge(job) {
  const cls = { completed: 'badge-ok', failed: 'badge-danger' }[job.status] || 'badge-accent';
  return h('span', { class: `badge ${cls}`, text: LABELS[job.status] || job.status });
}

function progress(job) {
  if (job.status === 'completed') return h('progress', { max: 100, value: 100, 'aria-label': 'Done' });
  if (job.status === 'failed') return null;
  // HeyGen reports no percentage: an indeterminate bar while it renders.
  return h('progress', { 'aria-label': `${LABELS[job.status] || job.status}, ${elapsed(job)} elapsed` });
}

function videoSlot(job) {
  if (job.status === 'completed' && job.videoUrl) {
    return h('div', { class: 'video-slot' },
      h('video', { controls: true, preload: 'metadata', src: job.videoUrl, poster: job.thumbnailUrl || undefined,
        'aria-label': `Video ${job.id}`, 'data-job': job.id }),
      h('div', { class: 'actions' }, h('a', { class: 'btn btn-secondary btn-small', href: job.videoUrl, download: `${job.id}.mp4`, target: '_blank', rel: 'noopener', text: 'Download MP4' })));
  }
  if (job.status === 'failed') {
    return h('div', { class: 'notice notice-error', role: 'alert' }, h('strong', { text: 'The render failed.' }), job.error || 'HeyGen gave no reason.');
  }
  return h('div', { class: 'placeholder-video', text: 'The video appears here when it is ready.' });
}

function jobItem(job) {
  return h('li', { class: 'card job', 'data-status': job.status, 'aria-labelledby': `job-${job.id}` },
    h('div', {},
      h('h2', { id: `job-${job.id}` }, job.title || ['Video ', h('span', { class: 'mono', text: job.id })]),
      job.title ? h('p', { class: 'muted small mono', text: job.id }) : null,
      h('div', { class: 'actions' }, statusBadge(job), h('span', { class: 'muted small', 'data-elapsed': job.id, text: elapsed(job) })),
      h('dl', {},
        h('dt', { text: 'Started' }), h('dd', { text: formatTime(new Date(job.createdAt).toISOString()) }),
        job.label ? [h('dt', { text: 'Request' }), h('dd', { text: job.label })] : null,
        job.duration ? [h('dt', { text: 'Length' }), h('dd', { text: `${job.duration} s` })] : null),
      progress(job),
      job.lastError && !job.terminal
        ? h('p', { class: 'notice notice-warn small', text: `Checking the status failed (${job.lastError}); retrying.` }) : null,
      h('div', { class: 'actions' }, job.jobId ? h('a', { class: 'btn btn-secondary btn-small', href: `#/library/${encodeURIComponent(job.jobId)}`, text: 'Details' }) : null,
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Remove from list',
        'aria-label': `Remove video ${job.id} from the list`, onclick: () => jobs.remove(job.id) }))),
    videoSlot(job));
}

export function render(container, ctx) {
  const whose = ctx && ctx.session && ctx.session.member ? `Your videos (${ctx.session.user})` : 'The org’s videos';
  container.append(pageHead('Jobs', `${whose}: started here, from the CLI or through the API. Status updates arrive on their own.`,
    h('a', { class: 'btn', href: '#/generate', text: 'New video' })));
  if (showsOwnBudget(ctx && ctx.session)) container.append(budgetPanel());
  const list = h('ul', { class: 'job-list', 'aria-label': 'Video jobs' });
  const status = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const live = h('p', { class: 'live-mode small', 'data-mode': 'idle' });
  container.append(live, status, list);
  const showMode = () => {
    const { mode, error } = jobs.mode();
    if (live.dataset.mode === mode && live.dataset.error === error) return;
    live.dataset.mode = mode;
    live.dataset.error = error;
    const text = {
      stream: 'Live: updates arrive through the server’s event stream.',
      connecting: 'Connecting to the event stream…',
      polling: `Checking each running video every few seconds${error ? ` (the event stream is unavailable: ${error})` : ''}.`,
      idle: '',
    }[mode];
    replace(live, h('span', { class: `dot dot-${mode}`, 'aria-hidden': 'true' }), text);
  };
  // Re-render a job only when it changed, so a playing video keeps playing.
  const rendered = new Map();
  const draw = (all) => {
    showMode();
    if (!all.length) {
      rendered.clear();
      replace(list, h('li', {}, empty('No videos yet.', h('a', { class: 'btn', href: '#/generate', text: 'Generate a video' }))));
      return;
    }
    if (!rendered.size) replace(list);
    const ids = new Set(all.map((j) => j.id));
    for (const [id, r] of rendered) if (!ids.has(id)) { r.el.remove(); rendered.delete(id); }
    let prev = null;
    for (const job of all) {
      const key = `${job.status}|${job.videoUrl}|${job.lastError}|${job.title}`;
      let r = rendered.get(job.id);
      if (!r || r.key !== key) {
        const el = jobItem(job);
        if (r) {
          if (r.status !== job.status) status.textContent = `Video ${job.id}: ${LABELS[job.status] || job.status}.`;
          r.el.replaceWith(el);
        }
        r = { el, key, status: job.status };
        rendered.set(job.id, r);
      }
      if (prev ? prev.nextSibling !== r.el : list.firstChild !== r.el) {
        if (prev) prev.after(r.el); else list.prepend(r.el);
      }
      prev = r.el;
    }
  };
  const off = jobs.onChange(draw);
  // The clock only rewrites the elapsed times, leaving focus where it is.
  const clock = setInterval(() => {
    for (const job of jobs.list()) {
      const el = !job.terminal && list.querySelector(`[data-elapsed="${CSS.escape(job.id)}"]`);
      if (el) el.textContent = elapsed(job);
    }
  }, 1000);
  return () => { off(); clearInterval(clock); };
}
