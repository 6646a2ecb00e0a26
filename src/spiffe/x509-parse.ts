/**
 * What the verifier needs from a certificate, parsed once and cached.
 *
 * node:crypto's `X509Certificate` does not expose key-usage bits, basic constraints details,
 * structured SANs or name constraints (its `keyUsage` is really the EKU list). A small DER
 * walker (der.ts) finds the validity and the extensions; the values of the extensions the
 * verifier applies are decoded by x509-extensions.ts with the same walker. Results are cached
 * by identity (WeakMap, for bundle anchors that are the same objects on every call) and by
 * exact DER (a bounded LRU, for peer chains that arrive as fresh bytes on every handshake).
 */
import { KeyObject, X509Certificate } from 'node:crypto';
import { certificateFromDer, MAX_CERTIFICATE_BYTES } from './certificates';
import { RawExtension, readTbsFields, TbsFields } from './der';
import { SpiffeError, SpiffeErrorDetails } from './errors';
import {
  decodeBasicConstraints,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeNameConstraints,
  decodeSubjectAltName,
  type NameConstraintsInfo,
} from './x509-extensions';

export type { NameConstraintsInfo, Subtree } from './x509-extensions';

/** Key usage bits (RFC 5280 §4.2.1.3), as our own flags. */
export const KU = {
  digitalSignature: 1 << 0,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
} as const;

export const OID = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/** Extension identifiers (RFC 5280 §4.2.1). */
const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

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
  EXT.basicConstraints,
  EXT.keyUsage,
  EXT.extKeyUsage,
  EXT.subjectAltName,
  EXT.nameConstraints,
  EXT.subjectKeyIdentifier,
  EXT.authorityKeyIdentifier,
  EXT.certificatePolicies,
]);

type MutableInfo = { -readonly [K in keyof CertInfo]: CertInfo[K] };
/** All but the public key, which is read on first use. */
type MutableFields = Omit<MutableInfo, 'publicKey'>;

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
  let names: Pick<CertInfo, 'subject' | 'issuer' | 'serial'>;
  try {
    names = { subject: cert.subject, issuer: cert.issuer, serial: cert.serialNumber };
  } catch (err) {
    throw fail('malformed names', err);
  }
  const info: MutableFields = {
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
  // Read when the certificate is a candidate issuer (a KeyObject costs about as much as the
  // rest of a leaf's parse, and a leaf's own key is not needed). Certificates read from bytes
  // have a key that decodes (certificateFromDer); should a given X509Certificate's not, the
  // signature check it is read for fails, and so does the chain.
  let publicKey: KeyObject | undefined;
  const withKey = Object.defineProperty(info as MutableFields & Pick<CertInfo, 'publicKey'>, 'publicKey', {
    enumerable: true,
    get: () => (publicKey ??= cert.publicKey),
  });
  return Object.freeze(withKey);
}

function readExtension(info: MutableFields, ext: RawExtension): void {
  const value = ext.value;
  switch (ext.oid) {
    case EXT.basicConstraints: {
      const bc = decodeBasicConstraints(value);
      info.isCa = bc.isCa;
      info.pathLen = bc.pathLen;
      break;
    }
    case EXT.keyUsage:
      info.keyUsage = decodeKeyUsage(value);
      break;
    case EXT.extKeyUsage:
      info.extKeyUsage = Object.freeze(decodeExtKeyUsage(value));
      break;
    case EXT.subjectAltName: {
      const san = decodeSubjectAltName(value);
      info.uris = san.uris;
      info.dnsNames = san.dnsNames;
      break;
    }
    case EXT.nameConstraints:
      info.nameConstraints = decodeNameConstraints(value);
      break;
    default:
      break;
  }
}
