/**
 * A small DER walker that locates the validity and the extensions of a certificate without
 * decoding the whole structure (asn1js takes ~0.4 ms for a whole certificate; the verifier
 * needs a handful of fields). Extension *values* are decoded in x509-extensions.ts with the
 * same walker. Every function throws a plain Error on malformed input; callers wrap it.
 */

export interface Tlv {
  readonly tag: number;
  /** Start of the contents. */
  readonly start: number;
  /** End of the element (exclusive). */
  readonly end: number;
}

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

export interface TbsFields {
  readonly notBefore: number;
  readonly notAfter: number;
  readonly extensions: readonly RawExtension[];
}

const SEQUENCE = 0x30;

/** Validity (ms since the epoch) and raw extensions of a DER certificate. */
export function readTbsFields(der: Uint8Array): TbsFields {
  const cert = readTlv(der, 0, der.length, SEQUENCE);
  if (cert.end !== der.length) throw new Error('trailing data after certificate');
  const tbs = readTlv(der, cert.start, cert.end, SEQUENCE);
  let el = readTlv(der, tbs.start, tbs.end);
  if (el.tag === 0xa0) el = readTlv(der, el.end, tbs.end); // version
  expectTag(el, 0x02); // serialNumber
  el = readTlv(der, el.end, tbs.end, SEQUENCE); // signature algorithm
  el = readTlv(der, el.end, tbs.end, SEQUENCE); // issuer
  const validity = readTlv(der, el.end, tbs.end, SEQUENCE);
  const nb = readTlv(der, validity.start, validity.end);
  const na = readTlv(der, nb.end, validity.end);
  if (na.end !== validity.end) throw new Error('malformed validity');
  el = readTlv(der, validity.end, tbs.end, SEQUENCE); // subject
  el = readTlv(der, el.end, tbs.end, SEQUENCE); // subjectPublicKeyInfo
  let pos = el.end;
  const extensions: RawExtension[] = [];
  while (pos < tbs.end) {
    el = readTlv(der, pos, tbs.end);
    pos = el.end;
    if (el.tag === 0x81 || el.tag === 0x82) continue; // issuer/subject unique IDs
    if (el.tag !== 0xa3 || pos !== tbs.end) throw new Error('unexpected element in tbsCertificate');
    const list = readTlv(der, el.start, el.end, SEQUENCE);
    if (list.end !== el.end || list.start === list.end) throw new Error('malformed extensions');
    for (let p = list.start; p < list.end; ) {
      const ext = readTlv(der, p, list.end, SEQUENCE);
      extensions.push(readExtension(der, ext));
      p = ext.end;
    }
  }
  return { notBefore: readTime(der, nb), notAfter: readTime(der, na), extensions };
}

function readExtension(der: Uint8Array, ext: Tlv): RawExtension {
  const oidTlv = readTlv(der, ext.start, ext.end, 0x06);
  let el = readTlv(der, oidTlv.end, ext.end);
  let critical = false;
  if (el.tag === 0x01) {
    if (el.end - el.start !== 1) throw new Error('malformed boolean');
    critical = der[el.start] !== 0;
    el = readTlv(der, el.end, ext.end);
  }
  expectTag(el, 0x04);
  if (el.end !== ext.end) throw new Error('trailing data in extension');
  return { oid: decodeOid(der.subarray(oidTlv.start, oidTlv.end)), critical, value: der.subarray(el.start, el.end) };
}

/** One definite-length DER element at `pos`, ending at or before `limit`; with `tag`, of that tag. */
export function readTlv(buf: Uint8Array, pos: number, limit: number, tag?: number): Tlv {
  if (pos + 2 > limit) throw new Error('truncated der');
  const t = buf[pos];
  if ((t & 0x1f) === 0x1f) throw new Error('multi-byte tags are not supported');
  if (tag !== undefined && t !== tag) throw new Error(`expected tag 0x${tag.toString(16)}`);
  let len = buf[pos + 1];
  let start = pos + 2;
  if (len & 0x80) {
    const octets = len & 0x7f;
    if (octets === 0 || octets > 3 || start + octets > limit) throw new Error('unsupported der length');
    len = 0;
    for (let i = 0; i < octets; i++) len = len * 256 + buf[start + i];
    start += octets;
  }
  const end = start + len;
  if (end > limit) throw new Error('truncated der');
  return { tag: t, start, end };
}

function expectTag(el: Tlv, tag: number): void {
  if (el.tag !== tag) throw new Error(`expected tag 0x${tag.toString(16)}`);
}

/** Dotted form of an OBJECT IDENTIFIER's contents. */
export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0 || bytes[bytes.length - 1] & 0x80) throw new Error('malformed object identifier');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (value === 0 && bytes[i] === 0x80) throw new Error('non-minimal object identifier');
    value = value * 128 + (bytes[i] & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new Error('object identifier arc too large');
    if ((bytes[i] & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ` (the RFC 5280 forms only). */
function readTime(der: Uint8Array, el: Tlv): number {
  const length = el.end - el.start;
  let year: number;
  let pos = el.start;
  if (el.tag === 0x17 && length === 13) {
    const yy = digits(der, pos, 2);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    pos += 2;
  } else if (el.tag === 0x18 && length === 15) {
    year = digits(der, pos, 4);
    pos += 4;
  } else {
    throw new Error('unsupported time encoding');
  }
  if (year < 100) throw new Error('time out of range');
  if (der[pos + 10] !== 0x5a) throw new Error('time must be in UTC (Z)');
  const month = digits(der, pos, 2);
  const day = digits(der, pos + 2, 2);
  const hour = digits(der, pos + 4, 2);
  const minute = digits(der, pos + 6, 2);
  const second = digits(der, pos + 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new Error('time out of range');
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) throw new Error('time out of range');
  return ms;
}

/** `count` ASCII decimal digits at `from`. */
function digits(bytes: Uint8Array, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = bytes[i];
    if (c < 0x30 || c > 0x39) throw new Error('malformed time');
    n = n * 10 + (c - 0x30);
  }
  return n;
}
