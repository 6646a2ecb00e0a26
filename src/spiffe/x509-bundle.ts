/**
 * X.509 bundle of one trust domain: the CA certificates that anchor its X509-SVIDs.
 * Immutable; authorities keep their order and duplicates (by DER) are dropped.
 */
import { X509Certificate } from 'node:crypto';
import { derElementEnd, parseDerCertificates, parsePemCertificates } from './certificates';
import { SpiffeError } from './errors';
import { decodePemBlocks, encodePem, looksLikePem } from './pem';
import { TrustDomain } from './spiffe-id';

export class X509Bundle {
  readonly trustDomain: TrustDomain;
  readonly authorities: readonly X509Certificate[];

  private constructor(trustDomain: TrustDomain, authorities: readonly X509Certificate[]) {
    this.trustDomain = trustDomain;
    this.authorities = authorities;
    Object.freeze(this);
  }

  /** A bundle of the given certificates (copied; duplicates by DER dropped). */
  static fromAuthorities(td: TrustDomain, authorities: Iterable<X509Certificate>): X509Bundle {
    if (!(td instanceof TrustDomain)) throw new TypeError('x509 bundle: trust domain must be a TrustDomain');
    const seen = new Set<string>();
    const list: X509Certificate[] = [];
    for (const cert of authorities) {
      if (!(cert instanceof X509Certificate)) throw new TypeError('x509 bundle: authorities must be X509Certificates');
      const key = cert.fingerprint256;
      if (seen.has(key)) continue;
      seen.add(key);
      list.push(cert);
    }
    return new X509Bundle(td, Object.freeze(list));
  }

  /**
   * Parses PEM (CERTIFICATE blocks; other block types are skipped) or concatenated DER.
   * Empty input (or only whitespace) gives an empty bundle.
   * @throws SpiffeError `malformed_bundle` (input is neither PEM nor DER, or PEM without
   *   certificates), `malformed_certificate` (a certificate does not parse)
   */
  static parse(td: TrustDomain, data: string | Uint8Array): X509Bundle {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new TypeError('x509 bundle: data must be a string or bytes');
    }
    if (looksLikePem(data)) return X509Bundle.parsePem(td, data);
    if (typeof data !== 'string' && data.byteLength > 0 && derElementEnd(data, 0) !== undefined) {
      return X509Bundle.parseDer(td, data);
    }
    if (isBlank(data)) return X509Bundle.fromAuthorities(td, []);
    throw new SpiffeError('malformed_bundle', 'cannot parse x509 bundle: no pem blocks found', {
      trustDomain: td.name,
    });
  }

  /** Parses PEM; see `parse`. */
  static parsePem(td: TrustDomain, pem: string | Uint8Array): X509Bundle {
    const certs = parsePemCertificates(pem);
    if (certs.length === 0 && !isBlank(pem)) {
      const why = decodePemBlocks(pem).length === 0 ? 'no pem blocks found' : 'no certificate blocks found';
      throw new SpiffeError('malformed_bundle', `cannot parse x509 bundle: ${why}`, { trustDomain: td.name });
    }
    return X509Bundle.fromAuthorities(td, certs);
  }

  /** Parses concatenated DER (the Workload API format); empty input gives an empty bundle. */
  static parseDer(td: TrustDomain, der: Uint8Array): X509Bundle {
    return X509Bundle.fromAuthorities(td, parseDerCertificates(der));
  }

  get size(): number {
    return this.authorities.length;
  }

  /** True when `cert` (by DER) is one of the authorities. */
  has(cert: X509Certificate): boolean {
    const key = cert.fingerprint256;
    return this.authorities.some((a) => a.fingerprint256 === key);
  }

  /** Same trust domain and the same set of authorities (order ignored). */
  equals(other: X509Bundle): boolean {
    if (!(other instanceof X509Bundle) || !this.trustDomain.equals(other.trustDomain)) return false;
    return sameCertificateSet(this.authorities, other.authorities);
  }

  toPem(): string {
    return this.authorities.map((c) => encodePem('CERTIFICATE', c.raw)).join('');
  }

  /** Concatenated DER, as the Workload API carries bundles. */
  toDer(): Buffer {
    return Buffer.concat(this.authorities.map((c) => c.raw));
  }
}

export function sameCertificateSet(a: readonly X509Certificate[], b: readonly X509Certificate[]): boolean {
  const left = new Set(a.map((c) => c.fingerprint256));
  const right = new Set(b.map((c) => c.fingerprint256));
  if (left.size !== right.size) return false;
  for (const key of left) if (!right.has(key)) return false;
  return true;
}

function isBlank(data: string | Uint8Array): boolean {
  if (typeof data === 'string') return data.trim().length === 0;
  for (const byte of data) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false;
  }
  return true;
}
