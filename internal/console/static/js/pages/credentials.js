// Provider credentials, one card per service: the masked current value, a
// form to set or rotate it (fields from the service's credential_schema,
// never echoed back), delete, and "test this credential", which calls the
// service's cheapest list action through the normal invoke path.
import * as api from '../api.js';
import { h, field, errorNotice, loading, empty, replace, pageHead, busy, formatTime, toast } from '../ui.js';
import { scopeTabs } from './keys.js';

/**
 * testAction picks the cheap action that checks a service's credential: the
 * catalog's credential_check_action (from checks, when the service offers it),
 * else a known list action, else any list action without path parameters.
 */
export function testAction(service, checks = {}) {
  const eps = service.endpoints || [];
  const declared = checks[service.slug];
  if (declared && eps.some((e) => e.slug === declared)) return declared;
  const preferred = { heygen: 'list-avatars', elevenlabs: 'list-voices' }[service.slug];
  if (preferred && eps.some((e) => e.slug === preferred)) return preferred;
  const list = eps.find((e) => e.slug.startsWith('list-') && !e.path_template.includes('{'));
  return list ? list.slug : null;
}

export async function render(container, ctx) {
  const scope = ctx.session.role === 'platform' && ctx.query.get('scope') === 'platform' ? 'platform' : 'org';
  container.append(pageHead('Credentials', scope === 'platform'
    ? 'The platform’s provider keys, used by orgs whose credential policy allows them.'
    : `Provider keys of org ${ctx.session.org}. Values are stored sealed and shown masked.`));
  const tabs = scopeTabs(ctx, 'credentials', scope);
  if (tabs) container.append(tabs);
  const body = h('div', {}, loading('Loading credentials…'));
  container.append(body);
  try {
    const [summaries, stored, checks] = await Promise.all([api.listServices(), api.listCredentials(scope),
      api.credentialChecks().catch(() => ({}))]);
    const services = await Promise.all(summaries.map((s) => api.getService(s.slug)));
    if (!services.length) { replace(body, empty('No services are enabled, so no credentials are needed.')); return; }
    const byName = new Map(stored.map((c) => [c.name, c]));
    replace(body, h('div', { class: 'service-list wide' }, services.map((s) => credentialCard(s, byName.get(s.credential_name), scope, checks))));
  } catch (err) {
    replace(body, errorNotice(err));
  }
}

function policyText(p) {
  if (!p) return '';
  const sources = [p.allow_tenant_key && 'org key', p.allow_platform_key && 'platform key'].filter(Boolean).join(' or ');
  const first = p.default_source === 'tenant' ? 'org' : p.default_source;
  return `Uses the ${sources || 'no key'}; tries the ${first} key first${p.fallback_to_platform_key ? ', then falls back to the platform key' : ''}.`;
}

/** poolText says a pool key's health in words. */
function poolText(k) {
  if (k.state === 'resting') return `resting${k.rest_until ? ` until ${formatTime(k.rest_until)}` : ''}${k.reason ? `: ${k.reason}` : ''}`;
  if (k.state === 'removed') return `removed${k.reason ? `: ${k.reason}` : ''}`;
  return k.state;
}

/**
 * poolPanel shows the keys of a pooled credential with their health, and a
 * Restore button for a key that rests or was removed. A credential of one
 * key shows nothing.
 */
