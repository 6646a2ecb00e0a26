/**
 * JWT bundle in the Workload API format: a plain JWK Set whose entries are JWT authorities
 * keyed by `kid`; `use` is ignored. Like go-spiffe `jwtbundle.Parse` this format is strict:
 * an entry without `kid`, with a duplicate `kid` or with an unusable key rejects the whole
 * document (unlike SPIFFE bundles, CONFORMANCE §3, where such entries are skipped).
 */
import { SpiffeError } from './errors';
import { importPublicJwk, publicJwk, SUPPORTED_KTY } from './jwk';
import { parseJsonObject } from './bundle-metadata';
import { ReadonlyMapView } from './readonly-map';
import { JwtAuthority } from './spiffe-bundle';
import { TrustDomain } from './spiffe-id';

export class JwtBundle {
  readonly trustDomain: TrustDomain;
  readonly authorities: ReadonlyMap<string, JwtAuthority>;

  private constructor(td: TrustDomain, authorities: Map<string, JwtAuthority>) {
    this.trustDomain = td;
    this.authorities = new ReadonlyMapView(authorities);
    Object.freeze(this);
  }

  /** @throws SpiffeError `malformed_bundle` only */
  static parse(json: string | Uint8Array, td: TrustDomain): JwtBundle {
    if (!(td instanceof TrustDomain)) throw new TypeError('jwt bundle: trust domain must be a TrustDomain');
    const fail = (why: string, index?: number): SpiffeError =>
      new SpiffeError('malformed_bundle', `cannot parse jwt bundle: ${why}`, { trustDomain: td.name, index });
    const { members } = parseJsonObject(json, fail);
    const keys = members.keys;
    if (!Array.isArray(keys)) throw fail('"keys" is missing or not an array');
    const authorities = new Map<string, JwtAuthority>();
    keys.forEach((entry: unknown, index: number) => {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw fail('entry is not an object', index);
      const e = entry as Record<string, unknown>;
      if (typeof e.kid !== 'string' || e.kid.length === 0) throw fail(`authority ${index} has no kid`, index);
      if (authorities.has(e.kid)) throw fail(`duplicate kid ${JSON.stringify(e.kid)}`, index);
      if (typeof e.kty !== 'string' || !SUPPORTED_KTY.has(e.kty)) throw fail(`authority ${index} has an unknown kty`, index);
      const key = importPublicJwk(e);
      if (typeof key === 'string') throw fail(`authority ${index}: ${key}`, index);
      authorities.set(e.kid, Object.freeze({ keyId: e.kid, publicKey: key, jwk: publicJwk(key) }));
    });
    return new JwtBundle(td, authorities);
  }
}
