// The text-to-speech playground: pick an ElevenLabs voice and model, type,
// listen, download. Streaming mode uses tts-stream and shows the bytes as
// they arrive.
import * as api from '../api.js';
import { h, field, select, setError, errorNotice, replace, pageHead, busy, uid, formatTime } from '../ui.js';
import { elevenlabsVoices } from './voices.js';
import { mediaView, readStream, formatBytes } from '../result.js';
import { openPicker, rememberedPair, rememberPair } from '../picker.js';
import { formatUnits } from '../format.js';

const canAdmin = (s) => !s.member && (s.role === 'admin' || s.role === 'platform');

/**
 * recentPanel lists the org's latest speeches from the request log (org
 * admins only: the log is theirs); refresh reloads it.
 */
function recentPanel() {
  const body = h('div', {});
  const el = h('section', { class: 'card', 'aria-labelledby': 'tts-recent', 'data-panel': 'tts-recent' },
    h('h2', { id: 'tts-recent', text: 'Recent speech in this org' }), body);
  el.refresh = async () => {
    try {
      const res = await api.listRequests({ service: 'elevenlabs', limit: 50 });
      const rows = ((res && res.requests) || []).filter((r) => /^tts/.test(r.action || '')).slice(0, 10);
      el.rows = rows;
      replace(body, rows.length ? h('ul', { class: 'recent-list' }, rows.map((r) => h('li', { 'data-request': r.request_id || '' },
        h('span', { class: `badge ${r.status >= 400 ? 'badge-danger' : 'badge-ok'}`, text: String(r.status) }),
        h('span', {}, `${formatTime(r.at)} · ${r.action} · ${[r.user && `user ${r.user}`, r.key_id && `key ${r.key_id}`].filter(Boolean).join(' · ') || 'the org'}`,
          r.units ? ` · ${formatUnits({ [r.unit || 'characters']: r.units })}` : '')))) : h('p', { class: 'muted', text: 'No speech yet.' }));
    } catch (err) {
      replace(body, err instanceof api.AIProxyError && err.status === 404
        ? h('p', { class: 'state', text: 'The request log is not on this server yet.' }) : errorNotice(err));
    }
  };
  // follow refreshes until a speech made at or after since is listed (the
  // server writes its log in batches, about every second), six times at most.
  el.stopped = false;
  el.follow = async (since) => {
    for (let i = 0; i < 6 && !el.stopped; i++) {
      el.rows = [];
      await el.refresh();
      if (el.rows.some((r) => Date.parse(r.at) >= since - 1000)) return;
      await new Promise((resolve) => { setTimeout(resolve, 1500); });
    }
  };
  return el;
}

const MAX_CHARS = 5000;

function slider(label, name, value) {
  const input = h('input', { type: 'range', name, min: 0, max: 1, step: 0.05, value: String(value) });
  const out = h('output', { class: 'slider-value', for: undefined, text: value.toFixed(2) });
  input.addEventListener('input', () => { out.textContent = Number(input.value).toFixed(2); });
  const wrap = field(label, input);
  wrap.querySelector('label').append(' ', out);
  return wrap;
}

