/**
 * Test certificate authority for SPIFFE tests: roots, intermediates and X509-SVIDs with
 * every knob the adversarial tests need (validity, CA flag, key usage, EKU, name
 * constraints, path length, AKI omitted or forged, extra extensions). Built on
 * @peculiar/x509 over node's WebCrypto; independent of src/spiffe so it can check it.
 *
 *   const root = await TestCa.create({ trustDomain: 'acme.test' });
 *   const int = await root.intermediate();
 *   const svid = await int.issueSvid({ id: 'spiffe://acme.test/ns/ml/sa/trainer' });
 *   // svid.chain = [leaf DER, intermediate DER]; root.bundlePem() is the trust bundle
 *
 * Serial numbers come from a counter and all times from `now` (default: the real clock),
 * so certificates are reproducible apart from their keys and signatures.
 */
import 'reflect-metadata';
import { webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto);
const subtle = webcrypto.subtle;

export type KeyAlg = 'P-256' | 'P-384' | 'RSA';

/** Key usage bits, re-exported so tests need not import @peculiar/x509. */
export const KeyUsage = x509.KeyUsageFlags;
export const Eku = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2', codeSigning: '1.3.6.1.5.5.7.3.3' };

export interface NameConstraintsSpec {
  permittedUris?: string[];
  excludedUris?: string[];
  permittedDns?: string[];
  excludedDns?: string[];
  /** Raw IP subtrees (address + mask bytes), to exercise unsupported forms. */
  permittedIps?: Uint8Array[];
}

interface CertKnobs {
  keyAlg?: KeyAlg;
  notBefore?: Date;
  notAfter?: Date;
  /** Subject DN, e.g. `CN=Acme Root,O=Acme`. */
  subject?: string;
  /** URI SAN of the CA certificate; default `spiffe://<td>`, `null` for none. */
  uri?: string | null;
  pathLen?: number;
  nameConstraints?: NameConstraintsSpec;
  /** Any further extensions (e.g. an unknown critical one: `TestCa.extension('1.2.3.4', true)`). */
  extensions?: x509.Extension[];
}

export interface CreateCaOptions extends CertKnobs {
  trustDomain: string;
  /** Base clock for default validity windows. */
  now?: Date;
}

export interface IntermediateOptions extends CertKnobs {
  /** Default true; false issues a non-CA "intermediate". */
  ca?: boolean;
  /** Default true. */
  keyCertSign?: boolean;
  /** Issue the intermediate with no keyUsage extension at all. */
  omitKeyUsage?: boolean;
  omitAki?: boolean;
}

export interface SvidOptions {
  /** The SPIFFE ID; default `spiffe://<td>/workload`. Ignored when `uris` is given. */
  id?: string;
  /** Exact URI SANs (none, several, non-SPIFFE…). */
  uris?: string[];
  dnsNames?: string[];
  subject?: string;
  keyAlg?: KeyAlg;
  notBefore?: Date;
  notAfter?: Date;
  /** basicConstraints cA; default false. */
  isCa?: boolean;
  /** Key usage bits (see `KeyUsage`); default digitalSignature|keyEncipherment|keyAgreement; `null` omits the extension. */
  keyUsage?: number | null;
  /** EKU OIDs; default serverAuth+clientAuth; `null` omits the extension. */
  ekus?: string[] | null;
  omitAki?: boolean;
  /** Put this CA's SKI in the AKI (a lie: the signature is still ours). */
  forgeAkiFrom?: TestCa;
  extensions?: x509.Extension[];
}

export interface IssuedSvid {
  id: string | undefined;
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  /** Leaf + intermediates (no root), PEM. */
  chainPem: string;
  certDer: Buffer;
  keyDer: Buffer;
  /** Leaf + intermediates (no root), DER: what a peer presents. */
  chain: Buffer[];
  certificate: NodeX509Certificate;
}

