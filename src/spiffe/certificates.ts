/**
 * Reading certificates from PEM text or concatenated DER (the Workload API byte format)
 * into node:crypto `X509Certificate`s. Failures are `SpiffeError('malformed_certificate')`.
 */
import { X509Certificate } from 'node:crypto';
import { SpiffeError } from './errors';
import { decodePemBlocks } from './pem';

/** Upper bound on certificates read from one input (bundles of ~20 are common). */
export const MAX_CERTIFICATES = 1000;
/** Upper bound on the size of one certificate (real ones are 0.5–2 KiB). */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

/**
 * All `CERTIFICATE` blocks of a PEM input, in order; other block types are skipped.
 * Returns `[]` when there is none.
 * @throws SpiffeError `malformed_certificate` for a CERTIFICATE block that does not parse
 */
export function parsePemCertificates(pem: string | Uint8Array): X509Certificate[] {
  if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) throw new TypeError('pem must be a string or bytes');
  const out: X509Certificate[] = [];
  for (const block of decodePemBlocks(pem)) {
    if (block.type !== 'CERTIFICATE') continue;
    if (block.der === undefined) {
      throw new SpiffeError('malformed_certificate', 'cannot parse pem certificate: malformed pem block', {
        index: out.length,
      });
    }
    out.push(certificateFromDer(block.der, out.length));
    if (out.length > MAX_CERTIFICATES) throw tooMany();
  }
  return out;
}

/**
 * Splits concatenated DER certificates (no separators) and parses each one.
 * Returns `[]` for empty input.
 * @throws SpiffeError `malformed_certificate`
 */
export function parseDerCertificates(der: Uint8Array): X509Certificate[] {
  if (!(der instanceof Uint8Array)) throw new TypeError('der must be bytes');
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const out: X509Certificate[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = derElementEnd(buf, pos);
    if (end === undefined) {
      throw new SpiffeError('malformed_certificate', 'cannot parse der certificate: truncated or invalid der', {
        index: out.length,
      });
    }
    out.push(certificateFromDer(buf.subarray(pos, end), out.length));
    if (out.length > MAX_CERTIFICATES) throw tooMany();
    pos = end;
  }
  return out;
}

/**
 * One DER certificate (exactly one element, nothing after it).
 * @throws SpiffeError `malformed_certificate`
 */
export function certificateFromDer(der: Uint8Array, index = 0): X509Certificate {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  if (buf.length > MAX_CERTIFICATE_BYTES) {
    throw new SpiffeError('malformed_certificate', `cannot parse der certificate: larger than ${MAX_CERTIFICATE_BYTES} bytes`, {
      index,
    });
  }
  // node:crypto would also accept PEM here; insist on one whole DER SEQUENCE.
  if (derElementEnd(buf, 0) !== buf.length) {
    throw new SpiffeError('malformed_certificate', 'cannot parse der certificate: not a single der element', {
      index,
    });
  }
  try {
    const cert = new X509Certificate(buf);
    // OpenSSL decodes the public key lazily; a certificate whose key does not decode is malformed.
    void cert.publicKey;
    return cert;
  } catch (err) {
    throw new SpiffeError('malformed_certificate', 'cannot parse der certificate: malformed certificate', { index }, {
      cause: err,
    });
  }
}

/**
 * End offset of the DER SEQUENCE starting at `pos`, or `undefined` if the bytes there are not
 * a definite-length SEQUENCE that fits in `buf`.
 */
export function derElementEnd(buf: Uint8Array, pos: number): number | undefined {
  if (pos + 2 > buf.length || buf[pos] !== 0x30) return undefined;
  const first = buf[pos + 1];
  let len: number;
  let header: number;
  if (first < 0x80) {
    len = first;
    header = 2;
  } else {
    const octets = first & 0x7f;
    // 0x80 is BER indefinite length; more than 4 length octets is absurd for a certificate.
    if (octets === 0 || octets > 4 || pos + 2 + octets > buf.length) return undefined;
    len = 0;
    for (let i = 0; i < octets; i++) len = len * 256 + buf[pos + 2 + i];
    header = 2 + octets;
  }
  const end = pos + header + len;
  return end <= buf.length ? end : undefined;
}

function tooMany(): SpiffeError {
  return new SpiffeError('malformed_certificate', `cannot parse certificates: more than ${MAX_CERTIFICATES}`);
}
