/**
 * SPIFFE bundle: the JWK Set document a trust domain publishes (CONFORMANCE §3).
 *
 * Consuming is lenient per entry (DECIDED): entries with unknown/missing `use`, unknown
 * `kty`, a jwt-svid entry without `kid`, or an x509-svid entry whose first `x5c`
 * certificate is missing, malformed or does not match the entry's key are skipped and
 * listed in `skipped`. The document as a whole is strict: invalid JSON, a non-object, a
 * missing or non-array `keys`, or an invalid `spiffe_sequence` / `spiffe_refresh_hint`
 * throws `malformed_bundle` (the caller keeps its last good bundle).
 *
 * Producing is strict: one `x5c` per x509-svid entry with key parameters derived from the
 * certificate, `kid` on every jwt-svid entry, and always `spiffe_sequence` and
 * `spiffe_refresh_hint` (`serialize` refuses a bundle without them).
 */
import { KeyObject, X509Certificate } from 'node:crypto';
import { checkMetadata, MAX_SEQUENCE, parseJsonObject, readUnsigned } from './bundle-metadata';
import { certificateFromDer } from './certificates';
import { SpiffeError } from './errors';
import { importPublicJwk, PublicJwk, publicJwk, SUPPORTED_KTY } from './jwk';
import { decodeStrictBase64 } from './pem';
import { ReadonlyMapView } from './readonly-map';
import { TrustDomain } from './spiffe-id';
import { sameCertificateSet, X509Bundle } from './x509-bundle';

export interface JwtAuthority {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  /** Canonical public key parameters (kty, crv, x, y / n, e). */
  readonly jwk: PublicJwk;
}

export interface BundleSkip {
  /** Position in the document's `keys` array. */
  readonly index: number;
  readonly reason: string;
}

export interface BundleMetadata {
  /** `spiffe_sequence`, an unsigned 64-bit integer. */
  readonly sequence: bigint;
  /** `spiffe_refresh_hint`, in seconds. */
  readonly refreshHint: number;
}

export class SpiffeBundle {
  readonly trustDomain: TrustDomain;
  readonly x509Authorities: readonly X509Certificate[];
  readonly jwtAuthorities: ReadonlyMap<string, JwtAuthority>;
  readonly sequence: bigint | undefined;
  /** Seconds. */
  readonly refreshHint: number | undefined;
  /** Entries of the parsed document that were skipped, and why. Empty for built bundles. */
  readonly skipped: readonly BundleSkip[];

  private constructor(
    td: TrustDomain,
    x509: readonly X509Certificate[],
    jwt: ReadonlyMap<string, JwtAuthority>,
    meta: Partial<BundleMetadata>,
    skipped: readonly BundleSkip[],
  ) {
    this.trustDomain = td;
    this.x509Authorities = Object.freeze([...x509]);
    this.jwtAuthorities = new ReadonlyMapView(jwt);
    this.sequence = meta.sequence;
    this.refreshHint = meta.refreshHint;
    this.skipped = Object.freeze(skipped.map((s) => Object.freeze({ ...s })));
    Object.freeze(this);
  }

  /**
   * Parses a SPIFFE bundle document for `td`.
   * @throws SpiffeError `malformed_bundle` only
   */
  static parse(json: string | Uint8Array, td: TrustDomain): SpiffeBundle {
    if (!(td instanceof TrustDomain)) throw new TypeError('spiffe bundle: trust domain must be a TrustDomain');
    const fail = (why: string): SpiffeError =>
      new SpiffeError('malformed_bundle', `cannot parse spiffe bundle: ${why}`, { trustDomain: td.name });
    const { text, members } = parseJsonObject(json, fail);
    if (!Object.hasOwn(members, 'keys')) throw fail('"keys" is missing');
    const keys = members.keys;
    if (!Array.isArray(keys)) throw fail('"keys" is not an array');
    const sequence = readUnsigned(members, text, 'spiffe_sequence', MAX_SEQUENCE, fail);
    const hint = readUnsigned(members, text, 'spiffe_refresh_hint', BigInt(Number.MAX_SAFE_INTEGER), fail);

    const x509: X509Certificate[] = [];
    const fingerprints = new Set<string>();
    const jwt = new Map<string, JwtAuthority>();
    const skipped: BundleSkip[] = [];
    keys.forEach((entry: unknown, index: number) => {
      const result = readEntry(entry);
      if (typeof result === 'string') {
        skipped.push({ index, reason: result });
      } else if (result instanceof X509Certificate) {
        const fingerprint = result.fingerprint256;
        if (fingerprints.has(fingerprint)) {
          skipped.push({ index, reason: 'duplicate x509 authority' });
        } else {
          fingerprints.add(fingerprint);
          x509.push(result);
        }
      } else if (jwt.has(result.keyId)) {
        skipped.push({ index, reason: `duplicate kid ${JSON.stringify(result.keyId)}` });
      } else {
        jwt.set(result.keyId, result);
      }
    });
    const meta = { sequence, refreshHint: hint === undefined ? undefined : Number(hint) };
    return new SpiffeBundle(td, x509, jwt, meta, skipped);
  }

