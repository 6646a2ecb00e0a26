import { requireSpiffeId } from '../spiffe';
import type { PeerIdentity } from '../tls/peer-identity';
import { RateLimiter } from './rate-limiter';

function peer(id: string): PeerIdentity {
  const spiffeId = requireSpiffeId(id);
  return { id: spiffeId, spiffeId: spiffeId.toString(), trustDomain: spiffeId.trustDomain, fingerprint256: '', serial: '01', notAfter: new Date(0), remoteAddress: '127.0.0.1', remotePort: 1 };
}

describe('RateLimiter', () => {
  const a = peer('spiffe://partner.example/ns/ml/a');
  const b = peer('spiffe://partner.example/ns/ml/b');
  const other = peer('spiffe://other.example/ns/ml/a');

  it('is off by default', () => {
    const limiter = RateLimiter.fromConfig({ perSpiffeId: { requestsPerSecond: 0, burst: 50 }, perTrustDomain: { requestsPerSecond: 0, burst: 500 }, maxTracked: 100 });
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(limiter.limitedReason(a, 0)).toBeUndefined();
  });

  it('limits per SPIFFE ID and per trust domain, naming the limit that refused', () => {
    const limiter = new RateLimiter({ perSpiffeId: { ratePerSecond: 1, burst: 2 }, perTrustDomain: { ratePerSecond: 1, burst: 3 }, maxTracked: 100 });
    expect([limiter.limitedReason(a, 0), limiter.limitedReason(a, 0)]).toEqual([undefined, undefined]);
    expect(limiter.limitedReason(a, 0)).toMatch(/^rate limit of spiffe id spiffe:\/\/partner\.example\/ns\/ml\/a exceeded/);
    expect(limiter.limitedReason(b, 0)).toBeUndefined(); // the refused call of a did not spend the trust domain's third token
    expect(limiter.limitedReason(b, 0)).toMatch(/^rate limit of trust domain partner\.example exceeded/);
    expect(limiter.limitedReason(other, 0)).toBeUndefined();
    expect(limiter.limitedReason(b, 1000)).toBeUndefined(); // one second later: one token each
    expect(limiter.tracked).toEqual({ spiffeIds: 3, trustDomains: 2 });
  });
});
