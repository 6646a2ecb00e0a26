/**
 * Our own X509-SVID: certificate chain (leaf first) plus its private key, as handed to us
 * by the Workload API, files on disk or the dev CA.
 */
import { createPrivateKey, createPublicKey, KeyObject, X509Certificate } from 'node:crypto';
import { parseDerCertificates, parsePemCertificates } from './certificates';
import { SpiffeError } from './errors';
import { decodePemBlocks, encodePem, looksLikePem } from './pem';
import { SpiffeId } from './spiffe-id';
import { checkLeaf, checkSigningCert } from './svid-rules';
import { certInfo } from './x509-parse';

// Module-private factory (assigned in the static block); the constructor stays private.
let newSvid: (id: SpiffeId, certs: readonly X509Certificate[], key: KeyObject, notAfter: Date) => X509Svid;

export class X509Svid {
  readonly id: SpiffeId;
  /** Leaf first, then intermediates. */
  readonly certificates: readonly X509Certificate[];
  readonly privateKey: KeyObject;
  /** The leaf's notAfter. */
  readonly notAfter: Date;

  private constructor(id: SpiffeId, certificates: readonly X509Certificate[], privateKey: KeyObject, notAfter: Date) {
    this.id = id;
    this.certificates = certificates;
    this.privateKey = privateKey;
    this.notAfter = notAfter;
    Object.freeze(this);
  }

  static {
    newSvid = (id, certs, key, notAfter) => new X509Svid(id, certs, key, notAfter);
  }

  get leaf(): X509Certificate {
    return this.certificates[0];
  }

  /** The chain as concatenated PEM CERTIFICATE blocks, leaf first. */
  certChainPem(): string {
    return this.certificates.map((c) => encodePem('CERTIFICATE', c.raw)).join('');
  }

  /** The chain as DER buffers, leaf first (the Workload API `x509_svid` is their concatenation). */
  certChainDer(): Buffer[] {
    return this.certificates.map((c) => c.raw);
  }

  /** PKCS#8 PEM. Key material: never log it. */
  privateKeyPem(): string {
    return this.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  toString(): string {
    return `X509Svid(${this.id.toString()})`;
  }
}

/**
 * Parses an X509-SVID from a certificate chain and a private key. Each input is PEM (blocks
 * of other types are skipped, so one file may hold both) or, for bytes without PEM markers,
 * DER (concatenated certificates; PKCS#8 key). Applies the leaf rules of CONFORMANCE §2.1–2.3,
 * cA + keyCertSign on every other certificate, and checks the key matches the leaf.
 * Validity times are not checked here (see `notAfter`).
 * @throws SpiffeError only
 */
export function parseX509Svid(certs: string | Uint8Array, key: string | Uint8Array): X509Svid {
  const chain = readCertificates(certs);
  const privateKey = readPrivateKey(key);
  const infos = chain.map((c, i) => certInfo(c, i));
  const id = checkLeaf(infos[0]);
  for (let i = 1; i < infos.length; i++) checkSigningCert(infos[i], i);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(privateKey);
  } catch (err) {
    throw new SpiffeError('malformed_key', 'cannot parse private key: no public key can be derived', {}, { cause: err });
  }
  if (!infos[0].publicKey.equals(publicKey)) {
    throw new SpiffeError('key_mismatch', 'invalid x509-svid: leaf certificate does not match the private key', {
      spiffeId: id.toString(),
      serial: infos[0].serial,
    });
  }
  return newSvid(id, Object.freeze(chain), privateKey, new Date(infos[0].notAfter));
}

function readCertificates(input: string | Uint8Array): X509Certificate[] {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new TypeError('certs must be a string or bytes');
  const chain = typeof input === 'string' || looksLikePem(input) ? parsePemCertificates(input) : parseDerCertificates(input);
  if (chain.length === 0) throw new SpiffeError('no_certificates', 'cannot parse x509-svid: no certificates found');
  return chain;
}

/** Reads a PKCS#8 private key from PEM (first `PRIVATE KEY` block) or DER. */
function readPrivateKey(input: string | Uint8Array): KeyObject {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new TypeError('key must be a string or bytes');
  let der: Buffer;
  if (typeof input === 'string' || looksLikePem(input)) {
    const block = decodePemBlocks(input).find((b) => b.type === 'PRIVATE KEY');
    if (block === undefined) throw new SpiffeError('no_private_key', 'cannot parse private key: no private key found');
    if (block.der === undefined) throw new SpiffeError('malformed_key', 'cannot parse private key: malformed pem block');
    der = block.der;
  } else {
    if (input.byteLength === 0) throw new SpiffeError('no_private_key', 'cannot parse private key: no private key found');
    der = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  try {
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    if (key.type !== 'private') throw new Error('not a private key');
    return key;
  } catch (err) {
    throw new SpiffeError('malformed_key', 'cannot parse private key: malformed pkcs#8', {}, { cause: err });
  }
}
