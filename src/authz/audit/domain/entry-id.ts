/**
 * Audit entry ids: a UUID version 7 (RFC 9562) made when the decision is made. Its first 48
 * bits are the decision's time in milliseconds, so ids sort by time and new rows land at the
 * right edge of the unique index; the other 74 bits are random. The id is what makes writing
 * an entry idempotent: a replayed spool, or a batch written twice, inserts each entry once.
 */
import { randomUUID } from 'node:crypto';

/** Positions of the dashes in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, and of the variant digit. */
const DASHES: ReadonlySet<number> = new Set([8, 13, 18, 23]);
const VARIANT_AT = 19;
const HEX: ReadonlySet<string> = new Set('0123456789abcdef');
const MAX_MS = 2 ** 48 - 1;

/**
 * The UUIDv7 of `ms` (epoch milliseconds, clamped to 0..2^48-1) with the random bits of
 * `randomV4` (a UUID version 4, as `crypto.randomUUID()` makes).
 */
export function entryIdAt(ms: number, randomV4: string = randomUUID()): string {
  const time = Math.min(MAX_MS, Math.max(0, Math.floor(Number.isFinite(ms) ? ms : 0)));
  // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx: the time replaces the first 48 bits, 7 the version nibble.
  return `${timePrefix(time)}${randomV4.slice(15)}`;
}

/** `xxxxxxxx-xxxx-7` of a time, kept for the last one (entries of a batch mostly share their millisecond). */
let lastTime = -1;
let lastPrefix = '';
function timePrefix(time: number): string {
  if (time !== lastTime) {
    const hex = time.toString(16).padStart(12, '0');
    lastPrefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7`;
    lastTime = time;
  }
  return lastPrefix;
}

/** A new entry id for a decision made now. */
export function newEntryId(now: number = Date.now()): string {
  return entryIdAt(now);
}

/** True for a lowercase RFC 9562 UUID (any version) as the audit trail stores them. */
export function isEntryId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = value[i]!;
    if (DASHES.has(i)) {
      if (c !== '-') return false;
    } else if (i === VARIANT_AT) {
      if (c !== '8' && c !== '9' && c !== 'a' && c !== 'b') return false;
    } else if (!HEX.has(c)) return false;
  }
  return true;
}
