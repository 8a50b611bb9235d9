// Pickers that show and play: a modal <dialog> with a searchable,
// filterable grid of avatars (their preview images) or voices (a play
// button for each preview), used by the generate and speech forms. The
// chosen avatar and voice are remembered in localStorage, per org, so the
// next video starts with the same pair. <dialog> gives the focus trap and
// Escape for free; focus returns to the button that opened it.
import { h, field, select, replace, debounce, empty } from './ui.js';
import { distinct } from './gallery.js';

const PAIR = 'aiproxy.console.pair';

/** rememberedPair is the org's last chosen {avatar, voice, ttsVoice}, ids only. */
export function rememberedPair(org) {
  try { return (JSON.parse(localStorage.getItem(PAIR) || '{}') || {})[org] || {}; } catch { return {}; }
}

/** rememberPair merges choices ({avatar}, {voice}, {ttsVoice}) into the org's remembered pair. */
export function rememberPair(org, choice) {
  let all = {};
  try { all = JSON.parse(localStorage.getItem(PAIR) || '{}') || {}; } catch { /* start again */ }
  all[org] = { ...(all[org] || {}), ...choice };
  localStorage.setItem(PAIR, JSON.stringify(all));
}

// One audio element plays every preview, so starting one stops the last.
let player = null;
let playing = null;

function stopPreview() {
  if (player) player.pause();
  if (playing) { playing.setAttribute('aria-pressed', 'false'); playing.textContent = '▶ Play'; }
  playing = null;
}

/** playButton plays (or stops) a voice's preview audio. */
export function playButton(v) {
  const btn = h('button', { type: 'button', class: 'btn btn-secondary btn-small play', 'aria-pressed': 'false',
    'aria-label': `Play a sample of ${v.name}`, 'data-preview': v.preview, text: '▶ Play' });
  btn.addEventListener('click', () => {
    if (playing === btn) { stopPreview(); return; }
    stopPreview();
    if (!player) {
      player = h('audio', { preload: 'none', class: 'preview-player' });
      player.addEventListener('ended', stopPreview);
      document.body.append(player);
    }
    player.src = v.preview;
    playing = btn;
    btn.setAttribute('aria-pressed', 'true');
    btn.textContent = '■ Stop';
    player.play().catch(() => stopPreview());
  });
  return btn;
}

/**
 * openPicker shows items in a modal and resolves with the chosen one (or
 * null). kind is "avatar", "look" (HeyGen v3) or "voice"; items are
 * avatarItems, lookItems or voice items.
 */
export function openPicker({ kind, title, items, selected }) {
  return new Promise((resolve) => {
    const q = h('input', { type: 'search', name: 'picker-q', autocomplete: 'off', placeholder: 'Name or id' });
    const filters = { avatar: [['gender', 'Gender', (x) => x.gender]],
      look: [['group', 'Avatar', (x) => x.group], ['gender', 'Gender', (x) => x.gender]] }[kind] ||
      [['language', 'Language', (x) => x.language], ['gender', 'Gender', (x) => x.gender]];
    const selects = filters.map(([name, label, key]) => ({ key, el: select([['', 'All'], ...distinct(items, key)], { name: `picker-${name}` }), label }));
    const count = h('p', { class: 'result-count', role: 'status', 'aria-live': 'polite' });
    const list = h('ul', { class: `gallery picker-grid picker-${kind}`, 'aria-label': title });
    const close = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Close' });
    const dialog = h('dialog', { class: 'picker', 'aria-label': title },
      h('div', { class: 'picker-head' }, h('h2', { text: title }), close),
      h('form', { class: 'filters', role: 'search', onsubmit: (ev) => ev.preventDefault() },
        h('div', { class: 'field grow' }, ...field('Search', q).childNodes),
        selects.map((s) => field(s.label, s.el))),
      count, list);
    let chosen = null;
    const choose = (it) => { chosen = it; dialog.close(); };
    const tile = (it) => h('li', { class: `tile${it.id === selected ? ' selected' : ''}`, 'data-pick': it.id },
      kind !== 'voice' && it.image ? h('img', { src: it.image, alt: '', loading: 'lazy', width: 160, height: 160 }) : null,
      h('div', { class: 'tile-body' },
        h('h3', { text: it.name }),
        h('div', { class: 'meta' }, [it.group, it.gender, it.language].filter(Boolean).map((t) => h('span', { class: 'badge', text: t }))),
        kind === 'voice' ? (it.preview ? playButton(it) : h('span', { class: 'muted small', text: 'No sample' })) : null,
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Choose ${it.name}`,
          'aria-current': it.id === selected ? 'true' : undefined, text: it.id === selected ? 'Chosen' : 'Choose', onclick: () => choose(it) }))));
    const apply = () => {
      const needle = q.value.trim().toLowerCase();
      const matched = items.filter((it) => (!needle || `${it.name} ${it.group || ''} ${it.id} ${(it.tags || []).join(' ')}`.toLowerCase().includes(needle)) &&
        selects.every((s) => !s.el.value || s.key(it) === s.el.value));
      count.textContent = `${matched.length} of ${items.length}`;
      replace(list, matched.length ? matched.slice(0, 60).map(tile) : h('li', {}, empty('Nothing matches.')));
    };
    q.addEventListener('input', debounce(apply));
    for (const s of selects) s.el.addEventListener('change', apply);
    close.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => { stopPreview(); dialog.remove(); resolve(chosen); });
    apply();
    document.body.append(dialog);
    dialog.showModal();
    q.focus();
  });
}
