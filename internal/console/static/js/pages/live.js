// The Live page: speak as you type over aiproxy's relayed ElevenLabs
// text-to-speech socket, and the org's live (LiveAvatar) sessions.
//
// The socket is opened with a user token as its subprotocol, never with an
// API key: a browser cannot set headers on a WebSocket, and a key must never
// travel in a URL. A user signed in with a token uses it as it is; a key's
// session first mints a short token (elevenlabs only, 15 minutes) through
// POST /orgs/{org}/user-tokens/. Audio comes as pcm_24000 and is played
// chunk after chunk through Web Audio, so each piece plays as it arrives.
import * as api from '../api.js';
import { AIProxyClient, LiveSocketError, USER_TOKEN_PREFIX } from '../../client/index.js';
import { h, field, select, errorNotice, replace, pageHead, formatTime } from '../ui.js';

const SAMPLE_RATE = 24000;
const DEFAULT_VOICE = '21m00Tcm4TlvDq8ikWAM';

/** player plays PCM16 little-endian mono chunks back to back. */
function player() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  const ctx = Ctx ? new Ctx({ sampleRate: SAMPLE_RATE }) : null;
  let at = 0;
  let carry = null;
  return {
    seconds: 0,
    /** play schedules a chunk right after the previous one. */
    play(bytes) {
      let data = bytes;
      if (carry) { data = new Uint8Array(carry.length + bytes.length); data.set(carry); data.set(bytes, carry.length); carry = null; }
      if (data.length % 2) { carry = data.slice(data.length - 1); data = data.slice(0, data.length - 1); }
      const n = data.length / 2;
      if (!n) return;
      this.seconds += n / SAMPLE_RATE;
      if (!ctx) return;
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const buf = ctx.createBuffer(1, n, SAMPLE_RATE);
      const ch = buf.getChannelData(0);
      for (let i = 0; i < n; i++) ch[i] = view.getInt16(i * 2, true) / 32768;
      const src = ctx.createBufferSource();
      src.buffer = buf;
      src.connect(ctx.destination);
      at = Math.max(at, ctx.currentTime + 0.05);
      src.start(at);
      at += buf.duration;
    },
    resume() { return ctx && ctx.state === 'suspended' ? ctx.resume() : Promise.resolve(); },
    close() { if (ctx) ctx.close().catch(() => undefined); },
  };
}

/**
 * socketClient returns a client whose credential is a user token: the
 * session's own, or one minted now for the session's key.
 */
async function socketClient(s) {
  if (String(s.apiKey).startsWith(USER_TOKEN_PREFIX)) {
    return { client: new AIProxyClient({ baseUrl: location.origin, org: s.org, token: s.apiKey }), minted: false };
  }
  const tok = await api.adminRequest('POST', `/orgs/${encodeURIComponent(s.org)}/user-tokens/`,
    { user: s.user || 'console', services: ['elevenlabs'], ttl_seconds: 900 });
  return { client: new AIProxyClient({ baseUrl: location.origin, org: s.org, token: tok.token }), minted: true };
}

