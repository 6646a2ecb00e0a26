/**
 * Decoders for the values of the X.509 extensions the verifier applies (RFC 5280 §4.2.1):
 * basic constraints, key usage, extended key usage, subject alternative names and name
 * constraints. Each takes the contents of the extension's OCTET STRING, reads exactly the
 * fields the SVID rules need with the DER walker of der.ts, and checks that the whole value
 * is one well-formed element (nested elements included, to a bounded depth). A generic
 * ASN.1 schema parse of these values cost most of the time of verifying a new leaf.
 *
 * Strings are taken byte for byte (latin1), as ASN.1 libraries do for IA5String; the SPIFFE
 * ID parser and the name-constraint matcher judge their characters. Every function throws a
 * plain Error on malformed input; x509-parse.ts turns it into `malformed_certificate`.
 */
import { decodeOid, readTlv, type Tlv } from './der';

/** One name-constraint subtree in a form the verifier can evaluate. */
export type Subtree =
  | { readonly kind: 'uri' | 'dns'; readonly value: string }
  | { readonly kind: 'unsupported'; readonly what: string };

export interface NameConstraintsInfo {
  readonly permitted: readonly Subtree[];
  readonly excluded: readonly Subtree[];
}

export interface BasicConstraints {
  readonly isCa: boolean;
  readonly pathLen: number | undefined;
}

export interface SubjectAltNames {
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
}

const SEQUENCE = 0x30;
const BOOLEAN = 0x01;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OID = 0x06;
/** GeneralName choices (RFC 5280 §4.2.1.6), implicitly tagged. */
const GN_RFC822 = 0x81;
const GN_DNS = 0x82;
const GN_URI = 0x86;
const GN_IP = 0x87;
const GN_DIRECTORY = 0xa4;
/** Deepest nesting accepted inside one extension value (a directory name is 4 levels). */
const MAX_DEPTH = 16;

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
export function decodeBasicConstraints(value: Uint8Array): BasicConstraints {
  const seq = whole(value, SEQUENCE);
  let pos = seq.start;
  let isCa = false;
  let pathLen: number | undefined;
  if (pos < seq.end && value[pos] === BOOLEAN) {
    const el = readTlv(value, pos, seq.end, BOOLEAN);
    isCa = readBoolean(value, el);
    pos = el.end;
  }
  if (pos < seq.end) {
    const el = readTlv(value, pos, seq.end, INTEGER);
    pathLen = readUnsigned(value, el);
    pos = el.end;
  }
  if (pos !== seq.end) throw new Error('trailing data in basic constraints');
  return { isCa, pathLen };
}

/**
 * KeyUsage ::= BIT STRING, as flags where bit i of the string is `1 << i` (the first 16 bits;
 * RFC 5280 names 9). Padding bits must be zero (DER).
 */
export function decodeKeyUsage(value: Uint8Array): number {
  const el = whole(value, BIT_STRING);
  if (el.end === el.start) throw new Error('bit string without its unused-bits octet');
  const unused = value[el.start];
  const bytes = value.subarray(el.start + 1, el.end);
  if (unused > 7 || (bytes.length === 0 && unused !== 0)) throw new Error('invalid unused bits in bit string');
  if (bytes.length > 0 && (bytes[bytes.length - 1] & ((1 << unused) - 1)) !== 0) throw new Error('non-zero padding bits in bit string');
  let flags = 0;
  const bits = Math.min(bytes.length * 8, 16);
  for (let i = 0; i < bits; i++) {
    if ((bytes[i >> 3] >> (7 - (i & 7))) & 1) flags |= 1 << i;
  }
  return flags;
}

/** ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId (OBJECT IDENTIFIER), in dotted form. */
export function decodeExtKeyUsage(value: Uint8Array): string[] {
  const seq = whole(value, SEQUENCE);
  const purposes: string[] = [];
  for (let pos = seq.start; pos < seq.end; ) {
    const el = readTlv(value, pos, seq.end, OID);
    purposes.push(decodeOid(value.subarray(el.start, el.end)));
    pos = el.end;
  }
  return purposes;
}

/**
 * SubjectAltName ::= GeneralNames: the URI and DNS names, in order; other forms are checked
 * for form and skipped. An empty list (RFC 5280 requires one name) yields no names, so a leaf
 * with it is refused as having no URI SAN.
 */
export function decodeSubjectAltName(value: Uint8Array): SubjectAltNames {
  const seq = whole(value, SEQUENCE);
  const uris: string[] = [];
  const dnsNames: string[] = [];
  for (let pos = seq.start; pos < seq.end; ) {
    const name = readGeneralName(value, pos, seq.end);
    if (name.tag === GN_URI) uris.push(text(value, name));
    else if (name.tag === GN_DNS) dnsNames.push(text(value, name));
    pos = name.end;
  }
  return { uris, dnsNames };
}

/**
 * NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL,
 * excludedSubtrees [1] GeneralSubtrees OPTIONAL }. A subtree with a minimum other than 0 or a
 * maximum, or of a name form other than URI and DNS, is returned as `unsupported` (the
 * verifier refuses a chain under it).
 */
