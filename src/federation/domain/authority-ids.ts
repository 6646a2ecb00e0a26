/**
 * How an operator names a CA certificate in a deny list: its SHA-256 fingerprint
 * (64 lowercase hex) or its subject key identifier (`ski:` + lowercase hex).
 * `normalizeAuthorityRef` accepts colons and any case; the values it returns compare by
 * plain string equality with `authorityIds`.
 */
import type { X509Certificate } from 'node:crypto';

export const SKI_PREFIX = 'ski:';
/** Longest subject key identifier accepted (bytes). */
const MAX_SKI_BYTES = 64;
const SKI_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0e]);

/** The normalized form of a deny-list entry, or `undefined` when it is neither form. */
export function normalizeAuthorityRef(raw: string): string | undefined {
  const text = raw.trim().toLowerCase();
  const isSki = text.startsWith(SKI_PREFIX);
  const hex = (isSki ? text.slice(SKI_PREFIX.length) : text).trim().split(':').join('');
  if (hex.length === 0 || hex.length % 2 !== 0 || !isHex(hex)) return undefined;
  if (isSki) return hex.length / 2 <= MAX_SKI_BYTES ? `${SKI_PREFIX}${hex}` : undefined;
  return hex.length === 64 ? hex : undefined;
}

/** The identifiers a deny-list entry may use for `cert`: its fingerprint and, when present, its SKI. */
export function authorityIds(cert: X509Certificate): string[] {
  const ids = [fingerprintOf(cert)];
  const ski = subjectKeyIdentifier(cert.raw);
  if (ski !== undefined) ids.push(`${SKI_PREFIX}${ski}`);
  return ids;
}

/** SHA-256 fingerprint as 64 lowercase hex digits. */
export function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256.split(':').join('').toLowerCase();
}

function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** One DER element at `pos`, or `undefined` when it does not fit in [pos, limit). */
function tlv(der: Uint8Array, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = der[pos];
  let len = der[pos + 1];
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
    start += n;
  }
  const end = start + len;
  return end > limit ? undefined : { tag, start, end };
}

/**
 * The subjectKeyIdentifier extension value (lowercase hex) of a DER certificate, or
 * `undefined` when absent or unreadable. Walks Certificate → tbsCertificate → [3] extensions.
 */
export function subjectKeyIdentifier(der: Uint8Array): string | undefined {
  const cert = tlv(der, 0, der.length);
  const tbs = cert && tlv(der, cert.start, cert.end);
  if (tbs === undefined || tbs.tag !== 0x30) return undefined;
  for (let pos = tbs.start; pos < tbs.end; ) {
    const el = tlv(der, pos, tbs.end);
    if (el === undefined) return undefined;
    pos = el.end;
    if (el.tag !== 0xa3) continue;
    const list = tlv(der, el.start, el.end);
    if (list === undefined) return undefined;
    for (let p = list.start; p < list.end; ) {
      const ext = tlv(der, p, list.end);
      if (ext === undefined) return undefined;
      p = ext.end;
      const value = skiValue(der, ext);
      if (value !== undefined) return value;
    }
  }
  return undefined;
}

function skiValue(der: Uint8Array, ext: Tlv): string | undefined {
  const oid = tlv(der, ext.start, ext.end);
  if (oid === undefined || !SKI_OID.equals(der.subarray(ext.start, oid.end))) return undefined;
  let el = tlv(der, oid.end, ext.end);
  if (el !== undefined && el.tag === 0x01) el = tlv(der, el.end, ext.end); // critical
  if (el === undefined || el.tag !== 0x04) return undefined;
  const inner = tlv(der, el.start, el.end);
  if (inner === undefined || inner.tag !== 0x04 || inner.start === inner.end) return undefined;
  return Buffer.from(der.subarray(inner.start, inner.end)).toString('hex');
}