/** speakPanel is the speak-as-you-type card. */
function speakPanel(s) {
  const voice = field('Voice', select([[DEFAULT_VOICE, 'Rachel']], { name: 'live_voice' }));
  const text = field('Text', h('textarea', { name: 'live_text', rows: 5, disabled: true }),
    { hint: 'Each word is sent when you type the space after it; a sentence is spoken when it ends (. ! ?).' });
  const start = h('button', { type: 'button', class: 'btn', 'data-live': 'start', text: 'Start speaking' });
  const speakNow = h('button', { type: 'button', class: 'btn btn-secondary', 'data-live': 'flush', text: 'Speak now', disabled: true });
  const stop = h('button', { type: 'button', class: 'btn btn-quiet', 'data-live': 'end', text: 'Finish', disabled: true });
  const state = h('span', { class: 'badge', 'data-live-state': 'idle', text: 'not connected' });
  const chunks = h('output', { 'data-live-chunks': '0', text: '0' });
  const seconds = h('output', { 'data-live-seconds': '0', text: '0.0' });
  const words = h('output', { 'data-live-words': '0', text: '0' });
  const how = h('p', { class: 'hint', 'data-live-auth': '' });
  const notice = h('div', { 'aria-live': 'polite' });
  const stats = h('p', { class: 'muted', 'aria-live': 'off' },
    'Words sent: ', words, ' · audio chunks: ', chunks, ' · seconds of audio: ', seconds);

  let live = null;
  let audio = null;
  let sent = 0;
  let wordCount = 0;

  const setState = (name, label) => {
    state.dataset.liveState = name;
    state.textContent = label;
    state.className = `badge ${name === 'open' ? 'badge-ok' : name === 'failed' ? 'badge-danger' : ''}`;
  };
  const setConnected = (on) => {
    text.control.disabled = !on;
    speakNow.disabled = !on;
    stop.disabled = !on;
    start.disabled = on;
    voice.control.disabled = on;
  };
  const count = (n) => {
    chunks.dataset.liveChunks = String(n);
    chunks.textContent = String(n);
    seconds.dataset.liveSeconds = audio.seconds.toFixed(2);
    seconds.textContent = audio.seconds.toFixed(1);
  };

  // sendWords sends the words typed since the last send; a sentence end flushes.
  const sendWords = (all) => {
    const value = text.control.value;
    if (value.length < sent) sent = value.length; // deleted text cannot be unsaid
    const rest = value.slice(sent);
    const cut = all ? rest.length : rest.search(/\s(?=\S*$)/) + 1;
    if (cut <= 0) return;
    const piece = rest.slice(0, cut);
    sent += cut;
    if (!piece.trim()) return;
    const flush = all || /[.!?]\s*$/.test(piece);
    try {
      live.send(piece, { flush });
      wordCount += piece.trim().split(/\s+/).length;
      words.dataset.liveWords = String(wordCount);
      words.textContent = String(wordCount);
    } catch (err) {
      replace(notice, errorNotice(err, 'Not sent'));
    }
  };

  const ended = (promise) => promise.then((end) => {
    setState('ended', end.final ? 'finished' : 'closed');
  }, (err) => {
    setState('failed', err instanceof LiveSocketError ? `closed ${err.closeCode}` : 'failed');
    replace(notice, errorNotice(err, 'The live socket ended'));
  }).finally(() => { setConnected(false); live = null; });

  start.addEventListener('click', async () => {
    replace(notice);
    start.disabled = true;
    setState('connecting', 'connecting…');
    try {
      if (audio) audio.close();
      audio = player();
      await audio.resume();
      count(0);
      const { client, minted } = await socketClient(s);
      how.textContent = minted
        ? 'Your API key stays here: a 15-minute user token for ElevenLabs was minted for this socket.'
        : 'The socket uses your user token.';
      how.dataset.liveAuth = minted ? 'minted' : 'own';
      live = await client.liveSpeech({
        voiceId: voice.control.value, outputFormat: `pcm_${SAMPLE_RATE}`,
        generationConfig: { chunk_length_schedule: [50, 90, 120, 150] },
        onChunk: (c) => { audio.play(c.audio); count(live ? live.chunks : 0); },
      });
      sent = text.control.value.length;
      wordCount = 0;
      setState('open', 'connected');
      setConnected(true);
      ended(live.done);
      text.control.focus();
    } catch (err) {
      setState('failed', 'not connected');
      start.disabled = false;
      replace(notice, errorNotice(err, 'Could not open the live socket'));
    }
  });
  text.control.addEventListener('input', () => { if (live) sendWords(false); });
  speakNow.addEventListener('click', () => { if (live) { sendWords(true); live.flush(); } });
  stop.addEventListener('click', () => {
    if (!live) return;
    sendWords(true);
    setState('ending', 'finishing…');
    live.end().catch(() => undefined);
  });

  const el = h('section', { class: 'card', 'aria-labelledby': 'live-speak', 'data-panel': 'live-speak' },
    h('h2', { id: 'live-speak', text: 'Speak as you type' }),
    h('p', { class: 'lede', text: 'Text goes to ElevenLabs word by word through aiproxy’s relayed socket, and the audio plays as it comes back.' }),
    h('div', { class: 'row' }, voice), text,
    h('div', { class: 'actions' }, start, speakNow, stop, state), how, stats, notice);
  el.load = async () => {
    try {
      const voices = await api.listElevenLabsVoices();
      if (voices.length) {
        const opts = voices.map((v) => [v.voice_id, v.name || v.voice_id]);
        const chosen = voices.some((v) => v.voice_id === DEFAULT_VOICE) ? DEFAULT_VOICE : opts[0][0];
        replace(voice.control, ...opts.map(([v, label]) => h('option', { value: v, text: label })));
        voice.control.value = chosen;
      }
    } catch { /* the default voice stays */ }
  };
  el.stop = () => { if (live) live.close(); if (audio) audio.close(); };
  return el;
}

