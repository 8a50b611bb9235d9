// Rendering an invoke answer by what it is: JSON pretty-printed, audio,
// video and images in a player with a download link, streams read to the
// end with a running byte count, anything else as text.
import { h } from './ui.js';

/** readStream reads a ReadableStream to a Blob, reporting bytes as they come. */
export async function readStream(stream, onBytes = () => {}) {
  const reader = stream.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.byteLength;
    onBytes(n);
  }
  return new Blob(chunks, { type: sniff(chunks[0]) });
}

/** sniff guesses a media type from the first bytes of a stream. */
export function sniff(first) {
  if (!first || first.length < 3) return 'application/octet-stream';
  if (first[0] === 0x49 && first[1] === 0x44 && first[2] === 0x33) return 'audio/mpeg'; // ID3
  if (first[0] === 0xff && (first[1] & 0xe0) === 0xe0) return 'audio/mpeg'; // MPEG frame sync
  if (first[0] === 0x7b || first[0] === 0x5b) return 'application/json';
  return 'text/plain';
}

const extensions = { 'audio/mpeg': 'mp3', 'audio/wav': 'wav', 'video/mp4': 'mp4', 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/** mediaView shows a Blob in the right player, with a download link. */
export function mediaView(blob, name = 'result') {
  const url = URL.createObjectURL(blob);
  const type = blob.type || 'application/octet-stream';
  const ext = extensions[type.split(';')[0]] || 'bin';
  let player = null;
  if (type.startsWith('audio/')) player = h('audio', { controls: true, src: url, preload: 'auto' });
  else if (type.startsWith('video/')) player = h('video', { controls: true, src: url, preload: 'metadata' });
  else if (type.startsWith('image/')) player = h('img', { src: url, alt: `${name} result`, style: undefined });
  const wrap = h('div', { class: 'player' }, player,
    h('div', { class: 'actions' },
      h('a', { class: 'btn btn-secondary', href: url, download: `${name}.${ext}`, text: `Download ${ext.toUpperCase()}` }),
      h('span', { class: 'muted small', text: `${type} · ${formatBytes(blob.size)}` })));
  wrap.objectURL = url;
  return wrap;
}

/** formatBytes shows a byte count for people. */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** resultView renders an answer from api.invoke. */
export async function resultView(answer, { stream = false, ms = 0, name = 'result' } = {}) {
  const head = (kind) => h('div', { class: 'response-head' },
    h('span', { class: 'badge badge-ok', text: 'OK' }), h('span', { class: 'badge', text: kind }),
    h('span', { class: 'muted small', text: `${Math.round(ms)} ms` }));
  if (stream) {
    const count = h('p', { class: 'muted small', role: 'status', text: 'Streaming…' });
    const blob = await readStream(answer, (n) => { count.textContent = `Received ${formatBytes(n)}…`; });
    count.textContent = `Stream ended after ${formatBytes(blob.size)}.`;
    if (blob.type === 'application/json' || blob.type === 'text/plain') {
      return h('div', {}, head('stream'), count, h('pre', { text: await blob.text() }));
    }
    return h('div', {}, head('stream'), count, mediaView(blob, name));
  }
  if (answer instanceof Blob) {
    if (/^text\/|json|xml/.test(answer.type)) return h('div', {}, head(answer.type), h('pre', { text: await answer.text() }));
    return h('div', {}, head(answer.type || 'binary'), mediaView(answer, name));
  }
  if (typeof answer === 'string') return h('div', {}, head('text'), h('pre', { text: answer }));
  return h('div', {}, head('json'), h('pre', { tabindex: 0, 'aria-label': 'JSON response', text: JSON.stringify(answer, null, 2) }));
}
