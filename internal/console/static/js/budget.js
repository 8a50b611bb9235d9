// Spending budgets, shared by the pages: dollars read and written exactly
// (the API counts integer micro-USD), the words for scopes, windows and
// zones, and the panel that shows a user their own budgets as a
// percentage, without amounts.
import * as api from './api.js';
import { h, replace, formatTime } from './ui.js';

/** WINDOWS names each window as an adjective: "monthly budget". */
export const WINDOWS = { day: 'daily', week: 'weekly', month: 'monthly', lifetime: 'lifetime' };

/** ZONES are a zone's words and badge, so that colour is never the only cue. */
export const ZONES = {
  ok: { text: 'OK', badge: 'badge-ok' },
  warning: { text: 'Warning', badge: 'badge-warn' },
  critical: { text: 'Nearly used up', badge: 'badge-danger' },
  exhausted: { text: 'Used up', badge: 'badge-danger' },
};

/**
 * dollarsToMicros reads an amount in US dollars ("5", "5.00", "$0.25")
 * as integer micro-USD, without a float in between; null when it is not
 * one, or has more than six decimals.
 */
export function dollarsToMicros(text) {
  const m = /^\$?(\d*)(?:\.(\d{0,6}))?$/.exec(String(text).trim());
  if (!m || (m[1] === '' && !m[2])) return null;
  const micros = Number(m[1] || '0') * 1e6 + Number((m[2] || '').padEnd(6, '0'));
  return Number.isSafeInteger(micros) ? micros : null;
}

/** formatDollars writes micro-USD exactly: "$5.00", or every decimal below a cent ("$0.0012"). */
export function formatDollars(micros) {
  if (micros === undefined || micros === null) return '—';
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / 1e6);
  const frac = String(abs % 1e6).padStart(6, '0');
  const decimals = frac.endsWith('0000') ? frac.slice(0, 2) : frac.replace(/0+$/, '');
  return `${sign}$${whole.toLocaleString('en-US')}.${decimals}`;
}

/** zoneBadge is a zone as a badge with its words. */
export function zoneBadge(zone) {
  const z = ZONES[zone] || { text: zone, badge: 'badge-accent' };
  return h('span', { class: `badge ${z.badge}`, 'data-zone': zone, text: z.text });
}

/** usedMeter is a percentage as a meter (capped at 100) with its number. */
export function usedMeter(percent, label) {
  return h('span', { class: 'budget-used' },
    h('meter', { min: 0, max: 100, low: 80, high: 95, optimum: 0, value: Math.min(100, percent), 'aria-label': label }),
    h('span', { class: 'budget-percent', text: `${percent}%` }));
}

/** resetsText says when a window ends, or that a lifetime budget never does. */
export const resetsText = (resetsAt) => (resetsAt ? `Resets ${formatTime(resetsAt)}` : 'Never resets');

/** whose names a user's budget in a sentence: "Your monthly budget". */
function whose(s) {
  const window = WINDOWS[s.window] || s.window;
  switch (s.scope) {
    case 'user': return `Your ${window} budget`;
    case 'token': return `This token’s ${window} budget`;
    case 'key': return `The ${window} budget of your app’s key`;
    default: return `The org’s ${window} budget`;
  }
}

/**
 * showsOwnBudget says whether the home and jobs pages show the caller's
 * own budgets: a user's, or an invoke key's (the budgets its calls count
 * towards). An org admin has the Budgets page instead.
 */
export const showsOwnBudget = (session) => Boolean(session && (session.member || session.role === 'invoke'));

/**
 * budgetPanel shows the budgets that apply to the signed-in user (or an
 * invoke key's own calls): how much is used, the zone and when it resets.
 * It shows nothing when none apply or the server has no budgets; a user
 * never sees amounts, since the server sends them none.
 */
export function budgetPanel() {
  const section = h('section', { class: 'card budget-panel', 'aria-labelledby': 'budget-panel-title', 'data-budget-panel': '', hidden: true });
  api.budgetStatus().then((list) => {
    if (!list.length) return;
    replace(section,
      h('h2', { id: 'budget-panel-title', text: list.length === 1 ? 'Your budget' : 'Your budgets' }),
      h('ul', { class: 'budget-list' }, list.map((s) => {
        const title = whose(s);
        return h('li', { 'data-scope': s.scope, 'data-window': s.window },
          h('span', { class: 'budget-name', text: title }),
          usedMeter(s.percent, `${title}: ${s.percent}% used`), zoneBadge(s.zone),
          h('span', { class: 'muted small', text: resetsText(s.resets_at) }));
      })));
    section.hidden = false;
  }).catch((err) => {
    // A server without budgets (404) has nothing to show; anything else is said quietly.
    if (err && err.status === 404) return;
    replace(section, h('p', { class: 'muted small', text: `Your budget could not be loaded: ${(err && err.detail) || err}` }));
    section.hidden = false;
  });
  return section;
}
