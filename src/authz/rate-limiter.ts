/**
 * Call rate limits per caller SPIFFE ID and per caller trust domain (config
 * `authz.rateLimit`), checked after authentication and authorization so an anonymous flood
 * never spends a partner's budget. In memory and per replica: N replicas admit up to N
 * times the configured rate.
 *
 * A call takes one token from its SPIFFE ID bucket and one from its trust-domain bucket, or
 * none: when either bucket is empty the call is refused and neither is charged, so a
 * trust domain at its limit does not drain its workloads' own budgets, and one workload at
 * its limit does not spend tokens of the trust domain that its siblings could use.
 */
import type { AuthzConfig } from '../config';
import type { PeerIdentity } from '../tls';
import { BucketTable, takeAll, type BucketSpec } from './domain/rate-limit';
import type { RateLimitCheck } from './ports';

export interface RateLimiterOptions {
  perSpiffeId: BucketSpec;
  perTrustDomain: BucketSpec;
  /** Most buckets kept per limit. */
  maxTracked: number;
}

export class RateLimiter implements RateLimitCheck {
  private readonly byId: BucketTable;
  private readonly byTrustDomain: BucketTable;

  constructor(o: RateLimiterOptions) {
    this.byId = new BucketTable(o.perSpiffeId, o.maxTracked);
    this.byTrustDomain = new BucketTable(o.perTrustDomain, o.maxTracked);
    this.pairs = [
      { table: this.byId, key: '' },
      { table: this.byTrustDomain, key: '' },
    ];
  }

  static fromConfig(config: AuthzConfig['rateLimit']): RateLimiter {
    return new RateLimiter({
      perSpiffeId: { ratePerSecond: config.perSpiffeId.requestsPerSecond, burst: config.perSpiffeId.burst },
      perTrustDomain: { ratePerSecond: config.perTrustDomain.requestsPerSecond, burst: config.perTrustDomain.burst },
      maxTracked: config.maxTracked,
    });
  }

  /** Whether any limit is configured (the interceptor may skip the call otherwise). */
  get enabled(): boolean {
    return this.byId.enabled || this.byTrustDomain.enabled;
  }

  /** Buckets currently kept (for metrics and tests). */
  get tracked(): { spiffeIds: number; trustDomains: number } {
    return { spiffeIds: this.byId.size, trustDomains: this.byTrustDomain.size };
  }

  /** The two (table, key) pairs of a call, reused: takeAll only reads them. */
  private readonly pairs: [{ table: BucketTable; key: string }, { table: BucketTable; key: string }];

  private tables(peer: PeerIdentity): ReadonlyArray<{ table: BucketTable; key: string }> {
    this.pairs[0].key = peer.id.toString();
    this.pairs[1].key = peer.trustDomain.name;
    return this.pairs;
  }

  limitedReason(peer: PeerIdentity, nowMs: number): string | undefined {
    if (!this.enabled) return undefined;
    const refused = takeAll(this.tables(peer), nowMs);
    if (refused === 0) return `rate limit of spiffe id ${peer.id.toString()} exceeded (${this.byId.spec.ratePerSecond}/s, burst ${this.byId.spec.burst})`;
    if (refused === 1) return `rate limit of trust domain ${peer.trustDomain.name} exceeded (${this.byTrustDomain.spec.ratePerSecond}/s, burst ${this.byTrustDomain.spec.burst})`;
    return undefined;
  }
}
