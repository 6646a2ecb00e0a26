import type { X509Certificate } from 'node:crypto';
import { BundleSet, type SpiffeBundle, type TrustDomain, type X509Bundle, type X509BundleSource } from '../spiffe';

export type TrustChange = { kind: 'set' | 'removed'; trustDomain: TrustDomain };

/**
 * The bundles the gateway trusts, per trust domain (own + federated), with change events.
 * Identity sources feed the own domain (and Workload API federated bundles); federation
 * feeds partners. TLS listeners verify each peer against the bundle of the peer's own trust
 * domain through `getX509Authorities`; `allX509Authorities` is only the handshake pre-filter.
 */
export class TrustStore implements X509BundleSource {
  private bundles = new BundleSet();
  private readonly listeners = new Set<(change: TrustChange) => void>();
  private version = 0;

  /** Replaces the bundle of one trust domain. No event when nothing changed. */
  set(bundle: SpiffeBundle | X509Bundle): void {
    const previous = this.bundles.get(bundle.trustDomain);
    const next = this.bundles.clone();
    next.set(bundle);
    const now = next.get(bundle.trustDomain);
    if (previous && now && previous.equals(now)) return;
    this.bundles = next;
    this.version++;
    this.emit({ kind: 'set', trustDomain: bundle.trustDomain });
  }

  remove(td: TrustDomain): void {
    if (!this.bundles.has(td)) return;
    const next = this.bundles.clone();
    next.delete(td);
    this.bundles = next;
    this.version++;
    this.emit({ kind: 'removed', trustDomain: td });
  }

  get(td: TrustDomain): SpiffeBundle | undefined {
    return this.bundles.get(td);
  }

  getX509Authorities(td: TrustDomain): readonly X509Certificate[] | undefined {
    return this.bundles.getX509Authorities(td);
  }

  /** For the TLS `ca` option only: a handshake pre-filter, never a verification source. */
  allX509Authorities(): X509Certificate[] {
    return this.bundles.allX509Authorities();
  }

  trustDomains(): TrustDomain[] {
    return this.bundles.trustDomains();
  }

  /** Monotonic counter of changes, for cheap "did anything change" checks. */
  get generation(): number {
    return this.version;
  }

  onChange(listener: (change: TrustChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: TrustChange): void {
    for (const l of [...this.listeners]) l(change);
  }
}
