/**
 * CSV per RFC 4180: fields separated by commas, records ended by CRLF, a field quoted when it
 * holds a comma, quote, CR or LF (quotes doubled inside). Cells that a spreadsheet would run
 * as a formula (starting with = + - @, or a tab or CR) get a leading apostrophe, since the
 * audit trail holds text chosen by remote callers (method names, SPIFFE ID paths).
 */
const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;
const FORMULA_STARTS: ReadonlySet<string> = new Set(['=', '+', '-', '@', '\t', '\r']);

/** One cell: formula-guarded, then quoted when needed. */
export function csvCell(value: string): string {
  const text = value.length > 0 && FORMULA_STARTS.has(value[0]) ? `'${value}` : value;
  let quote = false;
  for (let i = 0; i < text.length && !quote; i++) {
    const c = text.charCodeAt(i);
    quote = c === QUOTE || c === COMMA || c === CR || c === LF;
  }
  return quote ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record, CRLF-terminated. */
export function csvRow(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
