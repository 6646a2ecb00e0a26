/**
 * Page tokens of the audit trail. The trail is read newest first, ordered by (at, id)
 * descending; a token names the last entry returned and carries a fingerprint of the filter,
 * so it is refused with any other filter. Opaque base64url; decoded without regular expressions.
 */
import { createHash } from 'node:crypto';
import type { AuditCursor, AuditFilter } from './audit-types';

const VERSION = 1;
const MAX_TOKEN_CHARS = 200;
const MAX_ID = 9_223_372_036_854_775_807n;

export function encodeAuditCursor(cursor: AuditCursor, filter: AuditFilter): string {
  return Buffer.from(JSON.stringify([VERSION, cursor.atMicros.toString(), cursor.id.toString(), filterFingerprint(filter)]), 'utf8').toString('base64url');
}

/** The cursor, or why the token is refused. */
export function decodeAuditCursor(token: string, filter: AuditFilter): AuditCursor | string {
  if (token.length > MAX_TOKEN_CHARS || !isBase64url(token)) return 'malformed';
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return 'malformed';
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || parsed[0] !== VERSION) return 'malformed';
  const [, at, id, fingerprint] = parsed as [number, unknown, unknown, unknown];
  const atMicros = integer(at, true);
  const idValue = integer(id, false);
  if (atMicros === undefined || idValue === undefined || idValue > MAX_ID) return 'malformed';
  if (fingerprint !== filterFingerprint(filter)) return 'was issued for different filters';
  return { atMicros, id: idValue };
}

function filterFingerprint(f: AuditFilter): string {
  const canonical = JSON.stringify([
    f.spiffeId ?? null,
    f.trustDomain ?? null,
    f.method ?? null,
    f.decision ?? null,
    f.namespace ?? null,
    f.rule ?? null,
    f.sinceMicros?.toString() ?? null,
    f.untilMicros?.toString() ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

function isBase64url(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

/** A decimal integer in a string (at most 19 digits, optionally negative). */
function integer(v: unknown, signed: boolean): bigint | undefined {
  if (typeof v !== 'string') return undefined;
  const negative = signed && v.length > 1 && v[0] === '-';
  const digits = negative ? v.slice(1) : v;
  if (digits.length === 0 || digits.length > 19) return undefined;
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return BigInt(v);
}
