/**
 * What the verifier needs from a certificate, parsed once and cached.
 *
 * node:crypto's `X509Certificate` does not expose key-usage bits, basic constraints details,
 * structured SANs or name constraints (its `keyUsage` is really the EKU list). A small DER
 * walker (der.ts) finds the validity and the extensions; extension values are decoded with
 * @peculiar/asn1-x509. Results are cached by identity (WeakMap, for bundle
 * anchors that are the same objects on every call) and by exact DER (a bounded LRU, for peer
 * chains that arrive as fresh bytes on every handshake).
 */
import { KeyObject, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import { certificateFromDer, MAX_CERTIFICATE_BYTES } from './certificates';
import { RawExtension, readTbsFields, TbsFields } from './der';
import { SpiffeError, SpiffeErrorDetails } from './errors';

/** Key usage bits (RFC 5280 §4.2.1.3), as our own flags. */
export const KU = {
  digitalSignature: 1 << 0,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
} as const;

export const OID = {
  serverAuth: asn1.id_kp_serverAuth,
  clientAuth: asn1.id_kp_clientAuth,
  anyExtendedKeyUsage: asn1.anyExtendedKeyUsage,
} as const;

/** One name-constraint subtree in a form the verifier can evaluate. */
export type Subtree =
  | { readonly kind: 'uri' | 'dns'; readonly value: string }
  | { readonly kind: 'unsupported'; readonly what: string };

export interface NameConstraintsInfo {
  readonly permitted: readonly Subtree[];
  readonly excluded: readonly Subtree[];
}

export interface CertInfo {
  readonly cert: X509Certificate;
  /** Exact DER as a latin1 string: the cache key and identity of the certificate. */
  readonly derKey: string;
  readonly subject: string;
  readonly issuer: string;
  readonly selfIssued: boolean;
  readonly serial: string;
  readonly publicKey: KeyObject;
  /** Validity window in ms since the epoch, both inclusive (RFC 5280). */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly isCa: boolean;
  readonly pathLen: number | undefined;
  /** Key usage flags (see `KU`), or `undefined` when the extension is absent. */
  readonly keyUsage: number | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
  readonly nameConstraints: NameConstraintsInfo | undefined;
  /** First critical extension we do not process, if any. */
  readonly unsupportedCritical: string | undefined;
}

/** Extensions whose semantics we apply (or, for policies, may safely ignore: any-policy). */
const HANDLED = new Set<string>([
  asn1.id_ce_basicConstraints,
  asn1.id_ce_keyUsage,
  asn1.id_ce_extKeyUsage,
  asn1.id_ce_subjectAltName,
  asn1.id_ce_nameConstraints,
  asn1.id_ce_subjectKeyIdentifier,
  asn1.id_ce_authorityKeyIdentifier,
  asn1.id_ce_certificatePolicies,
]);

/** Resource limits for the ASN.1 parser on untrusted bytes. */
const BER_LIMITS = { berOptions: { maxDepth: 24, maxNodes: 4000, maxContentLength: 1 << 20 } };

type MutableInfo = { -readonly [K in keyof CertInfo]: CertInfo[K] };

export const CERT_INFO_CACHE_SIZE = 1024;
const byObject = new WeakMap<X509Certificate, CertInfo>();
const byDer = new Map<string, CertInfo>();

/**
 * Parsed information of a certificate given as DER bytes or an X509Certificate.
 * @throws SpiffeError `malformed_certificate`
 */
export function certInfo(input: Uint8Array | X509Certificate, index = 0): CertInfo {
  let cert: X509Certificate | undefined;
  let der: Buffer;
  if (input instanceof X509Certificate) {
    const hit = byObject.get(input);
    if (hit !== undefined) return hit;
    cert = input;
    der = input.raw;
  } else if (input instanceof Uint8Array) {
    der = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  } else {
    throw new SpiffeError('malformed_certificate', 'cannot parse certificate: not bytes or an X509Certificate', {
      index,
    });
  }
  if (der.length > MAX_CERTIFICATE_BYTES) {
    throw new SpiffeError('malformed_certificate', `cannot parse certificate: larger than ${MAX_CERTIFICATE_BYTES} bytes`, {
      index,
    });
  }
  const derKey = der.toString('latin1');
  let info = byDer.get(derKey);
  if (info !== undefined) {
    byDer.delete(derKey); // refresh LRU position
  } else {
    info = parseInfo(cert ?? certificateFromDer(der, index), der, derKey, index);
  }
  byDer.set(derKey, info);
  if (byDer.size > CERT_INFO_CACHE_SIZE) byDer.delete(byDer.keys().next().value as string);
  if (cert !== undefined) byObject.set(cert, info);
  return info;
}

/** For tests and benchmarks. */
export function clearCertInfoCache(): void {
  byDer.clear();
}

export function certDetails(info: CertInfo, index?: number): SpiffeErrorDetails {
  return index === undefined ? { serial: info.serial, subject: info.subject } : { serial: info.serial, subject: info.subject, index };
}

function parseInfo(cert: X509Certificate, der: Buffer, derKey: string, index: number): CertInfo {
  const fail = (why: string, cause?: unknown): SpiffeError =>
    new SpiffeError('malformed_certificate', `cannot parse certificate: ${why}`, { index }, { cause });
  let tbs: TbsFields;
  try {
    tbs = readTbsFields(der);
  } catch (err) {
    throw fail('malformed certificate structure', err);
  }
  let names: Pick<CertInfo, 'subject' | 'issuer' | 'serial' | 'publicKey'>;
  try {
    names = { subject: cert.subject, issuer: cert.issuer, serial: cert.serialNumber, publicKey: cert.publicKey };
  } catch (err) {
    throw fail('malformed names or public key', err);
  }
  const info: MutableInfo = {
    cert,
    derKey,
    ...names,
    selfIssued: names.subject === names.issuer,
    notBefore: tbs.notBefore,
    notAfter: tbs.notAfter,
    isCa: false,
    pathLen: undefined,
    keyUsage: undefined,
    extKeyUsage: undefined,
    uris: [],
    dnsNames: [],
    nameConstraints: undefined,
    unsupportedCritical: undefined,
  };
  const seen = new Set<string>();
  for (const ext of tbs.extensions) {
    if (seen.has(ext.oid)) throw fail(`duplicate extension ${ext.oid}`);
    seen.add(ext.oid);
    if (ext.critical && !HANDLED.has(ext.oid) && info.unsupportedCritical === undefined) {
      info.unsupportedCritical = ext.oid;
    }
    try {
      readExtension(info, ext);
    } catch (err) {
      throw fail(`malformed extension ${ext.oid}`, err);
    }
  }
  Object.freeze(info.uris);
  Object.freeze(info.dnsNames);
  return Object.freeze(info);
}

function readExtension(info: MutableInfo, ext: RawExtension): void {
  const value = ext.value;
  switch (ext.oid) {
    case asn1.id_ce_basicConstraints: {
      const bc = AsnConvert.parse(value, asn1.BasicConstraints, BER_LIMITS);
      info.isCa = bc.cA === true;
      info.pathLen = bc.pathLenConstraint;
      if (info.pathLen !== undefined && (!Number.isSafeInteger(info.pathLen) || info.pathLen < 0)) {
        throw new Error('invalid path length constraint');
      }
      break;
    }
    case asn1.id_ce_keyUsage: {
      const ku = AsnConvert.parse(value, asn1.KeyUsage, BER_LIMITS);
      info.keyUsage = bitFlags(new Uint8Array(ku.value));
      break;
    }
    case asn1.id_ce_extKeyUsage: {
      const eku = AsnConvert.parse(value, asn1.ExtendedKeyUsage, BER_LIMITS);
      info.extKeyUsage = Object.freeze([...eku]);
      break;
    }
    case asn1.id_ce_subjectAltName: {
      const san = AsnConvert.parse(value, asn1.SubjectAlternativeName, BER_LIMITS);
      const uris: string[] = [];
      const dns: string[] = [];
      for (const name of san) {
        if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
        if (name.dNSName !== undefined) dns.push(name.dNSName);
      }
      info.uris = uris;
      info.dnsNames = dns;
      break;
    }
    case asn1.id_ce_nameConstraints: {
      const nc = AsnConvert.parse(value, asn1.NameConstraints, BER_LIMITS);
      info.nameConstraints = Object.freeze({
        permitted: Object.freeze((nc.permittedSubtrees ?? []).map(toSubtree)),
        excluded: Object.freeze((nc.excludedSubtrees ?? []).map(toSubtree)),
      });
      break;
    }
    default:
      break;
  }
}

function toSubtree(subtree: asn1.GeneralSubtree): Subtree {
  // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent.
  if ((subtree.minimum ?? 0) !== 0 || subtree.maximum !== undefined) {
    return { kind: 'unsupported', what: 'subtree with minimum or maximum' };
  }
  const base = subtree.base;
  if (base.uniformResourceIdentifier !== undefined) return { kind: 'uri', value: base.uniformResourceIdentifier };
  if (base.dNSName !== undefined) return { kind: 'dns', value: base.dNSName };
  if (base.iPAddress !== undefined) return { kind: 'unsupported', what: 'ip address constraint' };
  if (base.rfc822Name !== undefined) return { kind: 'unsupported', what: 'email constraint' };
  if (base.directoryName !== undefined) return { kind: 'unsupported', what: 'directory name constraint' };
  return { kind: 'unsupported', what: 'constraint of an unsupported name form' };
}

/** BIT STRING bytes to flags where bit i of the ASN.1 string is `1 << i`. */
function bitFlags(bytes: Uint8Array): number {
  let flags = 0;
  const bits = Math.min(bytes.length * 8, 16);
  for (let i = 0; i < bits; i++) {
    if ((bytes[i >> 3] >> (7 - (i & 7))) & 1) flags |= 1 << i;
  }
  return flags;
}
