// Entry point: sign-in, the hash router and the navigation chrome. Each page
// is a module exporting render(container, ctx), which may return a cleanup
// function that runs when the page is left.
import * as api from './api.js';
import * as session from './session.js';
import { jobs } from './jobs.js';
import { h, field, errorNotice, replace, busy } from './ui.js';
import * as services from './pages/services.js';
import * as avatars from './pages/avatars.js';
import * as voices from './pages/voices.js';
import * as generate from './pages/generate.js';
import * as jobsPage from './pages/jobs.js';
import * as ttsPage from './pages/tts.js';
import * as keys from './pages/keys.js';
import * as credentials from './pages/credentials.js';
import * as home from './pages/home.js';
import * as library from './pages/library.js';
import * as requests from './pages/requests.js';
import * as usage from './pages/usage.js';
import * as limits from './pages/limits.js';
import * as access from './pages/access.js';
import * as webhooks from './pages/webhooks.js';
import * as audit from './pages/audit.js';
import * as budgets from './pages/budgets.js';
import * as live from './pages/live.js';

// admin: the page needs an org admin or platform key. service: the page
// needs that service, which a user token's grants may leave out.
const routes = {
  home: { page: home, title: 'Home' },
  library: { page: library, title: 'Video library', service: 'heygen' },
  services: { page: services, title: 'Services' },
  avatars: { page: avatars, title: 'Avatars', service: 'heygen' },
  voices: { page: voices, title: 'Voices' },
  generate: { page: generate, title: 'Generate video', service: 'heygen' },
  jobs: { page: jobsPage, title: 'Jobs', service: 'heygen' },
  tts: { page: ttsPage, title: 'Text to speech', service: 'elevenlabs' },
  live: { page: live, title: 'Live', service: 'elevenlabs' },
  keys: { page: keys, title: 'API keys', admin: true },
  credentials: { page: credentials, title: 'Credentials', admin: true },
  limits: { page: limits, title: 'Quotas & limits', admin: true },
  budgets: { page: budgets, title: 'Budgets', admin: true },
  access: { page: access, title: 'Access', admin: true },
  webhooks: { page: webhooks, title: 'Webhooks', admin: true },
  usage: { page: usage, title: 'Usage', admin: true },
  requests: { page: requests, title: 'Request log', admin: true },
  audit: { page: audit, title: 'Audit log', admin: true },
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const menuToggle = document.getElementById('menu-toggle');
let cleanup = null;
let current = null;

/** parseHash splits "#/services/heygen?x=1" into ["services", "heygen"] and a query. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs || '') };
}

/** canAdmin says whether a session may use the admin pages. */
const canAdmin = (s) => !s.member && (s.role === 'admin' || s.role === 'platform');

/** granted says whether a session's grants include a service (no grants: every service). */
const granted = (s, service) => !service || !s.services.length || s.services.includes(service);

function showChrome(s) {
  const signedIn = Boolean(s);
  nav.hidden = !signedIn;
  menuToggle.hidden = !signedIn;
  document.getElementById('session').hidden = !signedIn;
  if (!signedIn) return;
  const byUser = Boolean(s.user);
  document.getElementById('session-key').hidden = byUser;
  document.getElementById('session-user').hidden = !byUser;
  document.getElementById('session-org').textContent = s.org;
  document.getElementById('session-user-name').textContent = s.user;
  document.getElementById('session-user-org').textContent = s.org;
  const expiry = document.getElementById('session-expiry');
  const at = s.expiresAt ? new Date(s.expiresAt) : null;
  expiry.hidden = !at || Number.isNaN(at.getTime());
  if (!expiry.hidden) {
    const time = document.getElementById('session-expiry-time');
    time.dateTime = at.toISOString();
    time.textContent = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  const roleNames = { platform: 'platform admin', admin: 'org admin', invoke: 'invoke key', member: 'user' };
  document.getElementById('session-role').textContent = roleNames[s.role] || s.role;
  for (const el of nav.querySelectorAll('[data-admin]')) el.hidden = !canAdmin(s);
  for (const el of nav.querySelectorAll('[data-service]')) el.hidden = !granted(s, el.dataset.service);
}

function closeMenu() {
  nav.classList.remove('open');
  menuToggle.setAttribute('aria-expanded', 'false');
}

async function route() {
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup must not block navigation */ } cleanup = null; }
  closeMenu();
  const s = session.load();
  showChrome(s);
  if (!s) { renderSignIn(); return; }
  const { parts, query } = parseHash();
  const name = parts[0] || 'home';
  const r = routes[name];
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const container = h('div', { class: 'page' });
  replace(main, container);
  if (!r) {
    document.title = 'Not found · aiproxy console';
    container.append(h('h1', { text: 'Page not found' }), h('p', {}, 'Go to ', h('a', { href: '#/home', text: 'Home' }), '.'));
    return;
  }
  document.title = `${r.title} · aiproxy console`;
  if (r.admin && !canAdmin(s)) {
    container.append(h('h1', { text: r.title }), h('div', { class: 'notice notice-warn', role: 'alert' },
      h('strong', { text: 'This page needs an admin key.' }), s.member
        ? `You are signed in as ${s.user}, who can use the org’s services but not manage the org.`
        : 'Sign in with an org admin or platform key to manage it.'));
    return;
  }
  if (!granted(s, r.service)) {
    container.append(h('h1', { text: r.title }), h('div', { class: 'notice notice-warn', role: 'alert' },
      h('strong', { text: 'Not part of your access.' }), `Your token does not include ${r.service}.`));
    return;
  }
  const ctx = { session: s, params: parts.slice(1), query, navigate: (hash) => { location.hash = hash; } };
  try {
    cleanup = (await r.page.render(container, ctx)) || null;
  } catch (err) {
    container.append(errorNotice(err));
  }
  // Move focus to the new content on navigation (not on first load), so
  // keyboard and screen-reader users land on the page they chose.
  if (current !== null && current !== name) main.focus({ preventScroll: true });
  current = name;
}