let serialCounter = 0x1000;
function nextSerial(): string {
  const hex = (serialCounter++).toString(16);
  return hex.length % 2 === 0 ? hex : `0${hex}`;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export class TestCa {
  readonly trustDomain: string;
  readonly now: Date;
  readonly parent: TestCa | undefined;
  readonly certificate: NodeX509Certificate;
  readonly certDer: Buffer;
  readonly certPem: string;
  readonly keys: CryptoKeyPair;
  readonly keyAlg: KeyAlg;
  /** Hex SKI of this CA's certificate. */
  readonly ski: string;
  /** Subject DN string as given to the generator. */
  readonly subject: string;

  private constructor(init: {
    trustDomain: string;
    now: Date;
    parent: TestCa | undefined;
    cert: x509.X509Certificate;
    keys: CryptoKeyPair;
    keyAlg: KeyAlg;
    ski: string;
    subject: string;
  }) {
    this.trustDomain = init.trustDomain;
    this.now = init.now;
    this.parent = init.parent;
    this.certDer = Buffer.from(init.cert.rawData);
    this.certificate = new NodeX509Certificate(this.certDer);
    this.certPem = init.cert.toString('pem') + '\n';
    this.keys = init.keys;
    this.keyAlg = init.keyAlg;
    this.ski = init.ski;
    this.subject = init.subject;
  }

  /** A self-signed root CA for `trustDomain`. Call twice for root rotation. */
  static async create(opts: CreateCaOptions): Promise<TestCa> {
    const now = opts.now ?? new Date();
    const keyAlg = opts.keyAlg ?? 'P-256';
    const keys = await generateKeys(keyAlg);
    const subject = opts.subject ?? `CN=${opts.trustDomain} root ${nextSerial()},O=Parley Test`;
    const ski = await skiOf(keys.publicKey);
    const extensions = [
      new x509.BasicConstraintsExtension(true, opts.pathLen, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.SubjectKeyIdentifierExtension(ski),
      ...caExtensions(opts, opts.trustDomain),
    ];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject,
      issuer: subject,
      notBefore: opts.notBefore ?? new Date(now.getTime() - DAY),
      notAfter: opts.notAfter ?? new Date(now.getTime() + 365 * DAY),
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: signingAlgorithm(keyAlg),
      extensions,
    });
    return new TestCa({ trustDomain: opts.trustDomain, now, parent: undefined, cert, keys, keyAlg, ski, subject });
  }

  /** A raw extension, e.g. an unknown critical one. */
  static extension(oid: string, critical: boolean, value: Uint8Array = new Uint8Array([0x05, 0x00])): x509.Extension {
    return new x509.Extension(oid, critical, value);
  }

  /** The top of this CA's hierarchy. */
  get root(): TestCa {
    return this.parent === undefined ? this : this.parent.root;
  }

  /** What a leaf issued by this CA presents after itself: this CA and its parents, root excluded. */
  get chainDer(): Buffer[] {
    return this.parent === undefined ? [] : [this.certDer, ...this.parent.chainDer];
  }

  /** PKCS#8 PEM of this CA's private key. */
  async keyPem(): Promise<string> {
    return pkcs8Pem(this.keys.privateKey);
  }

  /** An intermediate CA signed by this CA (same trust domain unless `uri` says otherwise). */
  async intermediate(opts: IntermediateOptions = {}): Promise<TestCa> {
    const keyAlg = opts.keyAlg ?? 'P-256';
    const keys = await generateKeys(keyAlg);
    const subject = opts.subject ?? `CN=${this.trustDomain} intermediate ${nextSerial()},O=Parley Test`;
    const ski = await skiOf(keys.publicKey);
    let ku = x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature;
    if (opts.keyCertSign !== false) ku |= x509.KeyUsageFlags.keyCertSign;
    const extensions = [
      new x509.BasicConstraintsExtension(opts.ca !== false, opts.ca === false ? undefined : opts.pathLen, true),
      ...(opts.omitKeyUsage ? [] : [new x509.KeyUsagesExtension(ku, true)]),
      new x509.SubjectKeyIdentifierExtension(ski),
      ...(opts.omitAki ? [] : [new x509.AuthorityKeyIdentifierExtension(this.ski)]),
      ...caExtensions(opts, this.trustDomain),
    ];
    const cert = await this.sign(subject, keys.publicKey, extensions, {
      notBefore: opts.notBefore ?? new Date(this.now.getTime() - HOUR),
      notAfter: opts.notAfter ?? new Date(this.now.getTime() + 30 * DAY),
    });
    return new TestCa({ trustDomain: this.trustDomain, now: this.now, parent: this, cert, keys, keyAlg, ski, subject });
  }

  /** An X509-SVID signed by this CA. */
  async issueSvid(opts: SvidOptions = {}): Promise<IssuedSvid> {
    const keyAlg = opts.keyAlg ?? 'P-256';
    const keys = await generateKeys(keyAlg);
    const id = opts.uris === undefined ? (opts.id ?? `spiffe://${this.trustDomain}/workload`) : undefined;
    const uris = opts.uris ?? [id as string];
    const names: x509.JsonGeneralNames = [
      ...uris.map((value) => ({ type: 'url' as const, value })),
      ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ];
    const ku =
      opts.keyUsage === undefined
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement
        : opts.keyUsage;
    const ekus = opts.ekus === undefined ? [Eku.serverAuth, Eku.clientAuth] : opts.ekus;
    const aki = opts.forgeAkiFrom?.ski ?? (opts.omitAki ? undefined : this.ski);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(opts.isCa === true, undefined, true),
      ...(ku === null ? [] : [new x509.KeyUsagesExtension(ku, true)]),
      ...(ekus === null ? [] : [new x509.ExtendedKeyUsageExtension(ekus, false)]),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      new x509.SubjectKeyIdentifierExtension(await skiOf(keys.publicKey)),
      ...(aki === undefined ? [] : [new x509.AuthorityKeyIdentifierExtension(aki)]),
      ...(opts.extensions ?? []),
    ];
    const cert = await this.sign(opts.subject ?? 'O=Parley Test SVID', keys.publicKey, extensions, {
      notBefore: opts.notBefore ?? new Date(this.now.getTime() - 5 * 60_000),
      notAfter: opts.notAfter ?? new Date(this.now.getTime() + HOUR),
    });
    const certDer = Buffer.from(cert.rawData);
    const keyDer = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
    const chain = [certDer, ...this.chainDer];
    return {
      id,
      certPem: toPem('CERTIFICATE', certDer),
      keyPem: toPem('PRIVATE KEY', keyDer),
      chainPem: chain.map((der) => toPem('CERTIFICATE', der)).join(''),
      certDer,
      keyDer,
      chain,
      certificate: new NodeX509Certificate(certDer),
    };
  }

  /** PEM of this hierarchy's root: the trust bundle for its trust domain. */
  bundlePem(): string {
    return this.root.certPem;
  }

  /** PEM of several CAs' certificates (e.g. two roots during rotation). */
  static bundlePem(...cas: TestCa[]): string {
    return cas.map((ca) => ca.certPem).join('');
  }

  /** SPIFFE bundle JSON with these CAs' certificates as x509-svid entries. */
  static spiffeBundleJson(
    cas: TestCa[],
    opts: { sequence?: number | bigint; refreshHint?: number; extraKeys?: object[] } = {},
  ): string {
    const keys: object[] = cas.map((ca) => ({
      use: 'x509-svid',
      ...ca.certificate.publicKey.export({ format: 'jwk' }),
      x5c: [ca.certDer.toString('base64')],
    }));
    keys.push(...(opts.extraKeys ?? []));
    const head: string[] = [];
    if (opts.sequence !== undefined) head.push(`"spiffe_sequence":${opts.sequence.toString()}`);
    if (opts.refreshHint !== undefined) head.push(`"spiffe_refresh_hint":${opts.refreshHint}`);
    head.push(`"keys":${JSON.stringify(keys)}`);
    return `{${head.join(',')}}`;
  }

  /** SPIFFE bundle JSON with this hierarchy's root. */
  spiffeBundleJson(opts: { sequence?: number | bigint; refreshHint?: number; extraKeys?: object[] } = {}): string {
    return TestCa.spiffeBundleJson([this.root], opts);
  }

  private async sign(
    subject: string,
    publicKey: CryptoKey,
    extensions: x509.Extension[],
    validity: { notBefore: Date; notAfter: Date },
  ): Promise<x509.X509Certificate> {
    return x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject,
      issuer: this.subject,
      ...validity,
      publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: signingAlgorithm(this.keyAlg),
      extensions,
    });
  }
}

