// The HeyGen avatar gallery: avatars and talking photos with their preview
// images, searchable and filterable, each one a click away from a video.
import * as api from '../api.js';
import { h, loading, empty, errorNotice, replace, pageHead } from '../ui.js';
import { gallery, distinct } from '../gallery.js';

/** avatarItems normalizes the client's avatar list for the gallery. */
export function avatarItems(avatars) {
  return (avatars || []).map((a) => ({
    id: a.avatar_id, name: a.avatar_name || a.avatar_id, kind: a.type || 'avatar', gender: a.gender || '',
    image: a.preview_image_url, premium: Boolean(a.premium), tags: Array.isArray(a.tags) ? a.tags : [],
  }));
}

/**
 * lookItems normalizes HeyGen v3's looks for the picker, each named with
 * its group (the person) when the groups are known.
 */
export function lookItems(looks, groups = []) {
  const names = new Map((groups || []).map((g) => [g.id, g.name]));
  return (looks || []).map((l) => ({
    id: l.id, name: l.name || l.id, group: names.get(l.group_id) || '', groupId: l.group_id || '', kind: l.avatar_type || '',
    gender: l.gender || '', image: l.preview_image_url || '', voice: l.default_voice_id || '', tags: Array.isArray(l.tags) ? l.tags : [],
  }));
}

function card(a) {
  const useHref = `#/generate?avatar=${encodeURIComponent(a.id)}`;
  return h('li', { class: 'tile' },
    a.image ? h('img', { src: a.image, alt: `Preview of ${a.name}`, loading: 'lazy', width: 190, height: 190 }) : null,
    h('div', { class: 'tile-body' },
      h('h3', { text: a.name }),
      h('div', { class: 'meta' },
        a.gender ? h('span', { class: 'badge', text: a.gender }) : null,
        a.premium ? h('span', { class: 'badge badge-warn', text: 'premium' }) : null),
      h('span', { class: 'id', text: a.id }),
      h('div', { class: 'actions' }, h('a', { class: 'btn btn-secondary btn-small', href: useHref, 'aria-label': `Make a video with ${a.name}`, text: 'Make a video' }))));
}

export async function render(container) {
  container.append(pageHead('Avatars', 'HeyGen avatars available to this org. Pick one to make a video.'));
  const body = h('div', {}, loading('Loading avatars…'));
  container.append(body);
  try {
    const items = avatarItems(await api.listAvatars());
    if (!items.length) { replace(body, empty('HeyGen returned no avatars for this account.')); return; }
    replace(body, gallery(items, {
      label: 'Avatars',
      noun: 'avatars',
      search: (a) => `${a.name} ${a.id} ${a.tags.join(' ')}`,
      card,
      filters: [
        { name: 'gender', label: 'Gender', values: (xs) => distinct(xs, (a) => a.gender), match: (a, v) => a.gender === v },
        { name: 'tier', label: 'Tier', values: () => [['free', 'Included'], ['premium', 'Premium']], match: (a, v) => (v === 'premium') === a.premium },
      ],
    }));
  } catch (err) {
    replace(body, errorNotice(err));
  }
}