export function decodeNameConstraints(value: Uint8Array): NameConstraintsInfo {
  const seq = whole(value, SEQUENCE);
  let pos = seq.start;
  let permitted: Subtree[] = [];
  let excluded: Subtree[] = [];
  if (pos < seq.end && value[pos] === 0xa0) {
    const el = readTlv(value, pos, seq.end, 0xa0);
    permitted = readSubtrees(value, el);
    pos = el.end;
  }
  if (pos < seq.end && value[pos] === 0xa1) {
    const el = readTlv(value, pos, seq.end, 0xa1);
    excluded = readSubtrees(value, el);
    pos = el.end;
  }
  if (pos !== seq.end) throw new Error('unexpected element in name constraints');
  return Object.freeze({ permitted: Object.freeze(permitted), excluded: Object.freeze(excluded) });
}

/** GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree (the [n] tag replaces the SEQUENCE tag). */
function readSubtrees(buf: Uint8Array, list: Tlv): Subtree[] {
  if (list.start === list.end) throw new Error('empty general subtrees');
  const out: Subtree[] = [];
  for (let pos = list.start; pos < list.end; ) {
    const subtree = readTlv(buf, pos, list.end, SEQUENCE);
    out.push(readSubtree(buf, subtree));
    pos = subtree.end;
  }
  return out;
}

/** GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] INTEGER DEFAULT 0, maximum [1] INTEGER OPTIONAL } */
function readSubtree(buf: Uint8Array, subtree: Tlv): Subtree {
  const base = readGeneralName(buf, subtree.start, subtree.end);
  let pos = base.end;
  let minimum = 0;
  let hasMaximum = false;
  if (pos < subtree.end && buf[pos] === 0x80) {
    const el = readTlv(buf, pos, subtree.end, 0x80);
    minimum = readUnsigned(buf, el);
    pos = el.end;
  }
  if (pos < subtree.end && buf[pos] === 0x81) {
    const el = readTlv(buf, pos, subtree.end, 0x81);
    readUnsigned(buf, el);
    hasMaximum = true;
    pos = el.end;
  }
  if (pos !== subtree.end) throw new Error('unexpected element in general subtree');
  // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent.
  if (minimum !== 0 || hasMaximum) return { kind: 'unsupported', what: 'subtree with minimum or maximum' };
  switch (base.tag) {
    case GN_URI:
      return { kind: 'uri', value: text(buf, base) };
    case GN_DNS:
      return { kind: 'dns', value: text(buf, base) };
    case GN_IP:
      return { kind: 'unsupported', what: 'ip address constraint' };
    case GN_RFC822:
      return { kind: 'unsupported', what: 'email constraint' };
    case GN_DIRECTORY:
      return { kind: 'unsupported', what: 'directory name constraint' };
    default:
      return { kind: 'unsupported', what: 'constraint of an unsupported name form' };
  }
}

/**
 * One GeneralName at `pos`: a context-specific tag [0]–[8], primitive where RFC 5280 makes
 * it an implicit string, OID or octet string ([1] [2] [6] [7] [8]), constructed otherwise
 * ([0] otherName, [3] x400Address, [4] directoryName, [5] ediPartyName), whose contents must
 * then be well-formed DER.
 */
function readGeneralName(buf: Uint8Array, pos: number, limit: number): Tlv {
  const el = readTlv(buf, pos, limit);
  const number = el.tag & 0x1f;
  if ((el.tag & 0xc0) !== 0x80 || number > 8) throw new Error('not a general name');
  const constructed = (el.tag & 0x20) !== 0;
  const wantConstructed = number === 0 || number === 3 || number === 4 || number === 5;
  if (constructed !== wantConstructed) throw new Error('general name of the wrong form');
  // otherName, x400Address, directoryName and ediPartyName each hold at least one element.
  if (constructed && el.end === el.start) throw new Error('empty general name');
  if (constructed) checkElements(buf, el.start, el.end, 1);
  else if (number === 8) decodeOid(buf.subarray(el.start, el.end));
  return el;
}

/** The elements from `pos` to `end` are well-formed DER TLVs, constructed ones recursively. */
function checkElements(buf: Uint8Array, pos: number, end: number, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error('der nested too deeply');
  while (pos < end) {
    const el = readTlv(buf, pos, end);
    if (el.tag & 0x20) checkElements(buf, el.start, el.end, depth + 1);
    pos = el.end;
  }
}

/** The single element that is the whole of `buf`. */
function whole(buf: Uint8Array, tag: number): Tlv {
  const el = readTlv(buf, 0, buf.length, tag);
  if (el.end !== buf.length) throw new Error('trailing data after extension value');
  return el;
}

function readBoolean(buf: Uint8Array, el: Tlv): boolean {
  if (el.end - el.start !== 1) throw new Error('malformed boolean');
  return buf[el.start] !== 0;
}

/** A non-negative INTEGER that fits a safe JS integer. */
function readUnsigned(buf: Uint8Array, el: Tlv): number {
  const len = el.end - el.start;
  if (len === 0) throw new Error('empty integer');
  if (buf[el.start] & 0x80) throw new Error('negative integer');
  if (len > 1 && buf[el.start] === 0 && (buf[el.start + 1] & 0x80) === 0) throw new Error('non-minimal integer');
  let n = 0;
  for (let i = el.start; i < el.end; i++) {
    n = n * 256 + buf[i];
    if (n > Number.MAX_SAFE_INTEGER) throw new Error('integer too large');
  }
  return n;
}

function text(buf: Uint8Array, el: Tlv): string {
  return Buffer.from(buf.buffer, buf.byteOffset + el.start, el.end - el.start).toString('latin1');
}