const num = (v, digits) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');

/**
 * minutesOf is a session's minutes: the provider's once it is reconciled,
 * otherwise the time since it started (marked ≈), or none before a start.
 */
function minutesOf(x) {
  if (x.reconciled_at) return num(x.minutes, 0);
  if (!x.started_at) return '—';
  const end = x.stopped_at ? Date.parse(x.stopped_at) : Date.now();
  const m = (end - Date.parse(x.started_at)) / 60000;
  return Number.isFinite(m) ? `≈ ${Math.max(0, m).toFixed(1)}` : '—';
}

/** sessionsPanel lists the org's live sessions, or says why it cannot. */
function sessionsPanel(s) {
  const body = h('div', { 'aria-live': 'polite' });
  const refresh = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Refresh' });
  const el = h('section', { class: 'card', 'aria-labelledby': 'live-sessions', 'data-panel': 'live-sessions' },
    h('div', { class: 'page-head' }, h('h2', { id: 'live-sessions', text: s.member ? 'Your live sessions' : 'Live sessions in this org' }), refresh),
    body);
  el.load = async () => {
    replace(body, h('p', { class: 'state state-loading', role: 'status', text: 'Loading…' }));
    let res;
    try {
      res = await api.orgGet('/live-sessions/');
    } catch (err) {
      replace(body, err instanceof api.AIProxyError && (err.status === 404 || err.status === 405)
        ? h('p', { class: 'state', 'data-live-sessions': 'unavailable', text: 'Live sessions are not available on this server yet.' })
        : errorNotice(err));
      return;
    }
    const list = (res && res.sessions) || [];
    if (!list.length) {
      replace(body, h('p', { class: 'state', 'data-live-sessions': 'empty', text: 'No live sessions yet. They appear here when a LiveAvatar session is minted through aiproxy.' }));
      return;
    }
    replace(body, h('div', { class: 'table-wrap', 'data-live-sessions': 'list' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Session', 'User', 'Mode', 'State', 'Started', 'Minutes', 'Credits'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, list.map((x) => h('tr', { 'data-session': x.id || '' },
        h('td', {}, h('code', { title: x.id, text: String(x.id || '').slice(0, 13) })),
        h('td', { text: x.user || (s.member ? s.user : 'the org') }),
        h('td', { 'data-mode': x.mode || '', text: `${x.mode || '—'}${x.sandbox ? ' (sandbox)' : ''}` }),
        h('td', {}, h('span', { class: `badge ${x.state === 'stopped' ? '' : 'badge-ok'}`, 'data-state': x.state || '', text: x.state || '—' }),
          x.end_reason || x.stopped_by ? h('span', { class: 'muted', text: ` ${[x.end_reason, x.stopped_by && `by ${x.stopped_by}`].filter(Boolean).join(', ')}` }) : null),
        h('td', { text: formatTime(x.started_at || x.created_at) }),
        h('td', { 'data-minutes': '', text: minutesOf(x) }),
        h('td', { 'data-credits': '', text: x.reconciled_at ? num(x.credits, 2) : '—' })))))));
  };
  refresh.addEventListener('click', () => el.load());
  return el;
}

export async function render(container, ctx) {
  container.append(pageHead('Live', 'Real-time speech and live avatar sessions, through aiproxy.'));
  const speak = speakPanel(ctx.session);
  const sessions = sessionsPanel(ctx.session);
  container.append(h('div', { class: 'stack' }, speak, sessions));
  await Promise.all([speak.load(), sessions.load()]);
  return () => speak.stop();
}
