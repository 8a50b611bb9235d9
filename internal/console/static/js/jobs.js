// Live jobs: the org's video jobs, kept in sessionStorage and kept fresh by
// the server's event stream (GET /orgs/{org}/jobs/events, read through the
// client with fetch: EventSource cannot send the Authorization header). The
// list starts from GET /orgs/{org}/jobs/, so jobs started from the CLI or the
// API show too. While the stream cannot be opened or has broken, each running
// job is watched by a fallback source that polls video-status, and the stream
// is retried with a backoff; once it is back, the polling stops. A source is
// {watch(job, update) → stop}.
import * as api from './api.js';
import * as session from './session.js';

const TERMINAL = new Set(['completed', 'failed']);

/** statusUpdate maps HeyGen's status object to the job fields it changes. */
export function statusUpdate(d = {}) {
  const status = d.status || 'unknown';
  return {
    status,
    terminal: TERMINAL.has(status),
    videoUrl: d.video_url || null,
    thumbnailUrl: d.thumbnail_url || null,
    duration: d.duration || null,
    error: status === 'failed' ? api.videoErrorText(d.error) : null,
  };
}

/**
 * pollingSource watches a job by polling video-status every interval ms
 * (longer after errors, never past 15 s) until it ends or is stopped.
 */
export function pollingSource({ interval = 2000 } = {}) {
  return {
    watch(job, update) {
      let stopped = false;
      let timer = null;
      let delay = interval;
      const tick = async () => {
        try {
          const u = statusUpdate(await api.videoStatus(job.id));
          if (stopped) return;
          update({ ...u, lastError: null });
          delay = interval;
          if (u.terminal) return;
        } catch (err) {
          if (stopped) return;
          update({ lastError: err.detail || err.message, lastErrorCode: err.code || '' });
          delay = Math.min(delay * 2, 15000);
        }
        timer = setTimeout(tick, delay);
      };
      tick();
      return () => { stopped = true; clearTimeout(timer); };
    },
  };
}

