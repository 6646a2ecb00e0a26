/**
 * Bundles of several trust domains, keyed by trust domain name. Setting a bundle replaces
 * that trust domain's previous one; bundles are never merged. Bundles are immutable, so
 * what `get` returns is a stable snapshot.
 */
import { X509Certificate } from 'node:crypto';
import { JwtAuthority, SpiffeBundle } from './spiffe-bundle';
import { TrustDomain } from './spiffe-id';
import { X509BundleSource } from './verify';
import { X509Bundle } from './x509-bundle';

export class BundleSet implements X509BundleSource {
  readonly #bundles = new Map<string, SpiffeBundle>();

  constructor(bundles: Iterable<SpiffeBundle | X509Bundle> = []) {
    for (const bundle of bundles) this.set(bundle);
  }

  /** Replaces the bundle of `bundle.trustDomain`. An X509Bundle is stored without JWT keys or metadata. */
  set(bundle: SpiffeBundle | X509Bundle): void {
    const spiffe = bundle instanceof X509Bundle ? SpiffeBundle.fromX509Bundle(bundle) : bundle;
    if (!(spiffe instanceof SpiffeBundle)) throw new TypeError('bundle set: expected a SpiffeBundle or X509Bundle');
    this.#bundles.set(spiffe.trustDomain.name, spiffe);
  }

  get(td: TrustDomain): SpiffeBundle | undefined {
    return this.#bundles.get(td.name);
  }

  has(td: TrustDomain): boolean {
    return this.#bundles.has(td.name);
  }

  delete(td: TrustDomain): boolean {
    return this.#bundles.delete(td.name);
  }

  get size(): number {
    return this.#bundles.size;
  }

  /** Trust domains with a bundle, sorted by name. */
  trustDomains(): TrustDomain[] {
    return [...this.#bundles.values()].map((b) => b.trustDomain).sort((a, b) => a.compare(b));
  }

  /** The X.509 authorities of exactly `td` (frozen), or `undefined` when `td` has no bundle. */
  getX509Authorities(td: TrustDomain): readonly X509Certificate[] | undefined {
    return this.#bundles.get(td.name)?.x509Authorities;
  }

  getJwtAuthority(td: TrustDomain, keyId: string): JwtAuthority | undefined {
    return this.#bundles.get(td.name)?.jwtAuthorities.get(keyId);
  }

  /**
   * Every X.509 authority of every trust domain, for the TLS `ca` option ONLY: a coarse
   * pre-filter during the handshake. NEVER use it to verify a peer: it would let a partner's
   * CA vouch for IDs in another trust domain. Verify with `verifyX509Svid(chain, this, …)`.
   */
  allX509Authorities(): X509Certificate[] {
    const out: X509Certificate[] = [];
    for (const bundle of this.#bundles.values()) out.push(...bundle.x509Authorities);
    return out;
  }

  /** A shallow copy (bundles are immutable and shared). */
  clone(): BundleSet {
    return new BundleSet(this.#bundles.values());
  }
}
