import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { requireSpiffeId, requireTrustDomain, X509Bundle } from '../spiffe';
import { TrustStore } from '../trust/trust-store';
import { DevCa } from './dev-ca/dev-ca';
import { DevCaSource } from './dev-ca/dev-ca-source';
import { IdentityMonitor } from './identity-monitor';

const td = requireTrustDomain('acme.test');

async function devSource(svidTtlMs = 3_600_000) {
  const ca = await DevCa.open({ dir: join(mkdtempSync(join(tmpdir(), 'monitor-')), 'ca'), trustDomain: td, caTtlMs: 86_400_000, svidTtlMs, publishLeadMs: 3_600_000 });
  return new DevCaSource({ ca, spiffeId: requireSpiffeId('spiffe://acme.test/parley/gateway') });
}

describe('IdentityMonitor', () => {
  it('feeds the own bundle into the trust store, answers readiness and exports the expiry', async () => {
    const source = await devSource();
    const store = new TrustStore();
    const metrics = new Registry();
    const notReady = new IdentityMonitor(source, store, { expiryWarningMs: 60_000, logger: pino({ level: 'silent' }), metrics });
    expect(notReady.readiness()).toMatchObject({ ok: false, reason: expect.stringContaining('no X509-SVID yet from dev-ca') });
    notReady.stop();

    await source.start();
    const monitor = new IdentityMonitor(source, store, { expiryWarningMs: 60_000, logger: pino({ level: 'silent' }), metrics: new Registry() });
    try {
      expect(store.getX509Authorities(td)).toHaveLength(1);
      expect(monitor.readiness()).toMatchObject({ ok: true });
      await source.renew(); // a renewal with the same CA does not change the trust store
      expect(store.generation).toBe(1);
    } finally {
      monitor.stop();
      await source.stop();
    }
    expect(await metrics.getSingleMetricAsString('parley_svid_expiry_seconds')).toMatch(/parley_svid_expiry_seconds \d+/);
  });

  it('removes federated bundles the source stops sending, and never the ones it did not send', async () => {
    const source = await devSource();
    await source.start();
    const store = new TrustStore();
    const partner = requireTrustDomain('partner.test');
    const other = requireTrustDomain('other.test');
    const somePem = source.current()!.bundles.get(td)!.x509Bundle().toPem();
    store.set(X509Bundle.parsePem(other, somePem)); // e.g. from federation, not from the source
    const monitor = new IdentityMonitor(source, store, { expiryWarningMs: 60_000, logger: pino({ level: 'silent' }), metrics: new Registry() });
    try {
      const s = source.current()!;
      const withPartner = s.bundles.clone();
      withPartner.set(X509Bundle.parsePem(partner, somePem));
      (monitor as unknown as { apply(x: unknown): void }).apply({ ...s, bundles: withPartner });
      expect(store.get(partner)).toBeDefined();
      (monitor as unknown as { apply(x: unknown): void }).apply(s);
      expect(store.get(partner)).toBeUndefined();
      expect(store.get(other)).toBeDefined();
    } finally {
      monitor.stop();
      await source.stop();
    }
  });
});

describe('IdentityMonitor expiry warning', () => {
  it('warns once per SVID when expiry is near and renewal keeps failing, and not while renewal works', async () => {
    const source = await devSource(60_000); // SVIDs live 1 minute: always "near" a 10-minute warning window
    await source.start();
    const warnings: unknown[] = [];
    const logger = pino({ level: 'silent' });
    logger.warn = ((obj: unknown) => void warnings.push(obj)) as typeof logger.warn;
    const monitor = new IdentityMonitor(source, new TrustStore(), { expiryWarningMs: 600_000, logger, metrics: new Registry() });
    const check = () => (monitor as unknown as { checkExpiry(): void }).checkExpiry();
    try {
      check();
      expect(warnings).toHaveLength(0); // renewal is not failing
      (source as unknown as { fail(m: string): void }).fail('dev ca: renewal failed: disk full');
      check();
      check();
      expect(warnings).toEqual([expect.objectContaining({ id: 'spiffe://acme.test/parley/gateway', lastError: 'dev ca: renewal failed: disk full' })]);
    } finally {
      monitor.stop();
      await source.stop();
    }
  });
});