export async function render(container, ctx) {
  container.append(pageHead('Text to speech', 'Hear an ElevenLabs voice say your text, then download the MP3.'));
  const notice = h('div', {});
  const voice = field('Voice', select([['', 'Loading voices…']], { name: 'voice_id', disabled: true }));
  const model = field('Model', select([['eleven_multilingual_v2', 'Eleven Multilingual v2']], { name: 'model_id' }));
  const text = field('Text', h('textarea', { name: 'text', rows: 6, maxlength: MAX_CHARS }), { hint: `Up to ${MAX_CHARS} characters.` });
  text.control.value = 'Hello! This is aiproxy speaking through ElevenLabs.';
  const count = h('p', { class: 'charcount', 'aria-live': 'off' });
  const updateCount = () => { count.textContent = `${text.control.value.length} / ${MAX_CHARS}`; };
  text.control.addEventListener('input', updateCount);
  updateCount();
  const stability = slider('Stability', 'stability', 0.5);
  const similarity = slider('Similarity boost', 'similarity_boost', 0.75);
  const stream = h('input', { type: 'checkbox', name: 'stream', id: uid('stream') });
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Speak' });
  const result = h('div', { class: 'player', 'aria-live': 'polite' });
  let objectURL = null;

  const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Speech' },
    notice, h('div', { class: 'row' }, voice, model), text, count,
    h('fieldset', {}, h('legend', { text: 'Voice settings' }), h('div', { class: 'row' }, stability, similarity)),
    h('label', { class: 'check', for: stream.id }, stream, 'Stream (tts-stream: audio arrives as it is made)'),
    h('div', { class: 'actions' }, submit));
  container.append(h('div', { class: 'split' }, form, h('section', { class: 'card', 'aria-label': 'Result' }, h('h2', { text: 'Result', style: undefined }), result)));
  const recent = canAdmin(ctx.session) ? recentPanel() : null;
  if (recent) { container.append(recent); recent.refresh(); }
  let voiceItems = [];
  const pick = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-picker': 'voice', text: 'Choose a voice…', disabled: true });
  voice.append(pick);
  pick.addEventListener('click', async () => {
    const it = await openPicker({ kind: 'voice', title: 'Choose a voice', items: voiceItems, selected: voice.control.value });
    pick.focus();
    if (!it) return;
    voice.control.value = it.id;
    rememberPair(ctx.session.org, { ttsVoice: it.id });
  });
  voice.control.addEventListener('change', () => rememberPair(ctx.session.org, { ttsVoice: voice.control.value }));
  replace(result, h('p', { class: 'muted', text: 'Your audio appears here.' }));

  Promise.all([api.listElevenLabsVoices(), api.listModels().catch(() => null)]).then(([v, m]) => {
    const voices = elevenlabsVoices(v);
    replace(voice.control, voices.map((x) => h('option', { value: x.id, text: `${x.name}${x.language ? ` (${x.language})` : ''}` })));
    voice.control.disabled = false;
    voiceItems = voices;
    pick.disabled = false;
    const want = ctx.query.get('voice') || rememberedPair(ctx.session.org).ttsVoice;
    if (want && voices.some((x) => x.id === want)) voice.control.value = want;
    if (Array.isArray(m) && m.length) {
      const tts = m.filter((x) => x.can_do_text_to_speech !== false);
      replace(model.control, tts.map((x) => h('option', { value: x.model_id, text: x.name || x.model_id })));
      model.control.value = tts.some((x) => x.model_id === 'eleven_multilingual_v2') ? 'eleven_multilingual_v2' : tts[0].model_id;
    }
  }).catch((err) => {
    replace(notice, errorNotice(err, 'Could not load voices'));
    replace(voice.control, h('option', { value: '', text: 'Unavailable' }));
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = text.control.value.trim();
    setError(text, t ? '' : 'Type something to say.');
    setError(voice, voice.control.value ? '' : 'Choose a voice.');
    if (!t || !voice.control.value) { form.querySelector('[aria-invalid="true"]').focus(); return; }
    const req = {
      voiceId: voice.control.value, text: t, modelId: model.control.value,
      voiceSettings: { stability: Number(stability.control.value), similarity_boost: Number(similarity.control.value) },
    };
    const started = Date.now();
    await busy(submit, 'Speaking…', async () => {
      if (objectURL) URL.revokeObjectURL(objectURL);
      objectURL = null;
      const progress = h('p', { class: 'muted small', role: 'status', text: 'Waiting for the first audio…' });
      replace(result, progress);
      try {
        let blob;
        if (stream.checked) {
          blob = await readStream(await api.ttsStream(req), (n) => { progress.textContent = `Received ${formatBytes(n)}…`; });
          blob = new Blob([blob], { type: 'audio/mpeg' });
        } else {
          blob = await api.tts(req);
        }
        const view = mediaView(blob, 'speech');
        objectURL = view.objectURL;
        replace(result, view);
        const audio = view.querySelector('audio');
        audio.play().catch(() => { /* autoplay may be refused; the controls remain */ });
        if (recent) recent.follow(started);
      } catch (err) {
        replace(result, errorNotice(err, 'No audio'));
        if (recent) recent.follow(started);
      }
    });
  });
  return () => {
    if (objectURL) URL.revokeObjectURL(objectURL);
    if (recent) recent.stopped = true;
  };
}
