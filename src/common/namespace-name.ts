/**
 * Record namespace names, the syntax the store and the authorization policy share: 1 to 8
 * segments joined by "/", each `[a-z0-9][a-z0-9._-]{0,62}`, at most 255 bytes
 * ("ml/llama-3/weights"). A segment never starts with "." so "." and ".." cannot occur.
 * Pure: imported by domain code of both contexts.
 */
export const MAX_NAMESPACE_BYTES = 255;
export const MAX_NAMESPACE_SEGMENTS = 8;

const SEGMENT = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Why `value` is not a namespace, or undefined when it is one (the rule parseNamespace enforces). */
export function namespaceError(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'required';
  if (value.length > MAX_NAMESPACE_BYTES) return `longer than ${MAX_NAMESPACE_BYTES} bytes`;
  const segments = value.split('/');
  if (segments.length > MAX_NAMESPACE_SEGMENTS) return `more than ${MAX_NAMESPACE_SEGMENTS} segments`;
  for (const segment of segments) {
    if (!SEGMENT.test(segment)) return `segment "${printable(segment)}" must match [a-z0-9][a-z0-9._-]{0,62}`;
  }
  return undefined;
}

/** Up to 64 printable characters of untrusted input, for error messages. */
export function printable(s: string): string {
  const cut = s.length > 64 ? `${s.slice(0, 64)}...` : s;
  return cut.replace(/[^\x20-\x7e]/g, '?');
}
