// csv.js — CSV text for downloads: RFC 4180, CRLF line ends, UTF-8 with a BOM so that
// spreadsheets read Chinese.
//
// A text cell a spreadsheet could run as a formula gets a leading apostrophe, so that it reads as
// text: one that starts with TAB or CR, or whose first character after leading whitespace (space,
// TAB, CR, LF, VT, FF, U+00A0, U+3000) is = + - or @. Spreadsheets drop such whitespace on import,
// or run the formula anyway. kb-report's CSV (report/csv.c) follows the same rule; both are tested
// against tests/data/csv-formulas.json. Numbers are written as they are (-0.1 is no formula).

const FORMULA = /^[\t\r]|^[ \t\r\n\v\f\u00a0\u3000]*[=+\-@]/;

export function csvCell(v) {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v !== 'number' && FORMULA.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function csvText(header, rows) {
  return '\ufeff' + [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
