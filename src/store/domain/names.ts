import { ParleyError } from '../../common/errors';
import { MAX_NAMESPACE_BYTES, MAX_NAMESPACE_SEGMENTS, namespaceError, printable } from '../../common/namespace-name';
import type { StoreLimits } from './limits';

/**
 * Syntax of the names callers give the store. All lowercase ASCII so that equal-looking
 * names are equal bytes; no regular expression sees untrusted input unanchored.
 *
 * - namespace: 1 to 8 segments joined by "/", each `[a-z0-9][a-z0-9._-]{0,62}`, at most
 *   255 bytes ("ml/llama-3/weights"). A segment never starts with "." so "." and ".." cannot
 *   occur.
 * - annotation key and referrer type: 1 to 128 bytes of `[a-z0-9._/-]`, starting and ending
 *   with a letter or digit, without "//" ("org.opencontainers.image.title").
 * - media type: `type/subtype` of RFC 6838 restricted-name characters, no parameters, at
 *   most 255 bytes, lowercased; empty means application/octet-stream.
 */
export { MAX_NAMESPACE_BYTES, MAX_NAMESPACE_SEGMENTS, namespaceError };
export const MAX_MEDIA_TYPE_BYTES = 255;
export const MAX_TYPE_BYTES = 128;
export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

const KEY = /^[a-z0-9](?:[a-z0-9._/-]*[a-z0-9])?$/;
const MEDIA_PART = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

export type Annotations = Readonly<Record<string, string>>;

function invalid(field: string, why: string): ParleyError {
  return new ParleyError('invalid_argument', `${field}: ${why}`, { details: { field } });
}

function tooMany(field: string, why: string): ParleyError {
  return new ParleyError('resource_exhausted', `${field}: ${why}`, { details: { field } });
}

/** @throws ParleyError invalid_argument */
export function parseNamespace(value: unknown, field = 'namespace'): string {
  const why = namespaceError(value);
  if (why !== undefined) throw invalid(field, why);
  return value as string;
}

/** Media type, lowercased; empty becomes application/octet-stream. @throws ParleyError invalid_argument */
export function parseMediaType(value: unknown, field = 'media_type'): string {
  if (value === undefined || value === null || value === '') return DEFAULT_MEDIA_TYPE;
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  if (value.length > MAX_MEDIA_TYPE_BYTES) throw invalid(field, `longer than ${MAX_MEDIA_TYPE_BYTES} bytes`);
  const lower = value.toLowerCase();
  const slash = lower.indexOf('/');
  if (slash < 0 || !MEDIA_PART.test(lower.slice(0, slash)) || !MEDIA_PART.test(lower.slice(slash + 1))) {
    throw invalid(field, `"${printable(value)}" is not a type/subtype media type (parameters are not supported)`);
  }
  return lower;
}

/** Referrer type. @throws ParleyError invalid_argument */
export function parseReferrerType(value: unknown, field = 'type'): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(field, 'required');
  if (value.length > MAX_TYPE_BYTES || !KEY.test(value) || value.includes('//')) {
    throw invalid(field, `"${printable(value)}" must be 1-${MAX_TYPE_BYTES} bytes of [a-z0-9._/-], starting and ending with a letter or digit`);
  }
  return value;
}

/**
 * Annotations: key syntax, value encoding (UTF-8 without NUL: PostgreSQL jsonb cannot hold
 * it) and the limits. Counts and sizes beyond the limits are RESOURCE_EXHAUSTED.
 * @throws ParleyError invalid_argument | resource_exhausted
 */
export function parseAnnotations(value: unknown, limits: StoreLimits, field = 'annotations'): Annotations {
  if (value === undefined || value === null) return Object.freeze({});
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(field, 'must be a map of strings');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > limits.maxAnnotations) throw tooMany(field, `more than ${limits.maxAnnotations} annotations`);
  const out: Record<string, string> = {};
  let total = 0;
  for (const [key, v] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const keyBytes = Buffer.byteLength(key, 'utf8');
    if (keyBytes > limits.maxAnnotationKeyBytes) throw tooMany(field, `key "${printable(key)}" is longer than ${limits.maxAnnotationKeyBytes} bytes`);
    if (!KEY.test(key) || key.includes('//')) throw invalid(field, `key "${printable(key)}" must be of [a-z0-9._/-], starting and ending with a letter or digit`);
    if (typeof v !== 'string') throw invalid(field, `value of "${key}" must be a string`);
    const valueBytes = Buffer.byteLength(v, 'utf8');
    if (valueBytes > limits.maxAnnotationValueBytes) throw tooMany(field, `value of "${key}" is longer than ${limits.maxAnnotationValueBytes} bytes`);
    if (v.includes('\u0000') || hasLoneSurrogate(v)) throw invalid(field, `value of "${key}" must be UTF-8 text without NUL`);
    total += keyBytes + valueBytes;
    out[key] = v;
  }
  if (total > limits.maxAnnotationsTotalBytes) throw tooMany(field, `keys and values exceed ${limits.maxAnnotationsTotalBytes} bytes together`);
  return Object.freeze(out);
}

/** A UTF-16 surrogate without its partner (not encodable as UTF-8; jsonb rejects it). */
function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}
