// Formatting for people: counts with separators, bytes, seconds, dollars,
// a usage unit's name, days in the reader's locale, and CSV text. Pure
// functions, so the usage, home and request-log pages agree on every label.

const nf = new Intl.NumberFormat();

/** formatCount shows an integer with the locale's separators (12,345). */
export const formatCount = (n) => nf.format(Number(n) || 0);

/** formatBytes shows a byte count as B, KB, MB or GB (1024-based). */
export function formatBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

/** formatSeconds shows a duration: 42 s, 3 min 5 s, 2 h 10 min. */
export function formatSeconds(n) {
  const s = Math.round(Number(n) || 0);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
}

/** formatUSD shows dollars: to the cent, or to the micro-dollar below a cent. */
export function formatUSD(n) {
  const v = Number(n) || 0;
  if (v === 0) return '$0.00';
  if (Math.abs(v) < 0.01) return `$${v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '')}`;
  return `$${v.toFixed(2)}`;
}

// UNITS names the metered units the catalog uses (and their plural forms)
// and says how to show an amount of each.
const UNITS = {
  character: { label: 'Characters', fmt: formatCount },
  characters: { label: 'Characters', fmt: formatCount },
  second: { label: 'Video time', fmt: formatSeconds },
  seconds: { label: 'Video time', fmt: formatSeconds },
  video_seconds: { label: 'Video time', fmt: formatSeconds },
  minute: { label: 'Minutes', fmt: (n) => `${formatCount(n)} min` },
  minutes: { label: 'Minutes', fmt: (n) => `${formatCount(n)} min` },
  call: { label: 'Calls', fmt: formatCount },
  calls: { label: 'Calls', fmt: formatCount },
  render: { label: 'Renders', fmt: formatCount },
  renders: { label: 'Renders', fmt: formatCount },
  requests: { label: 'Requests', fmt: formatCount },
  errors: { label: 'Errors', fmt: formatCount },
  bytes_out: { label: 'Data sent to clients', fmt: formatBytes },
  cost_usd: { label: 'Cost', fmt: formatUSD },
};

/** unitLabel is a unit's name for people ("characters" → "Characters"). */
export function unitLabel(unit) {
  const u = UNITS[unit];
  if (u) return u.label;
  const s = String(unit || '').replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** formatUnit shows an amount of a unit ("second", 125 → "2 min 5 s"). */
export const formatUnit = (unit, n) => (UNITS[unit] ? UNITS[unit].fmt(n) : formatCount(n));

/** formatUnits shows a units object ({"characters": 39}) as "39 characters". */
export function formatUnits(units) {
  if (!units || typeof units !== 'object') return '—';
  const parts = Object.entries(units).filter(([, n]) => n).map(([u, n]) => {
    if (UNITS[u] && UNITS[u].fmt !== formatCount) return formatUnit(u, n);
    return `${formatCount(n)} ${unitLabel(u).toLowerCase()}`;
  });
  return parts.length ? parts.join(', ') : '—';
}

/** isoDay is a Date's UTC day as YYYY-MM-DD. */
export const isoDay = (d) => d.toISOString().slice(0, 10);

/** daysBetween lists every YYYY-MM-DD from one day to another, both included. */
export function daysBetween(from, to) {
  const out = [];
  const end = new Date(`${to}T00:00:00Z`);
  for (let d = new Date(`${from}T00:00:00Z`); d <= end && out.length < 400; d.setUTCDate(d.getUTCDate() + 1)) out.push(isoDay(d));
  return out;
}

/** dayLabel shows a YYYY-MM-DD day briefly in the reader's locale ("Dec 6"). */
export function dayLabel(day) {
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? String(day) : d.toLocaleDateString([], { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** csv writes rows (arrays of cells) as RFC 4180 text. */
export function csv(rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}