function caExtensions(opts: CertKnobs, trustDomain: string): x509.Extension[] {
  const out: x509.Extension[] = [];
  const uri = opts.uri === undefined ? `spiffe://${trustDomain}` : opts.uri;
  if (uri !== null) out.push(new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }], false));
  if (opts.nameConstraints !== undefined) out.push(nameConstraintsExtension(opts.nameConstraints));
  out.push(...(opts.extensions ?? []));
  return out;
}

function nameConstraintsExtension(spec: NameConstraintsSpec): x509.Extension {
  const subtrees = (names: asn1.GeneralName[]): asn1.GeneralSubtrees | undefined =>
    names.length === 0 ? undefined : new asn1.GeneralSubtrees(names.map((base) => new asn1.GeneralSubtree({ base })));
  const permitted = [
    ...(spec.permittedUris ?? []).map((u) => new asn1.GeneralName({ uniformResourceIdentifier: u })),
    ...(spec.permittedDns ?? []).map((d) => new asn1.GeneralName({ dNSName: d })),
  ];
  const excluded = [
    ...(spec.excludedUris ?? []).map((u) => new asn1.GeneralName({ uniformResourceIdentifier: u })),
    ...(spec.excludedDns ?? []).map((d) => new asn1.GeneralName({ dNSName: d })),
  ];
  let der = AsnConvert.serialize(
    new asn1.NameConstraints({ permittedSubtrees: subtrees(permitted), excludedSubtrees: subtrees(excluded) }),
  );
  if (spec.permittedIps !== undefined && spec.permittedIps.length > 0) {
    der = rawIpNameConstraints(spec.permittedIps);
  }
  return new x509.Extension(asn1.id_ce_nameConstraints, true, der);
}