function renderSignIn() {
  document.title = 'Sign in · aiproxy console';
  const org = h('input', { type: 'text', name: 'org', autocomplete: 'organization', required: true, spellcheck: 'false', value: session.rememberedOrg() });
  const key = h('input', { type: 'password', name: 'apiKey', autocomplete: 'off', required: true, spellcheck: 'false' });
  const kind = h('span', { class: 'hint', 'aria-live': 'polite' });
  key.addEventListener('input', () => {
    const v = key.value.trim();
    kind.textContent = api.isUserToken(v) ? 'A user token: you will see only your own videos, audio and jobs.' : '';
  });
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Sign in' });
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title', novalidate: true },
    h('h1', { id: 'signin-title', text: 'Sign in' }),
    h('p', { class: 'lede', text: 'Use an aiproxy API key of your org, or a user token your org’s app gave you. It stays in this browser tab only and is forgotten when you sign out or close the tab.' }),
    status,
    field('Org', org, { hint: 'Your org’s key, for example demo.' }),
    field('API key or user token', key, { hint: 'An API key starts with aip_, a user token with aipt_. Never a HeyGen or ElevenLabs key.' }),
    kind,
    h('div', { class: 'actions' }, submit));
  kind.id = 'credential-kind';
  key.setAttribute('aria-describedby', `${key.getAttribute('aria-describedby') || ''} credential-kind`.trim());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const creds = { org: org.value.trim(), apiKey: key.value.trim() };
    if (!creds.org || !creds.apiKey) {
      replace(status, h('div', { class: 'notice notice-error', role: 'alert', text: 'Enter both the org and the API key or user token.' }));
      (creds.org ? key : org).focus();
      return;
    }
    await busy(submit, 'Signing in…', async () => {
      try {
        api.connect(creds);
        await api.listServices();
        session.save({ ...creds, ...(await identify()) });
        jobs.reset();
        if (!location.hash || location.hash === '#/' || location.hash === '#/signin') location.hash = '#/home';
        else route();
      } catch (err) {
        api.disconnect();
        replace(status, errorNotice(err, 'Sign-in failed'));
        key.focus();
      }
    });
  });
  replace(main, form);
  (org.value ? key : org).focus();
}

/**
 * identify asks the server who the credential is and what it may see: a
 * member (a user token) gets no admin pages and only its granted services;
 * a key's role is probed as before.
 */
async function identify() {
  const me = await api.whoAmI();
  if (me && me.member) {
    return { role: 'member', member: true, user: me.user || '', services: (me.grants && me.grants.services) || [], expiresAt: me.expires_at || '' };
  }
  const role = me && me.kind !== 'key' ? me.role : await api.probeRole();
  return { role, user: (me && me.user) || '', services: (me && me.grants && me.grants.services) || [], expiresAt: (me && me.expires_at) || '' };
}

function signOut() {
  jobs.stop();
  // The next person to sign in in this tab must not read the last one's news.
  document.getElementById('toasts').replaceChildren();
  session.clear();
  api.disconnect();
  location.hash = '#/signin';
  route();
}

function start() {
  document.getElementById('sign-out').addEventListener('click', signOut);
  menuToggle.addEventListener('click', () => {
    const open = !nav.classList.contains('open');
    nav.classList.toggle('open', open);
    menuToggle.setAttribute('aria-expanded', String(open));
    if (open) nav.querySelector('a').focus();
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && nav.classList.contains('open')) { closeMenu(); menuToggle.focus(); }
  });
  const s = session.load();
  if (s) {
    api.connect(s);
    jobs.resume();
  }
  jobs.onChange((list) => {
    const count = document.getElementById('jobs-count');
    const active = list.filter((j) => !j.terminal).length;
    count.hidden = active === 0;
    count.textContent = String(active);
    count.setAttribute('aria-label', `${active} running`);
  });
  window.addEventListener('hashchange', route);
  route();
}

start();