  /**
   * Builds a bundle from X.509 authorities (and optional JWT authorities). Sequence and
   * refresh hint may be given now or later (`withMetadata`); `serialize` requires both.
   */
  static fromX509Authorities(
    td: TrustDomain,
    certs: Iterable<X509Certificate>,
    opts: Partial<BundleMetadata> & { readonly jwtAuthorities?: Iterable<{ keyId: string; publicKey: KeyObject }> } = {},
  ): SpiffeBundle {
    if (opts === null || typeof opts !== 'object') throw new TypeError('spiffe bundle: options must be an object');
    checkMetadata(opts);
    const x509 = X509Bundle.fromAuthorities(td, certs).authorities;
    const jwt = new Map<string, JwtAuthority>();
    for (const { keyId, publicKey } of opts.jwtAuthorities ?? []) {
      if (typeof keyId !== 'string' || keyId.length === 0) throw new TypeError('spiffe bundle: jwt authority needs a kid');
      if (!(publicKey instanceof KeyObject) || publicKey.type !== 'public') {
        throw new TypeError('spiffe bundle: jwt authority key must be a public KeyObject');
      }
      if (jwt.has(keyId)) throw new TypeError(`spiffe bundle: duplicate kid ${keyId}`);
      jwt.set(keyId, Object.freeze({ keyId, publicKey, jwk: publicJwk(publicKey) }));
    }
    return new SpiffeBundle(td, x509, jwt, { sequence: opts.sequence, refreshHint: opts.refreshHint }, []);
  }

  /** The X.509 part of an X509Bundle, without JWT authorities or metadata. */
  static fromX509Bundle(bundle: X509Bundle): SpiffeBundle {
    if (!(bundle instanceof X509Bundle)) throw new TypeError('spiffe bundle: expected an X509Bundle');
    return new SpiffeBundle(bundle.trustDomain, bundle.authorities, new Map(), {}, []);
  }

  /** A copy with new metadata (e.g. the next sequence number before publishing); omitted fields are kept. */
  withMetadata(meta: Partial<BundleMetadata>): SpiffeBundle {
    checkMetadata(meta);
    return new SpiffeBundle(
      this.trustDomain,
      this.x509Authorities,
      this.jwtAuthorities,
      { sequence: meta.sequence ?? this.sequence, refreshHint: meta.refreshHint ?? this.refreshHint },
      [],
    );
  }

  x509Bundle(): X509Bundle {
    return X509Bundle.fromAuthorities(this.trustDomain, this.x509Authorities);
  }

  /**
   * Same trust domain, same X.509 authorities and same JWT authorities (kid and key),
   * ignoring order. Sequence and refresh hint are NOT compared: a re-published bundle with a
   * new sequence but the same keys is equal; compare `sequence` yourself where it matters.
   */
  equals(other: SpiffeBundle): boolean {
    if (!(other instanceof SpiffeBundle) || !this.trustDomain.equals(other.trustDomain)) return false;
    if (!sameCertificateSet(this.x509Authorities, other.x509Authorities)) return false;
    if (this.jwtAuthorities.size !== other.jwtAuthorities.size) return false;
    for (const [kid, authority] of this.jwtAuthorities) {
      const theirs = other.jwtAuthorities.get(kid);
      if (theirs === undefined || !theirs.publicKey.equals(authority.publicKey)) return false;
    }
    return true;
  }

  /**
   * The JSON document, produced strictly (see the file comment).
   * @throws TypeError when sequence or refresh hint is not set (use `withMetadata`)
   */
  serialize(): string {
    if (this.sequence === undefined || this.refreshHint === undefined) {
      throw new TypeError('spiffe bundle: set sequence and refresh hint before serializing (withMetadata)');
    }
    const keys: Record<string, unknown>[] = [];
    for (const cert of this.x509Authorities) {
      keys.push({ use: 'x509-svid', ...publicJwk(cert.publicKey), x5c: [cert.raw.toString('base64')] });
    }
    for (const authority of this.jwtAuthorities.values()) {
      keys.push({ use: 'jwt-svid', kid: authority.keyId, ...authority.jwk });
    }
    return `{"spiffe_sequence":${this.sequence.toString()},"spiffe_refresh_hint":${this.refreshHint},"keys":${JSON.stringify(keys)}}`;
  }
}

/** One `keys` entry: an X.509 authority, a JWT authority, or the reason it is skipped. */
function readEntry(entry: unknown): X509Certificate | JwtAuthority | string {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return 'entry is not a json object';
  const e = entry as Record<string, unknown>;
  if (!Object.hasOwn(e, 'use')) return 'missing use';
  if (e.use !== 'x509-svid' && e.use !== 'jwt-svid') return `unknown use ${short(e.use)}`;
  if (typeof e.kty !== 'string' || !SUPPORTED_KTY.has(e.kty)) return `unknown kty ${short(e.kty)}`;
  if (e.use === 'jwt-svid') {
    if (typeof e.kid !== 'string' || e.kid.length === 0) return 'jwt-svid entry without kid';
    const key = importPublicJwk(e);
    if (typeof key === 'string') return key;
    return Object.freeze({ keyId: e.kid, publicKey: key, jwk: publicJwk(key) });
  }
  if (!Array.isArray(e.x5c) || e.x5c.length === 0) return 'x509-svid entry without x5c';
  const first: unknown = e.x5c[0];
  const der = typeof first === 'string' ? decodeStrictBase64(first) : undefined;
  if (der === undefined) return 'x509-svid entry with malformed x5c';
  let cert: X509Certificate;
  try {
    cert = certificateFromDer(der);
  } catch {
    return 'x509-svid entry with malformed x5c certificate';
  }
  const key = importPublicJwk(e);
  if (typeof key === 'string') return key;
  if (!key.equals(cert.publicKey)) return 'x509-svid entry key does not match its x5c certificate';
  return cert;
}

function short(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
