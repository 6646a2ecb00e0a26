/**
 * Raw token text of top-level JSON members. `JSON.parse` turns numbers into doubles, which
 * loses precision above 2^53; `spiffe_sequence` is an unsigned 64-bit integer, so its
 * digits are read from the source text instead. Only call on text JSON.parse accepted.
 */

/** Raw text of the last top-level member named `member` (JSON.parse keeps the last too). */
export function topLevelMemberRaw(json: string, member: string): string | undefined {
  let depth = 0;
  let expectKey = false;
  let found: string | undefined;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(json, i);
      if (depth === 1 && expectKey) {
        expectKey = false;
        const key: unknown = JSON.parse(json.slice(i, end + 1));
        const valueStart = skipSpace(json, skipSpace(json, end + 1) + 1); // past ':'
        if (key === member) found = json.slice(valueStart, scalarEnd(json, valueStart));
        i = valueStart - 1;
      } else {
        i = end;
      }
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      expectKey = depth === 1 && c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && depth === 1) {
      expectKey = true;
    }
  }
  return found;
}

/** Parses a plain non-negative decimal integer token (no sign, fraction, exponent). */
export function parseUnsignedToken(raw: string | undefined): bigint | undefined {
  if (raw === undefined || raw.length === 0 || raw.length > 30) return undefined;
  if (raw.length > 1 && raw.charCodeAt(0) === 0x30) return undefined;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return BigInt(raw);
}

function stringEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return s.length;
}

function skipSpace(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

function scalarEnd(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const scalar = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45;
    if (!scalar) break;
    i++;
  }
  return i;
}
