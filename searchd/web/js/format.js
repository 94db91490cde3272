// format.js — how the editors' and leads' pages show times and shares. Kept out of api.js, which
// every page loads, so the agents' page (which shows neither) stays small.

// "2026-03-02T08:15:30Z" or milliseconds -> "2026-03-02 16:15" (local time).
export function fmtTime(v) {
  if (v === null || v === undefined || v === '') return '';
  const d = typeof v === 'number' ? new Date(v) : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export const pct = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Math.round(x * 100) + '%');
