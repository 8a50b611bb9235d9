// A searchable, filterable gallery of cards, shared by the avatar and voice
// pages. Filtering happens in the browser: the providers' list actions
// return whole catalogs.
import { h, field, select, empty, replace, debounce } from './ui.js';

/**
 * gallery renders items with a search box and select filters.
 * opts: label (for the list), search(item) → searchable text,
 * filters: [{name, label, values(items) → [[v, label]], match(item, v)}],
 * card(item) → <li>, pageSize.
 */
export function gallery(items, { label, search, filters = [], card, pageSize = 48, noun = 'items' }) {
  const q = h('input', { type: 'search', name: 'q', autocomplete: 'off', placeholder: 'Name or id' });
  const selects = filters.map((f) => {
    const opts = [['', 'All'], ...f.values(items)];
    return { f, el: select(opts, { name: f.name }) };
  });
  const count = h('p', { class: 'result-count', role: 'status', 'aria-live': 'polite' });
  const list = h('ul', { class: 'gallery', 'aria-label': label });
  const more = h('div', { class: 'more' });
  let shown = pageSize;

  const apply = () => {
    const needle = q.value.trim().toLowerCase();
    const matched = items.filter((it) =>
      (!needle || search(it).toLowerCase().includes(needle)) &&
      selects.every(({ f, el }) => !el.value || f.match(it, el.value)));
    count.textContent = matched.length === items.length
      ? `${items.length} ${noun}` : `${matched.length} of ${items.length} ${noun}`;
    if (!matched.length) {
      replace(list);
      replace(more, empty(`No ${noun} match these filters.`,
        h('button', { type: 'button', class: 'btn btn-secondary', text: 'Clear filters', onclick: clear })));
      return;
    }
    replace(list, matched.slice(0, shown).map(card));
    replace(more, matched.length > shown
      ? h('button', { type: 'button', class: 'btn btn-secondary', text: `Show more (${matched.length - shown} left)`,
        onclick: () => { shown += pageSize; apply(); } })
      : null);
  };
  const clear = () => {
    q.value = '';
    for (const { el } of selects) el.value = '';
    shown = pageSize;
    apply();
    q.focus();
  };
  const reapply = () => { shown = pageSize; apply(); };
  q.addEventListener('input', debounce(reapply));
  for (const { el } of selects) el.addEventListener('change', reapply);

  const form = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => ev.preventDefault() },
    h('div', { class: 'field grow' }, ...fieldParts('Search', q)),
    selects.map(({ f, el }) => h('div', { class: 'field' }, ...fieldParts(f.label, el))));
  apply();
  return h('div', {}, form, count, list, more);
}

function fieldParts(label, control) {
  const wrap = field(label, control);
  return [...wrap.childNodes];
}

/** distinct lists the distinct non-empty values of key(item), sorted. */
export function distinct(items, key) {
  return [...new Set(items.map(key).filter(Boolean))].sort((a, b) => String(a).localeCompare(String(b)));
}