function poolPanel(scope, name) {
  const box = h('div', { class: 'pool', 'data-pool': name });
  const load = async () => {
    let pool;
    try {
      pool = await api.credentialPool(scope, name);
    } catch (err) {
      if (err && err.status === 404) { replace(box); return; }
      replace(box, errorNotice(err, 'Key health not available'));
      return;
    }
    if (!pool || !pool.pooled) { replace(box); return; }
    const rows = pool.keys.map((k) => {
      const cells = [
        h('td', { class: 'mono', text: k.id }),
        h('td', { class: 'mono masked', text: Object.values(k.masked || {}).join(' ') }),
        h('td', { text: String(k.weight) }),
        h('td', { text: k.max_concurrency ? String(k.max_concurrency) : '–' }),
        h('td', { 'data-state': k.state, text: poolText(k) }),
        h('td', { text: String(k.in_flight) }),
      ];
      const act = h('td', {});
      if (k.state === 'resting' || k.state === 'removed') {
        const btn = h('button', { type: 'button', class: 'btn btn-small btn-secondary', text: 'Restore' });
        btn.addEventListener('click', () => busy(btn, 'Restoring…', async () => {
          try {
            await api.restorePoolKey(scope, name, k.id);
            toast(`Key ${k.id} is back in use.`);
            await load();
          } catch (err) {
            replace(act, errorNotice(err, 'Not restored'));
          }
        }));
        act.append(btn);
      }
      return h('tr', { 'data-key': k.id }, cells, act);
    });
    replace(box, h('h3', { text: 'Keys of the pool' }),
      h('table', { class: 'table small' },
        h('thead', {}, h('tr', {}, ['Key', 'Value', 'Weight', 'Cap', 'Health', 'In flight', ''].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, rows)));
  };
  load();
  return box;
}

function credentialCard(s, initial, scope, checks) {
  let cred = initial || null;
  const headingId = `cred-${s.credential_name}`;
  const state = h('div', {});
  const status = h('div', { 'aria-live': 'polite' });
  const card = h('section', { class: 'card', 'aria-labelledby': headingId, 'data-credential': s.credential_name });
  const draw = (c) => {
    replace(state,
      c ? h('dl', { class: 'kv small' },
        Object.entries(c.masked || {}).map(([k, v]) => h('div', {}, h('dt', { class: 'muted', text: k }), h('dd', { class: 'mono masked', text: v }))),
        h('div', {}, h('dt', { class: 'muted', text: 'Updated' }), h('dd', { text: formatTime(c.updated_at) })))
        : h('p', { class: 'muted', text: 'Not set.' }));
    submit.textContent = c ? 'Rotate' : 'Save';
    del.hidden = !c;
  };
  const schema = s.credential_schema && Object.keys(s.credential_schema).length ? s.credential_schema : { key: 'string' };
  const inputs = Object.keys(schema).map((k) => field(k === 'key' ? 'New API key' : k,
    h('input', { type: 'password', name: k, autocomplete: 'off', spellcheck: 'false', required: true }),
    { hint: `Your ${s.display_name} ${k}. It is never shown again.` }));
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Save' });
  const del = h('button', { type: 'button', class: 'btn btn-quiet', text: 'Delete' });
  const test = h('button', { type: 'button', class: 'btn btn-secondary', text: 'Test this credential' });
  const action = testAction(s, checks);
  if (!action || scope === 'platform') test.hidden = true;

  const form = h('form', { novalidate: true, 'aria-label': `Set the ${s.display_name} credential` }, inputs,
    h('div', { class: 'actions' }, submit, test, del));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = {};
    for (const w of inputs) {
      const v = w.control.value.trim();
      if (!v) { replace(status, h('div', { class: 'notice notice-error', role: 'alert', text: `Enter the ${w.control.name}.` })); w.control.focus(); return; }
      value[w.control.name] = v;
    }
    await busy(submit, 'Saving…', async () => {
      try {
        cred = await api.setCredential(scope, s.credential_name, value);
        for (const w of inputs) w.control.value = '';
        draw(cred);
        replace(status, h('div', { class: 'notice notice-ok', role: 'status', text: `Saved. ${s.display_name} now uses the key ending ${Object.values(cred.masked || {})[0] || ''}.` }));
      } catch (err) {
        replace(status, errorNotice(err, 'Not saved'));
      }
    });
  });
  del.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', text: 'Delete now' });
    const no = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Cancel' });
    replace(status, h('div', { class: 'notice notice-warn', role: 'alert' }, h('strong', { text: `Delete the ${s.display_name} credential?` }),
      'Calls that need it will fail until a new one is set. ', h('span', { class: 'actions' }, yes, no)));
    yes.focus();
    no.addEventListener('click', () => { replace(status); del.focus(); });
    yes.addEventListener('click', () => busy(yes, 'Deleting…', async () => {
      try {
        await api.deleteCredential(scope, s.credential_name);
        cred = null;
        draw(null);
        replace(status);
        toast(`${s.display_name} credential deleted.`);
        submit.focus();
      } catch (err) {
        replace(status, errorNotice(err, 'Not deleted'));
      }
    }));
  });
  test.addEventListener('click', () => busy(test, 'Testing…', async () => {
    try {
      await api.invoke(s.slug, action, {});
      replace(status, h('div', { class: 'notice notice-ok', role: 'status', text: `${s.display_name} answered ${action}: the credential works.` }));
    } catch (err) {
      replace(status, errorNotice(err, `${action} failed`));
    }
  }));

  card.append(
    h('h2', { id: headingId, text: s.display_name, style: undefined }),
    h('p', { class: 'muted small' }, 'Credential ', h('code', { text: s.credential_name }), ` · ${policyText(s.credential_policy)}`),
    state, status, form);
  if (cred) card.insertBefore(poolPanel(scope, s.credential_name), status);
  draw(cred);
  return card;
}
