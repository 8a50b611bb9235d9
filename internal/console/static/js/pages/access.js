// Per-org access: which services and endpoints the org may use. Discovery
// hides what is off, so the page lists the services discovery shows plus
// the rules that turned something off. Only a platform admin may change it.
import * as api from '../api.js';
import { h, errorNotice, loading, empty, replace, pageHead, busy, toast } from '../ui.js';

export async function render(container, ctx) {
  const canEdit = ctx.session.role === 'platform';
  container.append(pageHead('Access', `The services and endpoints org ${ctx.session.org} may use. What is off disappears from discovery and answers 404.`));
  if (!canEdit) {
    container.append(h('div', { class: 'notice read-only', role: 'note', 'data-testid': 'read-only' },
      h('strong', { text: 'Read only.' }), ' Only a platform admin key may turn services or endpoints on or off.'));
  }
  const body = h('div', {}, loading('Loading access rules…'));
  container.append(body);
  const opened = new Set();
  // refresh redraws the list, keeping open endpoint lists open and focus on
  // the button that was pressed (now labelled the other way round).
  const refresh = async (focusLabel) => {
    try {
      const [rules, services] = await Promise.all([api.listAccess(), api.listServices()]);
      const details = await Promise.all(services.map((s) => api.getService(s.slug).catch(() => ({ ...s, endpoints: [] }))));
      replace(body, accessList(details, rules, canEdit, refresh, opened));
      if (focusLabel) {
        const b = [...body.querySelectorAll('button')].find((x) => x.getAttribute('aria-label').endsWith(` ${focusLabel}`));
        if (b) b.focus();
      }
    } catch (err) {
      replace(body, errorNotice(err));
    }
  };
  await refresh();
}

function accessList(services, rules, canEdit, refresh, opened) {
  const off = (svc, ep) => rules.some((r) => r.service === svc && (r.endpoint || '') === (ep || ''));
  const slugs = [...new Set([...services.map((s) => s.slug), ...rules.map((r) => r.service)])];
  if (!slugs.length) return empty('No services.');
  return h('div', { class: 'stack' }, slugs.map((slug) => {
    const s = services.find((x) => x.slug === slug) || { slug, display_name: slug, endpoints: [] };
    const eps = [...new Set([...(s.endpoints || []).map((e) => e.slug), ...rules.filter((r) => r.service === slug && r.endpoint).map((r) => r.endpoint)])];
    const serviceOff = off(slug, '');
    return h('section', { class: 'card', 'aria-labelledby': `acc-${slug}`, 'data-access': slug },
      h('ul', { class: 'toggle-list' }, h('li', {},
        h('h2', { id: `acc-${slug}` }, s.display_name, ' ', stateBadge(!serviceOff)),
        canEdit ? toggle(slug, '', !serviceOff, refresh) : null)),
      serviceOff ? h('p', { class: 'muted small', text: 'The whole service is off for this org.' }) :
        h('details', { class: 'endpoint-toggles', open: opened.has(slug), ontoggle: (ev) => { if (ev.target.open) opened.add(slug); else opened.delete(slug); } },
          h('summary', { text: `Endpoints (${eps.length}, ${eps.filter((e) => off(slug, e)).length} off)` }),
          h('ul', { class: 'toggle-list' }, eps.map((e) => h('li', { 'data-endpoint': e },
            h('span', {}, h('span', { class: 'mono', text: e }), ' ', stateBadge(!off(slug, e))),
            canEdit ? toggle(slug, e, !off(slug, e), refresh) : null)))));
  }));
}

const stateBadge = (on) => h('span', { class: `badge ${on ? 'badge-ok' : 'badge-danger'}`, text: on ? 'on' : 'off' });

function toggle(service, endpoint, on, refresh) {
  const name = endpoint ? `${service}/${endpoint}` : service;
  const btn = h('button', { type: 'button', class: `btn btn-small ${on ? 'btn-secondary' : ''}`, text: on ? 'Turn off' : 'Turn on',
    'aria-label': `${on ? 'Turn off' : 'Turn on'} ${name}` });
  btn.addEventListener('click', () => busy(btn, 'Saving…', async () => {
    try {
      await api.setAccess(service, endpoint, !on);
      toast(`${name} turned ${on ? 'off' : 'on'}.`);
      await refresh(name);
    } catch (err) {
      btn.after(errorNotice(err));
    }
  }));
  return btn;
}
