// Services and endpoints from discovery, and a form that invokes any
// endpoint from its descriptor: path parameters from the path template,
// query and body as JSON, the answer shown by what it is.
import * as api from '../api.js';
import { h, field, loading, empty, errorNotice, replace, pageHead, busy, setError } from '../ui.js';
import { resultView } from '../result.js';
import { budgetPanel, showsOwnBudget } from '../budget.js';

export async function render(container, ctx) {
  const [slug, action] = ctx.params;
  if (slug && action) return renderInvoke(container, slug, action);
  if (slug) return renderService(container, slug);
  return renderList(container, ctx.session);
}

async function renderList(container, session) {
  container.append(pageHead('Services', 'The external services this org can use through aiproxy, from discovery.'));
  if (showsOwnBudget(session)) container.append(budgetPanel());
  const body = h('div', {}, loading('Loading services…'));
  container.append(body);
  try {
    const list = await api.listServices();
    if (!list.length) { replace(body, empty('No services are enabled for this org.')); return; }
    replace(body, h('div', { class: 'service-list' }, list.map(serviceCard)));
  } catch (err) {
    replace(body, errorNotice(err));
  }
}

function flagBadges(s) {
  return h('div', { class: 'badges' },
    h('span', { class: 'badge badge-accent', text: s.service_type }),
    s.supports_async_jobs ? h('span', { class: 'badge', text: 'async jobs' }) : null,
    s.supports_streaming ? h('span', { class: 'badge', text: 'streaming' }) : null,
    h('span', { class: 'badge', text: `credential: ${s.credential_name}` }));
}

function serviceCard(s) {
  return h('section', { class: 'card service-card', 'aria-labelledby': `svc-${s.slug}` },
    h('h2', { id: `svc-${s.slug}` }, h('a', { href: `#/services/${encodeURIComponent(s.slug)}`, text: s.display_name })),
    h('p', { class: 'muted small mono', text: s.slug }),
    flagBadges(s),
    h('p', { text: `${s.endpoint_count} endpoint${s.endpoint_count === 1 ? '' : 's'}` }));
}

async function renderService(container, slug) {
  const body = h('div', {}, loading('Loading the service…'));
  container.append(h('p', {}, h('a', { href: '#/services', text: '← All services' })), body);
  try {
    const s = await api.getService(slug);
    const eps = s.endpoints || [];
    replace(body,
      pageHead(s.display_name, `${s.base_url} · timeout ${s.default_timeout_seconds} s`),
      flagBadges(s),
      h('h2', { text: `Endpoints (${eps.length})` }),
      eps.length ? h('ul', { class: 'endpoint-list', role: 'list' }, eps.map((e) => endpointRow(s, e))) : empty('This service has no enabled endpoints.'));
  } catch (err) {
    replace(body, errorNotice(err));
  }
}

function endpointRow(s, e) {
  return h('li', { class: 'endpoint-row' },
    h('span', { class: 'method', text: e.http_method }),
    h('span', {}, h('span', { class: 'slug', text: e.slug }),
      h('span', { class: 'path', text: `${e.path_template} · ${e.request_mode} → ${e.response_mode}` })),
    h('a', { class: 'btn btn-secondary btn-small', href: `#/services/${encodeURIComponent(s.slug)}/${encodeURIComponent(e.slug)}`,
      'aria-label': `Try ${e.slug}`, text: 'Try it' }));
}

/** pathParams lists the {name} placeholders of a path template. */
export function pathParams(template) {
  return [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
}

async function renderInvoke(container, slug, action) {
  const body = h('div', {}, loading('Loading the endpoint…'));
  container.append(h('p', {}, h('a', { href: `#/services/${encodeURIComponent(slug)}`, text: '← Back to the service' })), body);
  let s;
  try {
    s = await api.getService(slug);
  } catch (err) {
    replace(body, errorNotice(err));
    return;
  }
  const e = (s.endpoints || []).find((x) => x.slug === action);
  if (!e) {
    replace(body, errorNotice({ detail: `External proxy service '${slug}/${action}' not found or disabled.`, status: 404, code: 'not_found' }));
    return;
  }
  replace(body, invokeForm(s, e));
}

function jsonField(label, name, hint, value = '{}') {
  const ta = h('textarea', { class: 'code', name, spellcheck: 'false', rows: 5 });
  ta.value = value;
  return field(label, ta, { hint });
}

function parseJSON(wrap, label) {
  const text = wrap.control.value.trim();
  if (!text) { setError(wrap, ''); return {}; }
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('must be a JSON object');
    setError(wrap, '');
    return v;
  } catch (err) {
    setError(wrap, `${label} is not a JSON object: ${err.message}`);
    return undefined;
  }
}

