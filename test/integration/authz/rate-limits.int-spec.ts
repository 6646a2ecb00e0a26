/**
 * Rate limits on a running gateway with real mTLS clients: per SPIFFE ID and per trust
 * domain, after authentication and authorization (a limited call is audited with its
 * identity), RESOURCE_EXHAUSTED to the caller, and a refused call charges no other bucket.
 */
import * as grpc from '@grpc/grpc-js';
import { requireSpiffeId } from '../../../src/spiffe';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { AuditWriter } from '../../../src/authz';
import { DataSource } from 'typeorm';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(120_000);

const CHECK = '/grpc.health.v1.Health/Check';
const SERVER = { id: requireSpiffeId('spiffe://acme.test/parley/gateway') };
const pass = (b: Buffer): Buffer => b;

describe('rate limits on the gateway', () => {
  let gw: TestGateway;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    // Per SPIFFE ID: a burst of 3, then 0.001/s (none within the test); per trust domain: a burst of 5.
    gw = await startTestGateway({
      PARLEY_AUTHZ_RATE_LIMIT_PER_SPIFFE_ID_REQUESTS_PER_SECOND: '0.001',
      PARLEY_AUTHZ_RATE_LIMIT_PER_SPIFFE_ID_BURST: '3',
      PARLEY_AUTHZ_RATE_LIMIT_PER_TRUST_DOMAIN_REQUESTS_PER_SECOND: '0.001',
      PARLEY_AUTHZ_RATE_LIMIT_PER_TRUST_DOMAIN_BURST: '5',
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
  });

  const client = async (path: string): Promise<grpc.Client> => {
    const issued = await (await devCaOf(gw)).issue(requireSpiffeId(`spiffe://acme.test${path}`));
    const c = new grpc.Client(`127.0.0.1:${gw.gateway.listeners.grpc!.port}`, spiffeChannelCredentials({ svid: { certChainPem: issued.certPem, keyPem: issued.keyPem }, trust: gw.gateway.get(TrustStore), server: SERVER }), {
      'grpc.ssl_target_name_override': 'acme.test',
    });
    clients.push(c);
    return c;
  };
  const check = (c: grpc.Client): Promise<grpc.status> =>
    new Promise((resolve) => c.makeUnaryRequest(CHECK, pass, pass, Buffer.alloc(0), { deadline: Date.now() + 10_000 }, (err) => resolve(err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK)));

  it('refuses a SPIFFE ID past its burst, then a trust domain past its own, and audits both with the identity', async () => {
    const a = await client('/ns/a');
    const b = await client('/ns/b');
    const statuses: grpc.status[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await check(a));
    // a: 3 allowed, the 4th refused by its own limit (the trust domain keeps its 2 other tokens).
    expect(statuses).toEqual([grpc.status.OK, grpc.status.OK, grpc.status.OK, grpc.status.RESOURCE_EXHAUSTED]);
    // b: the trust domain has 2 tokens left for it, then the trust-domain limit refuses.
    expect([await check(b), await check(b), await check(b)]).toEqual([grpc.status.OK, grpc.status.OK, grpc.status.RESOURCE_EXHAUSTED]);

    await gw.gateway.get(AuditWriter).flush();
    const rows: Array<{ spiffe_id: string; decision: string; reason: string }> = await gw.gateway.get(DataSource).query(
      `SELECT spiffe_id, decision, reason FROM authz_audit WHERE method = $1 AND reason LIKE 'rate limited%' ORDER BY id`,
      [CHECK],
    );
    expect(rows.map((r) => [r.spiffe_id, r.decision])).toEqual([
      ['spiffe://acme.test/ns/a', 'deny'],
      ['spiffe://acme.test/ns/b', 'deny'],
    ]);
    expect(rows[0]!.reason).toMatch(/spiffe id spiffe:\/\/acme\.test\/ns\/a/);
    expect(rows[1]!.reason).toMatch(/trust domain acme\.test/);
    const metrics = await scrapeMetrics(gw.gateway.listeners.ops!.port);
    expect(metricSum(metrics, 'parley_authz_decisions_total', { method: CHECK, result: 'rate_limited' })).toBe(2);
  });
});
