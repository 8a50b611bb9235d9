// API keys: list, create (the secret is shown once), revoke with an inline
// confirmation. Platform admins can switch to the platform's own keys.
import * as api from '../api.js';
import { h, field, select, errorNotice, loading, empty, replace, pageHead, busy, formatTime, toast } from '../ui.js';

/** scopeTabs lets a platform admin switch between the org and the platform. */
export function scopeTabs(ctx, page, scope) {
  if (ctx.session.role !== 'platform') return null;
  return h('nav', { class: 'tabs', 'aria-label': 'Scope' },
    h('a', { href: `#/${page}`, 'aria-current': scope === 'org' ? 'page' : undefined, text: `Org ${ctx.session.org}` }),
    h('a', { href: `#/${page}?scope=platform`, 'aria-current': scope === 'platform' ? 'page' : undefined, text: 'Platform' }));
}

export async function render(container, ctx) {
  const scope = ctx.session.role === 'platform' && ctx.query.get('scope') === 'platform' ? 'platform' : 'org';
  const who = scope === 'platform' ? 'the platform' : `org ${ctx.session.org}`;
  container.append(pageHead('API keys', `Keys that call aiproxy for ${who}. A key’s secret is shown once, when it is created.`));
  const tabs = scopeTabs(ctx, 'keys', scope);
  if (tabs) container.append(tabs);
  const created = h('div', { tabindex: '-1' });
  const table = h('div', {}, loading('Loading keys…'));
  const refresh = async () => {
    try {
      const list = await api.listKeys(scope);
      replace(table, list.length ? keyTable(list, scope, refresh) : empty('No keys yet.'));
    } catch (err) {
      replace(table, errorNotice(err));
    }
  };
  container.append(createForm(scope, created, refresh), created, h('h2', { text: 'Keys' }), table);
  await refresh();
}

function createForm(scope, created, refresh) {
  const name = field('Name', h('input', { type: 'text', name: 'name', required: true, maxlength: 100, autocomplete: 'off' }),
    { hint: 'What the key is for, for example "website" or "ci".' });
  const role = scope === 'platform' ? null
    : field('Role', select([['invoke', 'Member: discover and invoke'], ['admin', 'Admin: also keys and credentials']], { name: 'role' }));
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Create key' });
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Create a key' },
    h('h2', { text: 'Create a key', style: undefined }), h('div', { class: 'row' }, name, role, h('div', { class: 'field' }, submit)));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const n = name.control.value.trim();
    if (!n) { name.errorEl.hidden = false; name.errorEl.textContent = 'Give the key a name.'; name.control.setAttribute('aria-invalid', 'true'); name.control.focus(); return; }
    name.errorEl.hidden = true;
    name.control.removeAttribute('aria-invalid');
    await busy(submit, 'Creating…', async () => {
      try {
        const k = await api.createKey(scope, n, role ? role.control.value : undefined);
        replace(created, secretBox(k, created));
        name.control.value = '';
        created.focus();
        await refresh();
      } catch (err) {
        replace(created, errorNotice(err, 'The key was not created'));
        created.focus();
      }
    });
  });
  return form;
}

function secretBox(k, slot) {
  const code = h('code', { class: 'secret', text: k.key, 'data-testid': 'new-key' });
  const copy = h('button', { type: 'button', class: 'btn btn-secondary btn-small', text: 'Copy' });
  copy.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(k.key); toast('Key copied.'); } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      toast('Select-all done: press Ctrl+C to copy.');
    }
  });
  return h('div', { class: 'notice notice-ok', role: 'alert' },
    h('strong', { text: `Key “${k.name}” created. Copy it now: it will not be shown again.` }),
    h('div', { class: 'secret-box' }, code, copy),
    h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'I have saved it', onclick: () => replace(slot) }));
}

function keyTable(list, scope, refresh) {
  const rows = list.map((k) => {
    const revoked = Boolean(k.revoked_at);
    const cell = h('td', {});
    if (!revoked) cell.append(revokeButton(k, scope, cell, refresh));
    else cell.append(h('span', { class: 'muted small', text: `Revoked ${formatTime(k.revoked_at)}` }));
    return h('tr', { class: revoked ? 'revoked' : undefined, 'data-key-id': k.id },
      h('td', {}, h('strong', { text: k.name }), h('div', { class: 'mono small muted', text: k.id })),
      h('td', {}, h('span', { class: `badge ${k.role === 'admin' ? 'badge-accent' : ''}`, text: k.role })),
      h('td', { text: formatTime(k.created_at) }),
      h('td', { text: k.last_used_at ? formatTime(k.last_used_at) : 'Never' }),
      h('td', {}, revoked ? h('span', { class: 'badge badge-danger', text: 'revoked' }) : h('span', { class: 'badge badge-ok', text: 'active' })),
      cell);
  });
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden', text: `API keys (${scope})` }),
    h('thead', {}, h('tr', {}, ['Name', 'Role', 'Created', 'Last used', 'Status', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows)));
}

function revokeButton(k, scope, cell, refresh) {
  const btn = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Revoke', 'aria-label': `Revoke key ${k.name}` });
  btn.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', text: 'Revoke now', 'aria-label': `Confirm: revoke key ${k.name}` });
    const no = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Cancel' });
    const msg = h('span', { class: 'small', text: 'Calls with this key will fail at once. ' });
    replace(cell, h('div', { class: 'actions', role: 'group', 'aria-label': 'Confirm revoke' }, msg, yes, no));
    yes.focus();
    no.addEventListener('click', () => { replace(cell, revokeButton(k, scope, cell, refresh)); cell.querySelector('button').focus(); });
    yes.addEventListener('click', () => busy(yes, 'Revoking…', async () => {
      try {
        await api.revokeKey(scope, k.id);
        toast(`Key ${k.name} revoked.`);
        await refresh();
      } catch (err) {
        replace(cell, errorNotice(err));
      }
    }));
  });
  return btn;
}
