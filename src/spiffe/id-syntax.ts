/**
 * Character-level rules of SPIFFE IDs (CONFORMANCE §1), as hand-written scans.
 * Checks return `undefined` when the input is fine, or the reason it is not.
 */
import { SpiffeError } from './errors';

export const SCHEME_PREFIX = 'spiffe://';
/** DECIDED: longer trust domain names are rejected. */
export const MAX_TRUST_DOMAIN_BYTES = 255;
/** DECIDED: longer IDs are rejected (the spec says 2048 must be accepted). */
export const MAX_ID_BYTES = 2048;

export const REASON = {
  empty: 'cannot be empty',
  scheme: 'scheme is missing or invalid',
  missingTrustDomain: 'trust domain is missing',
  trustDomainChar: 'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores',
  trustDomainLength: `trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`,
  idLength: `spiffe id is longer than ${MAX_ID_BYTES} bytes`,
  leadingSlash: 'path must have a leading slash',
  emptySegment: 'path cannot contain empty segments',
  dotSegment: 'path cannot contain dot segments',
  trailingSlash: 'path cannot have a trailing slash',
  pathChar: 'path segment characters are limited to letters, numbers, dots, dashes, and underscores',
} as const;

const TD_CHAR = new Uint8Array(128);
const PATH_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const lower = c >= 0x61 && c <= 0x7a;
  const upper = c >= 0x41 && c <= 0x5a;
  const digit = c >= 0x30 && c <= 0x39;
  const punct = c === 0x2e || c === 0x2d || c === 0x5f; // . - _
  TD_CHAR[c] = lower || digit || punct ? 1 : 0;
  PATH_CHAR[c] = lower || upper || digit || punct ? 1 : 0;
}

function isTrustDomainChar(c: number): boolean {
  return c < 128 && TD_CHAR[c] === 1;
}

/** Checks a bare trust domain name in `s[start, end)`. */
export function checkTrustDomainName(s: string, start = 0, end = s.length): string | undefined {
  if (end <= start) return REASON.missingTrustDomain;
  for (let i = start; i < end; i++) {
    if (!isTrustDomainChar(s.charCodeAt(i))) return REASON.trustDomainChar;
  }
  // Every accepted character is ASCII, so string length equals byte length here.
  if (end - start > MAX_TRUST_DOMAIN_BYTES) return REASON.trustDomainLength;
  return undefined;
}

/** Checks a path (empty, or `/seg(/seg)*`) in `s[start, end)`. */
export function checkPath(s: string, start = 0, end = s.length): string | undefined {
  if (end <= start) return undefined;
  if (s.charCodeAt(start) !== 0x2f) return REASON.leadingSlash;
  let segStart = start + 1;
  for (let i = start + 1; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : 0x2f;
    if (c !== 0x2f) {
      if (c >= 128 || PATH_CHAR[c] !== 1) return REASON.pathChar;
      continue;
    }
    const len = i - segStart;
    if (len === 0) return i === end ? REASON.trailingSlash : REASON.emptySegment;
    if (s.charCodeAt(segStart) === 0x2e && (len === 1 || (len === 2 && s.charCodeAt(segStart + 1) === 0x2e))) {
      return REASON.dotSegment;
    }
    segStart = i + 1;
  }
  return undefined;
}

/** Checks one path segment (no slashes). */
export function checkPathSegment(segment: string): string | undefined {
  if (segment.length === 0) return REASON.emptySegment;
  if (segment === '.' || segment === '..') return REASON.dotSegment;
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c >= 128 || PATH_CHAR[c] !== 1) return REASON.pathChar;
  }
  return undefined;
}

/** Throws `invalid_path` unless `path` is a valid SPIFFE ID path (the empty path is valid). */
export function validatePath(path: string): void {
  const reason = typeof path === 'string' ? checkPath(path) : 'path must be a string';
  if (reason !== undefined) throw new SpiffeError('invalid_path', `invalid spiffe id path: ${reason}`);
}

/** Throws `invalid_path` unless `segment` is a valid single path segment. */
export function validatePathSegment(segment: string): void {
  const reason = typeof segment === 'string' ? checkPathSegment(segment) : 'path segment must be a string';
  if (reason !== undefined) throw new SpiffeError('invalid_path', `invalid spiffe id path segment: ${reason}`);
}
