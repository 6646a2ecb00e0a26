/**
 * SHA-256 certificate fingerprints in one canonical form: 64 lowercase hex digits. Node
 * prints them as colon-separated uppercase pairs (`AB:CD:…`, PeerIdentity.fingerprint256);
 * operators paste either form in any case. Parsed by hand (no regular expressions in authz).
 */

/** Bytes in a SHA-256 fingerprint. */
export const FINGERPRINT_BYTES = 32;

const COLON = 0x3a;
const HEX = '0123456789abcdef';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * The canonical form of a SHA-256 fingerprint given as 64 hex digits, or as 32 hex pairs
 * separated by single colons; any case. Returns the reason when the text is neither.
 */
export function parseFingerprint(text: unknown): { value: string } | { error: string } {
  if (typeof text !== 'string') return { error: 'must be a string' };
  const n = text.length;
  const colons = n === FINGERPRINT_BYTES * 3 - 1;
  if (n !== FINGERPRINT_BYTES * 2 && !colons) return { error: 'must be a SHA-256 fingerprint: 32 bytes of hex (64 digits, colons between bytes allowed)' };
  let out = '';
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (colons && i % 3 === 2) {
      if (c !== COLON) return { error: 'colons must separate every byte (AB:CD:…)' };
      continue;
    }
    const v = hexValue(c);
    if (v < 0) return { error: 'must contain only hex digits (and colons between bytes)' };
    out += HEX[v];
  }
  return { value: out };
}

/** The canonical form of a fingerprint as Node prints it, or undefined when it is malformed. */
export function canonicalFingerprint(text: string): string | undefined {
  const parsed = parseFingerprint(text);
  return 'value' in parsed ? parsed.value : undefined;
}
