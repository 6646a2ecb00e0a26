import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { GrantVerifier } from '../authz';
import { lastSuccessByTrustDomain, partnerTrustDomain, SyncMetrics } from './sync-metrics';
import type { SyncRepository } from './sync.repository';

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('SyncMetrics', () => {
  it('names a partner by its trust domain, and keeps the latest success of its gateways in seconds', () => {
    expect(partnerTrustDomain('spiffe://acme.test/parley/gateway')).toBe('acme.test');
    expect(partnerTrustDomain('not an id')).toBe('not an id');
    const byPartner = new Map([
      ['spiffe://acme.test/a', 5_000],
      ['spiffe://acme.test/b', 9_000],
      ['spiffe://other.test/a', 1_000],
    ]);
    expect(lastSuccessByTrustDomain(byPartner)).toEqual(new Map([['acme.test', 9], ['other.test', 1]]));
  });

  it('reads syncs by status on scrape (every status present), and keeps the last values when the query fails', async () => {
    const registry = new Registry();
    const metrics = new SyncMetrics(registry);
    const snapshot = jest.fn().mockResolvedValueOnce({ byStatus: new Map([['COMPLETED', 2]]), lastSuccess: new Map([['spiffe://acme.test/g', 3_000]]) });
    snapshot.mockRejectedValueOnce(new Error('database down'));
    const debug = jest.fn();
    metrics.readFrom({ metricsSnapshot: snapshot } as unknown as SyncRepository, { debug } as unknown as Logger);

    await registry.metrics();
    expect(await value(registry, 'parley_sync_syncs', { status: 'COMPLETED' })).toBe(2);
    expect(await value(registry, 'parley_sync_syncs', { status: 'PENDING' })).toBe(0);
    expect(await value(registry, 'parley_sync_last_success_timestamp_seconds', { partner_trust_domain: 'acme.test' })).toBe(3);

    const text = await registry.metrics();
    expect(text).toContain('parley_sync_syncs{status="COMPLETED"} 2');
    expect(text).toContain('parley_sync_last_success_timestamp_seconds{partner_trust_domain="acme.test"} 3');
    expect(debug).toHaveBeenCalled();
  });

  it('counts the grants the wrapped verifier accepts (used) and refuses (rejected), passing both through', async () => {
    const registry = new Registry();
    const metrics = new SyncMetrics(registry);
    const grant = { id: 'j', allows: () => true };
    const verifier: GrantVerifier = { verify: (token) => { if (token === 'bad') throw new Error('expired'); return grant; } };
    const counted = metrics.counted(verifier);
    const peer = {} as Parameters<GrantVerifier['verify']>[1];

    expect(counted.verify('good', peer, 0)).toBe(grant);
    expect(() => counted.verify('bad', peer, 0)).toThrow('expired');
    metrics.grantEvents().issued?.({} as never, {} as never);
    expect(await value(registry, 'parley_sync_grants_total', { result: 'used' })).toBe(1);
    expect(await value(registry, 'parley_sync_grants_total', { result: 'rejected' })).toBe(1);
    expect(await value(registry, 'parley_sync_grants_total', { result: 'issued' })).toBe(1);
  });
});
