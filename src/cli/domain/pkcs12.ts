/**
 * A PKCS#12 file (RFC 7292) of one private key and its certificate chain, for importing a
 * client SVID into a browser or a key store. The modern profile OpenSSL 3 writes by default:
 * the key as a PKCS8ShroudedKeyBag encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC),
 * certificates in plain cert bags (they are public), and an HMAC-SHA256 integrity MAC keyed
 * by the PKCS#12 key derivation. The leaf and the key share a localKeyId and a friendlyName,
 * so importers pair them. Built with node:crypto and a small DER writer; nothing else.
 */
import { createHash, createHmac, createCipheriv, createPrivateKey, pbkdf2Sync, randomBytes, X509Certificate } from 'node:crypto';

const OID = {
  data: '1.2.840.113549.1.7.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSha256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

/** OpenSSL 3's default iteration count for both the key encryption and the MAC. */
export const PKCS12_ITERATIONS = 2048;

export interface Pkcs12Input {
  /** The private key, PEM (PKCS#8 or any form node:crypto reads). */
  keyPem: string;
  /** The certificate chain, leaf first, PEM. */
  chainPem: string;
  password: string;
  /** Shown by importers (the SPIFFE ID is a good name). */
  friendlyName: string;
  iterations?: number;
}

/** The DER bytes of a password-protected PKCS#12 file of the key and its chain. */
export function buildPkcs12(input: Pkcs12Input): Buffer {
  const iterations = input.iterations ?? PKCS12_ITERATIONS;
  const certs = pemCertificates(input.chainPem);
  if (certs.length === 0) throw new TypeError('pkcs12: the chain holds no certificate');
  const key = createPrivateKey(input.keyPem);
  if (!new X509Certificate(certs[0]!).checkPrivateKey(key)) throw new TypeError('pkcs12: the key does not belong to the leaf certificate');
  const keyId = createHash('sha256').update(certs[0]!).digest().subarray(0, 20);
  const leafAttributes = set(attribute(OID.localKeyId, octets(keyId)), attribute(OID.friendlyName, bmpString(input.friendlyName)));
  const certBags = certs.map((der, i) => safeBag(OID.certBag, seq(oid(OID.x509Certificate), explicit0(octets(der))), i === 0 ? leafAttributes : undefined));
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const keyBag = safeBag(OID.pkcs8ShroudedKeyBag, encryptedPrivateKeyInfo(pkcs8, input.password, iterations), leafAttributes);
  const authSafe = seq(dataContentInfo(seq(...certBags)), dataContentInfo(seq(keyBag)));
  const macSalt = randomBytes(16);
  const macKey = pkcs12Kdf(input.password, macSalt, 3, iterations, 32);
  const mac = createHmac('sha256', macKey).update(authSafe).digest();
  const macData = seq(seq(seq(oid(OID.sha256), NULL), octets(mac)), octets(macSalt), integer(iterations));
  return seq(integer(3), dataContentInfo(authSafe), macData);
}

/** The DER certificates of a PEM text, in order. */
export function pemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m !== null; m = re.exec(pem)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

function encryptedPrivateKeyInfo(pkcs8: Buffer, password: string, iterations: number): Buffer {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const encrypted = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  const kdf = seq(oid(OID.pbkdf2), seq(octets(salt), integer(iterations), seq(oid(OID.hmacWithSha256), NULL)));
  const scheme = seq(oid(OID.aes256Cbc), octets(iv));
  return seq(seq(oid(OID.pbes2), seq(kdf, scheme)), octets(encrypted));
}

/**
 * The PKCS#12 key derivation (RFC 7292 appendix B.2) with SHA-256 (u = 32, v = 64 bytes);
 * `id` 3 makes MAC keys. The password is a NUL-terminated BMPString.
 */
export function pkcs12Kdf(password: string, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const u = 32;
  const v = 64;
  const pass = Buffer.concat([bmpBytes(password), Buffer.alloc(2)]);
  const fill = (b: Buffer) => (b.length === 0 ? Buffer.alloc(0) : Buffer.concat(Array.from({ length: Math.ceil(b.length / v) * v }, (_, i) => b.subarray(i % b.length, (i % b.length) + 1))));
  const I = Buffer.concat([fill(salt), fill(pass)]);
  const D = Buffer.alloc(v, id);
  const out: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let a = createHash('sha256').update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) a = createHash('sha256').update(a).digest();
    out.push(a);
    const B = Buffer.concat(Array.from({ length: v / u }, () => a));
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, length);
}

// --- a minimal DER writer -------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let x = n; x > 0; x >>= 8) bytes.unshift(x & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const NULL = Buffer.from([0x05, 0x00]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
/** DER orders the elements of a SET OF by their encodings. */
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat([...items].sort(Buffer.compare)));
const octets = (b: Buffer) => tlv(0x04, b);
const explicit0 = (b: Buffer) => tlv(0xa0, b);
const bmpBytes = (s: string) => Buffer.from(s, 'utf16le').swap16();
const bmpString = (s: string) => tlv(0x1e, bmpBytes(s));

function integer(n: number): Buffer {
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const group: number[] = [part & 0x7f];
    for (let x = Math.floor(part / 128); x > 0; x = Math.floor(x / 128)) group.unshift(0x80 | (x & 0x7f));
    bytes.push(...group);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function attribute(id: string, value: Buffer): Buffer {
  return seq(oid(id), set(value));
}

function safeBag(bagId: string, value: Buffer, attributes?: Buffer): Buffer {
  return attributes === undefined ? seq(oid(bagId), explicit0(value)) : seq(oid(bagId), explicit0(value), attributes);
}

function dataContentInfo(content: Buffer): Buffer {
  return seq(oid(OID.data), explicit0(octets(content)));
}
