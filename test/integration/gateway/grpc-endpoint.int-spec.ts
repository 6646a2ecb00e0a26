import { status } from '@grpc/grpc-js';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain, X509Bundle } from '../../../src/spiffe';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { check, healthClient } from '../../support/grpc-health-client';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { httpGet } from '../../support/parley-process';
import { parsePrometheusText } from '../../support/prometheus';
import { TestCa } from '../../support/test-ca';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(60_000);

describe('the gateway data plane: mTLS gRPC on parley serve', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let address: string;
  const gatewayId = requireSpiffeId('spiffe://acme.test/parley/gateway');

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    address = `127.0.0.1:${gw.gateway.listeners.grpc!.port}`;
  });
  afterAll(() => gw?.stop());

  const svidFor = async (id: string) => {
    const issued = await ca.issue(requireSpiffeId(id));
    return { certChainPem: issued.certPem, keyPem: issued.keyPem };
  };

  it('serves a workload of its own trust domain (health SERVING)', async () => {
    const client = healthClient(address, spiffeChannelCredentials({ svid: await svidFor('spiffe://acme.test/ns/ml/sa/trainer'), trust: gw.gateway.get(TrustStore), server: { id: gatewayId } }));
    try {
      expect(await check(client)).toBe('SERVING');
    } finally {
      client.close();
    }
  });

  it('lets a federated partner connect but denies its calls until authorization grants them', async () => {
    const partner = await TestCa.create({ trustDomain: 'partner.test' });
    const partnerTd = requireTrustDomain('partner.test');
    gw.gateway.get(TrustStore).set(X509Bundle.parsePem(partnerTd, partner.bundlePem()));
    const svid = await partner.issueSvid({ id: 'spiffe://partner.test/sync' });
    const trust = { getX509Authorities: (td: typeof partnerTd) => gw.gateway.get(TrustStore).getX509Authorities(td), allX509Authorities: () => gw.gateway.get(TrustStore).allX509Authorities() };
    const client = healthClient(address, spiffeChannelCredentials({ svid: { certChainPem: svid.certPem, keyPem: svid.keyPem }, trust, server: { memberOf: requireTrustDomain('acme.test') } }));
    try {
      await expect(check(client)).rejects.toMatchObject({ code: status.PERMISSION_DENIED, details: 'permission denied' });
    } finally {
      client.close();
      gw.gateway.get(TrustStore).remove(partnerTd);
    }
  });

  it('refuses, and counts, a client whose CA is not trusted for the ID it claims', async () => {
    const foreign = await TestCa.create({ trustDomain: 'acme.test' });
    const svid = await foreign.issueSvid({ id: 'spiffe://acme.test/ns/ml/sa/trainer' });
    const client = healthClient(address, spiffeChannelCredentials({ svid: { certChainPem: svid.certPem, keyPem: svid.keyPem }, trust: gw.gateway.get(TrustStore), server: { id: gatewayId } }));
    try {
      await expect(check(client)).rejects.toMatchObject({ code: status.UNAUTHENTICATED, details: 'client certificate refused: unknown_ca' });
    } finally {
      client.close();
    }
    const metrics = parsePrometheusText((await httpGet(`http://127.0.0.1:${gw.gateway.listeners.ops!.port}/metrics`)).body);
    const refused = metrics.samples.filter((s) => s.name === 'parley_grpc_connections_refused_total').reduce((n, s) => n + s.value, 0);
    expect(refused).toBeGreaterThanOrEqual(1);
  });

  it('fails a client that expects another server identity, with a clear error', async () => {
    const client = healthClient(address, spiffeChannelCredentials({ svid: await svidFor('spiffe://acme.test/ns/ml/sa/trainer'), trust: gw.gateway.get(TrustStore), server: { id: requireSpiffeId('spiffe://acme.test/other/gateway') } }));
    try {
      await expect(check(client)).rejects.toMatchObject({ code: status.UNAVAILABLE, details: expect.stringContaining('is not the expected spiffe://acme.test/other/gateway') });
    } finally {
      client.close();
    }
  });

  it('reports identity readiness with the SVID, and its expiry as a metric', async () => {
    const ready = JSON.parse((await httpGet(`http://127.0.0.1:${gw.gateway.listeners.ops!.port}/readyz`)).body) as { checks: Array<{ name: string; ok: boolean; reason: string }> };
    expect(ready.checks.find((c) => c.name === 'identity')).toMatchObject({ ok: true, reason: expect.stringContaining('spiffe://acme.test/parley/gateway valid until') });
    const metrics = parsePrometheusText((await httpGet(`http://127.0.0.1:${gw.gateway.listeners.ops!.port}/metrics`)).body);
    const expiry = metrics.samples.find((s) => s.name === 'parley_svid_expiry_seconds')?.value ?? 0;
    expect(expiry).toBeGreaterThan(60);
    expect(expiry).toBeLessThanOrEqual(3600);
  });

  it('counts and times every call by method and final status, a refused one too', async () => {
    // Runs after the allowed and the refused health checks above.
    const metrics = parsePrometheusText((await httpGet(`http://127.0.0.1:${gw.gateway.listeners.ops!.port}/metrics`)).body);
    const method = '/grpc.health.v1.Health/Check';
    const value = (name: string, labels: Record<string, string>) =>
      metrics.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('parley_grpc_calls_total', { method, code: 'OK' })).toBeGreaterThanOrEqual(1);
    expect(value('parley_grpc_calls_total', { method, code: 'PERMISSION_DENIED' })).toBeGreaterThanOrEqual(1);
    const count = value('parley_grpc_call_duration_seconds_count', { method }) ?? 0;
    expect(count).toBeGreaterThanOrEqual(2);
    expect(value('parley_grpc_call_duration_seconds_bucket', { method, le: '+Inf' })).toBe(count);
    expect(value('parley_grpc_call_duration_seconds_sum', { method })).toBeGreaterThan(0);
    expect(value('parley_grpc_calls_in_progress', { method })).toBe(0);
  });
});
