// The voice gallery: HeyGen's voices (for videos) and ElevenLabs' voices
// (for speech), each with its preview audio, searchable and filterable.
import * as api from '../api.js';
import { h, loading, empty, errorNotice, replace, pageHead } from '../ui.js';
import { gallery, distinct } from '../gallery.js';

/** heygenVoices normalizes HeyGen's list-voices answer. */
export function heygenVoices(voices) {
  return (voices || []).map((v) => ({
    id: v.voice_id, name: v.name || v.voice_id, language: v.language || '', gender: v.gender || '',
    preview: v.preview_audio, extra: v.emotion_support ? 'emotion' : '',
  }));
}

/** elevenlabsVoices normalizes ElevenLabs' list-voices answer. */
export function elevenlabsVoices(voices) {
  return (voices || []).map((v) => {
    const labels = v.labels || {};
    return {
      id: v.voice_id, name: v.name || v.voice_id, language: labels.language || labels.accent || '',
      gender: labels.gender || '', preview: v.preview_url, extra: v.category || '',
    };
  });
}

const providers = {
  heygen: {
    title: 'HeyGen', load: async () => heygenVoices(await api.listHeyGenVoices()),
    use: (v) => ({ href: `#/generate?voice=${encodeURIComponent(v.id)}`, text: 'Use in a video' }),
  },
  elevenlabs: {
    title: 'ElevenLabs', load: async () => elevenlabsVoices(await api.listElevenLabsVoices()),
    use: (v) => ({ href: `#/tts?voice=${encodeURIComponent(v.id)}`, text: 'Use for speech' }),
  },
};

function card(provider) {
  return (v) => {
    const use = provider.use(v);
    return h('li', { class: 'tile' },
      h('div', { class: 'tile-body' },
        h('h3', { text: v.name }),
        h('div', { class: 'meta' },
          v.language ? h('span', { class: 'badge', text: v.language }) : null,
          v.gender ? h('span', { class: 'badge', text: v.gender }) : null,
          v.extra ? h('span', { class: 'badge badge-accent', text: v.extra }) : null),
        h('span', { class: 'id', text: v.id }),
        v.preview
          ? h('audio', { controls: true, preload: 'none', src: v.preview, 'aria-label': `Preview of ${v.name}` })
          : h('span', { class: 'muted small', text: 'No preview' }),
        h('div', { class: 'actions' }, h('a', { class: 'btn btn-secondary btn-small', href: use.href, 'aria-label': `${use.text}: ${v.name}`, text: use.text }))));
  };
}

export async function render(container, ctx) {
  const which = providers[ctx.query.get('provider')] ? ctx.query.get('provider') : 'heygen';
  const provider = providers[which];
  container.append(
    pageHead('Voices', 'Listen to each voice before you use it.'),
    h('nav', { class: 'tabs', 'aria-label': 'Provider' }, Object.entries(providers).map(([k, p]) =>
      h('a', { href: `#/voices?provider=${k}`, 'aria-current': k === which ? 'page' : undefined, text: p.title }))));
  const body = h('div', {}, loading(`Loading ${provider.title} voices…`));
  container.append(body);
  try {
    const items = await provider.load();
    if (!items.length) { replace(body, empty(`${provider.title} returned no voices.`)); return; }
    replace(body, gallery(items, {
      label: `${provider.title} voices`,
      noun: 'voices',
      search: (v) => `${v.name} ${v.id} ${v.language}`,
      card: card(provider),
      filters: [
        { name: 'language', label: 'Language', values: (xs) => distinct(xs, (v) => v.language), match: (v, x) => v.language === x },
        { name: 'gender', label: 'Gender', values: (xs) => distinct(xs, (v) => v.gender), match: (v, x) => v.gender === x },
      ],
    }));
  } catch (err) {
    replace(body, errorNotice(err));
  }
}
