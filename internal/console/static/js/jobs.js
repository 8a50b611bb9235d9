// Live jobs: the videos this tab started, kept in sessionStorage and kept
// fresh by a source. Today the source polls video-status through the
// client. When the server's jobs API and event stream land, a second source
// (one fetch-streamed SSE connection for the org; EventSource cannot send
// the Authorization header) implements the same watch(job, update) and is
// passed to createTracker instead: nothing else changes.
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

/** createTracker keeps the job list and one watch per running job. */
export function createTracker(source) {
  let list = session.loadJobs();
  const watches = new Map();
  const listeners = new Set();

  const emit = () => {
    session.saveJobs(list);
    for (const fn of listeners) fn(list);
  };
  const update = (id) => (fields) => {
    list = list.map((j) => (j.id === id ? { ...j, ...fields, updatedAt: Date.now() } : j));
    if (fields.terminal) unwatch(id);
    emit();
  };
  const watch = (job) => {
    if (job.terminal || watches.has(job.id)) return;
    watches.set(job.id, source.watch(job, update(job.id)));
  };
  const unwatch = (id) => {
    const stop = watches.get(id);
    if (stop) { stop(); watches.delete(id); }
  };

  return {
    list: () => list,
    /** add starts tracking a new job, newest first. */
    add(job) {
      const j = { status: 'pending', terminal: false, createdAt: Date.now(), ...job };
      list = [j, ...list.filter((x) => x.id !== j.id)];
      emit();
      watch(j);
    },
    remove(id) {
      unwatch(id);
      list = list.filter((j) => j.id !== id);
      emit();
    },
    /** resume watches the running jobs of a stored session. */
    resume() { list = session.loadJobs(); list.forEach(watch); emit(); },
    /** stop ends every watch (sign-out). */
    stop() { for (const id of [...watches.keys()]) unwatch(id); },
    /** reset starts an empty list for a new sign-in. */
    reset() { this.stop(); list = []; emit(); },
    onChange(fn) { listeners.add(fn); fn(list); return () => listeners.delete(fn); },
  };
}

/** jobs is the console's tracker. */
export const jobs = createTracker(pollingSource());