function invokeForm(s, e) {
  const params = pathParams(e.path_template);
  const paramFields = params.map((p) => field(p, h('input', { type: 'text', name: `path_${p}`, required: true, spellcheck: 'false' }),
    { hint: `Fills {${p}} in ${e.path_template}` }));
  const query = jsonField('Query', 'query', 'Query parameters as a JSON object, for example {"video_id": "…"}.');
  const bodyHint = e.http_method === 'GET' || e.http_method === 'DELETE'
    ? `The upstream method is ${e.http_method}: a body is not sent.` : 'The provider’s JSON body.';
  const bodyField = jsonField('Body', 'body', bodyHint);
  const uploads = e.request_mode === 'multipart' || e.request_mode === 'binary';
  const binary = e.request_mode === 'binary';
  const fileInput = uploads ? h('input', { type: 'file', name: 'file', required: true }) : null;
  const fileField = uploads ? field('File', fileInput, {
    hint: binary ? 'Sent to the provider as the raw request body, with the file’s type (for example image/png).'
      : 'Sent as a multipart form part under the part name below, after the envelope fields.',
  }) : null;
  const partName = uploads && !binary ? field('Part name', h('input', { type: 'text', name: 'part', value: 'file', required: true, spellcheck: 'false' }),
    { hint: 'The provider’s form field for the files, for example file, files or audio (see the endpoint’s description).' }) : null;
  const status = h('div', { 'aria-live': 'polite' });
  const result = h('div', {});
  const submit = h('button', { type: 'submit', class: 'btn', text: `Invoke ${e.slug}` });
  const form = h('form', { class: 'card', novalidate: true },
    e.description ? h('p', { class: 'muted', text: e.description }) : null,
    uploads ? h('fieldset', {}, h('legend', { text: binary ? 'Upload (binary)' : 'Upload (multipart)' }), fileField, partName) : null,
    params.length ? h('fieldset', {}, h('legend', { text: 'Path parameters' }), paramFields) : null,
    query, binary ? null : bodyField, status, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    replace(status);
    const envelope = {};
    const path = {};
    let ok = true;
    for (const [i, p] of params.entries()) {
      const v = paramFields[i].control.value.trim();
      setError(paramFields[i], v ? '' : `${p} is required.`);
      if (!v) ok = false;
      path[p] = v;
    }
    const q = parseJSON(query, 'Query');
    const b = parseJSON(bodyField, 'Body');
    let files;
    if (uploads) {
      const chosen = [...fileInput.files];
      const part = partName ? partName.control.value.trim() : 'file';
      setError(fileField, chosen.length ? '' : 'Choose a file to upload.');
      if (partName) setError(partName, part ? '' : 'Name the form part.');
      if (!chosen.length || !part) ok = false;
      files = chosen.length ? { [part]: chosen[0] } : undefined;
    }
    if (!ok || q === undefined || b === undefined) {
      const bad = form.querySelector('[aria-invalid="true"]');
      if (bad) bad.focus();
      return;
    }
    if (params.length) envelope.path_params = path;
    if (Object.keys(q).length) envelope.query = q;
    if (Object.keys(b).length) envelope.body = b;
    await busy(submit, 'Invoking…', async () => {
      const started = performance.now();
      replace(result, loading('Waiting for the provider…'));
      try {
        const stream = e.response_mode === 'stream';
        const answer = await api.invoke(s.slug, e.slug, envelope, { stream, files });
        replace(result, await resultView(answer, { stream, ms: performance.now() - started, name: e.slug }));
      } catch (err) {
        replace(result, errorNotice(err));
      }
    });
  });
  return h('div', { class: 'stack' },
    pageHead(`${s.display_name}: ${e.slug}`, `${e.http_method} ${e.path_template} · ${e.request_mode} → ${e.response_mode}${e.callback_mode && e.callback_mode !== 'none' ? ` · callback ${e.callback_mode}` : ''}`),
    form,
    h('section', { 'aria-label': 'Response' }, h('h2', { text: 'Response' }), result));
}