/** fromServerJob maps a job of the jobs API (or of an event) to the tracker's fields. */
export function fromServerJob(j) {
  const urls = j.result_urls || {};
  const d = j.details || {};
  const state = j.state || 'pending';
  const script = String(d.script || '').replace(/\s+/g, ' ').trim();
  return {
    title: d.title || (script.length > 60 ? `${script.slice(0, 60)}…` : script) || null,
    duration: d.duration_seconds || null,
    id: j.provider_job_id || j.id,
    jobId: j.id,
    service: j.service,
    action: j.action,
    statusAction: j.status_action,
    status: state === 'processing' && j.provider_status ? j.provider_status : state,
    terminal: TERMINAL.has(state),
    videoUrl: urls.video_url || null,
    thumbnailUrl: d.thumbnail_url || urls.thumbnail_url || null,
    error: state === 'failed' ? (j.error || 'The provider gave no reason.') : null,
    createdAt: Date.parse(j.created_at) || Date.now(),
    completedAt: Date.parse(j.completed_at) || null,
    serverUpdatedAt: j.updated_at || '',
    lastError: null,
  };
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

/**
 * createTracker keeps the job list. With a stream (the default), it lists
 * the org's jobs and follows its event stream; fallback (polling) watches
 * the running jobs while the stream is down. Without a stream, fallback
 * watches every running job.
 */
export function createTracker(fallback, { stream = true, idleMs = 45000 } = {}) {
  let list = session.loadJobs();
  const watches = new Map();
  const listeners = new Set();
  let mode = 'idle'; // idle | connecting | stream | polling
  let modeError = '';
  let abort = null;

  const emit = () => {
    session.saveJobs(list);
    for (const fn of listeners) fn(list);
  };
  const setMode = (m, err = '') => {
    if (mode === m && modeError === err) return;
    mode = m;
    modeError = err;
    if (m === 'stream') stopWatches(); else if (m === 'polling') list.forEach(watch);
    emit();
  };
  const update = (id) => (fields) => {
    list = list.map((j) => (j.id === id ? { ...j, ...fields, updatedAt: Date.now() } : j));
    if (fields.terminal) unwatch(id);
    emit();
  };
  const watch = (job) => {
    if (job.terminal || watches.has(job.id) || mode !== 'polling') return;
    if (job.statusAction && job.statusAction !== 'video-status') return; // the fallback reads video-status only
    watches.set(job.id, fallback.watch(job, update(job.id)));
  };
  const unwatch = (id) => {
    const stop = watches.get(id);
    if (stop) { stop(); watches.delete(id); }
  };
  const stopWatches = () => { for (const id of [...watches.keys()]) unwatch(id); };

  /** upsert merges a job from the server, ignoring stale news and removed jobs. */
  const upsert = (sj) => {
    if (sj.service && sj.service !== 'heygen') return;
    const j = fromServerJob(sj);
    if (session.removedJobs().includes(j.id)) return;
    const old = list.find((x) => x.id === j.id);
    if (old && Date.parse(j.serverUpdatedAt) < Date.parse(old.serverUpdatedAt)) return;
    if (old && old.terminal && !j.terminal) return;
    if (old) {
      const merged = { ...old, ...j, label: old.label, createdAt: old.createdAt || j.createdAt, updatedAt: Date.now() };
      if (!j.videoUrl && old.videoUrl) merged.videoUrl = old.videoUrl;
      if (!j.duration && old.duration) merged.duration = old.duration;
      if (!j.title && old.title) merged.title = old.title;
      list = list.map((x) => (x.id === j.id ? merged : x));
      if (j.terminal) unwatch(j.id);
    } else {
      list = [...list, { ...j, updatedAt: Date.now() }].sort((a, b) => b.createdAt - a.createdAt);
      watch(j);
    }
    emit();
  };

  const follow = async (signal) => {
    try {
      const page = await api.listJobs({ service: 'heygen', limit: 50 }, { signal });
      for (const sj of (page && page.jobs) || []) upsert(sj);
    } catch (err) {
      if (signal.aborted) return;
      // Without the jobs API (404) there is no stream either: poll.
      if (err instanceof api.AIProxyError && err.status === 404) { setMode('polling', 'This server has no jobs API.'); return; }
    }
    let delay = 2000;
    while (!signal.aborted) {
      const conn = new AbortController();
      const stop = () => conn.abort();
      signal.addEventListener('abort', stop, { once: true });
      let idle = null;
      const activity = () => { clearTimeout(idle); idle = setTimeout(() => conn.abort(new Error('The event stream went quiet.')), idleMs); };
      try {
        if (mode !== 'polling') setMode('connecting');
        await api.jobEvents({
          lastEventId: session.lastEventId(),
          signal: conn.signal,
          onOpen: () => { setMode('stream'); delay = 2000; activity(); },
          onActivity: activity,
          onEvent: (ev) => {
            if (ev.id) session.setLastEventId(ev.id);
            if (ev.data && ev.data.job) upsert(ev.data.job);
          },
        });
        if (!signal.aborted) setMode('polling', 'The event stream ended.');
      } catch (err) {
        if (signal.aborted) return;
        setMode('polling', (err && (err.detail || err.message)) || 'The event stream failed.');
        if (err instanceof api.AIProxyError && (err.status === 404 || err.status === 401 || err.status === 403)) return;
      } finally {
        clearTimeout(idle);
        signal.removeEventListener('abort', stop);
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 30000);
    }
  };

  const start = () => {
    if (abort) abort.abort();
    stopWatches();
    abort = new AbortController();
    if (stream) follow(abort.signal); else setMode('polling');
  };

  return {
    list: () => list,
    /** mode is how updates arrive: connecting, stream or polling (with the reason). */
    mode: () => ({ mode, error: modeError }),
    /** add tracks a job this tab started, newest first. */
    add(job) {
      const old = list.find((x) => x.id === job.id);
      const j = { status: 'pending', terminal: false, createdAt: Date.now(), ...old, ...job };
      list = [j, ...list.filter((x) => x.id !== j.id)];
      emit();
      watch(j);
    },
    remove(id) {
      unwatch(id);
      session.addRemovedJob(id);
      list = list.filter((j) => j.id !== id);
      emit();
    },
    /** resume follows the org's jobs for a stored session. */
    resume() { list = session.loadJobs(); start(); emit(); },
    /** stop ends the stream and every watch (sign-out). */
    stop() { if (abort) abort.abort(); abort = null; stopWatches(); mode = 'idle'; },
    /** reset starts an empty list for a new sign-in and follows its org. */
    reset() { this.stop(); list = []; emit(); start(); },
    onChange(fn) { listeners.add(fn); fn(list); return () => listeners.delete(fn); },
  };
}

/** jobs is the console's tracker: the event stream, polling as the fallback. */
export const jobs = createTracker(pollingSource());
