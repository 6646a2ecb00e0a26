/**
 * Top-level members of a SPIFFE bundle document besides `keys`: `spiffe_sequence`
 * (unsigned 64-bit, read from the source digits as a BigInt) and `spiffe_refresh_hint`
 * (seconds). Both must be plain non-negative integer literals: a sign, fraction or exponent
 * (even `1.0`) makes the document malformed.
 */
import { SpiffeError } from './errors';
import { parseUnsignedToken, topLevelMemberRaw } from './json-scan';

export const MAX_SEQUENCE = 0xffff_ffff_ffff_ffffn;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Document bytes to text; `undefined` when they are not valid UTF-8. */
export function toJsonText(input: string | Uint8Array): string | undefined {
  if (typeof input === 'string') return input;
  if (!(input instanceof Uint8Array)) throw new TypeError('spiffe bundle: json must be a string or bytes');
  try {
    return utf8.decode(input);
  } catch {
    return undefined;
  }
}

/** The member as an unsigned integer ≤ max, `undefined` when absent; `fail` otherwise. */
export function readUnsigned(
  members: Record<string, unknown>,
  text: string,
  name: string,
  max: bigint,
  fail: (why: string) => SpiffeError,
): bigint | undefined {
  if (!Object.hasOwn(members, name)) return undefined;
  const value = parseUnsignedToken(typeof members[name] === 'number' ? topLevelMemberRaw(text, name) : undefined);
  if (value === undefined || value > max) throw fail(`"${name}" is not an unsigned integer in range`);
  return value;
}

/** Producer-side checks of the fields that are given (our own misuse is a TypeError). */
export function checkMetadata(meta: { sequence?: unknown; refreshHint?: unknown }): void {
  const { sequence, refreshHint } = meta;
  if (sequence !== undefined && (typeof sequence !== 'bigint' || sequence < 0n || sequence > MAX_SEQUENCE)) {
    throw new TypeError('spiffe bundle: sequence must be a bigint in [0, 2^64-1]');
  }
  if (refreshHint !== undefined && (typeof refreshHint !== 'number' || !Number.isSafeInteger(refreshHint) || refreshHint < 0)) {
    throw new TypeError('spiffe bundle: refreshHint must be a non-negative integer number of seconds');
  }
}

/** The document as text and its top-level members; `fail` for bad UTF-8, bad JSON or a non-object. */
export function parseJsonObject(json: string | Uint8Array, fail: (why: string) => SpiffeError): { text: string; members: Record<string, unknown> } {
  const text = toJsonText(json);
  if (text === undefined) throw fail('document is not valid utf-8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw fail('invalid json');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw fail('document is not a json object');
  return { text, members: doc as Record<string, unknown> };
}