/** NameConstraints { permittedSubtrees [0] { GeneralSubtree { [7] ip||mask } … } }, hand-encoded. */
function rawIpNameConstraints(ips: Uint8Array[]): ArrayBuffer {
  const tlv = (tag: number, body: Uint8Array): Uint8Array => Uint8Array.from([tag, body.length, ...body]);
  const subtrees = ips.map((ip) => tlv(0x30, tlv(0x87, ip)));
  const permitted = tlv(0xa0, Uint8Array.from(subtrees.flatMap((s) => [...s])));
  const out = tlv(0x30, permitted);
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
}

async function generateKeys(alg: KeyAlg): Promise<CryptoKeyPair> {
  if (alg === 'RSA') {
    return (await subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
  }
  return (await subtle.generateKey({ name: 'ECDSA', namedCurve: alg }, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function signingAlgorithm(alg: KeyAlg): webcrypto.Algorithm | webcrypto.EcdsaParams {
  if (alg === 'RSA') return { name: 'RSASSA-PKCS1-v1_5' };
  return { name: 'ECDSA', hash: alg === 'P-384' ? 'SHA-384' : 'SHA-256' } as webcrypto.EcdsaParams;
}

async function skiOf(publicKey: CryptoKey): Promise<string> {
  const spki = new Uint8Array(await subtle.exportKey('spki', publicKey));
  const digest = await subtle.digest('SHA-1', spki);
  return Buffer.from(digest).toString('hex');
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', Buffer.from(await subtle.exportKey('pkcs8', key)));
}

function toPem(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}
