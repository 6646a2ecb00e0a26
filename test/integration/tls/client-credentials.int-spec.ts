import { connect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { requireSpiffeId, requireTrustDomain } from '../../../src/spiffe';
import { spiffeTlsConnectOptions } from '../../../src/tls/client-credentials';
import { TestCa } from '../../support/test-ca';
import { check, healthClient, pairOf, trustStoreOf } from '../../support/tls-clients';
import { credsFor, GATEWAY_ID, startServer, type TestServer } from './harness';

jest.setTimeout(30_000);

describe('client credentials: our SVID, per-trust-domain server verification, server authorization', () => {
  let acme: TestCa;
  let partner: TestCa;
  let gw: TestServer;
  let forged: TestServer;
  type Expected = NonNullable<Parameters<typeof credsFor>[2]>;
  const client = async (port: number, server: Expected, trust = trustStoreOf(acme, partner)) =>
    healthClient(port, credsFor(await acme.issueSvid({ id: 'spiffe://acme.test/cli' }), trust, server));

  beforeAll(async () => {
    acme = await TestCa.create({ trustDomain: 'acme.test' });
    partner = await TestCa.create({ trustDomain: 'partner.test' });
    gw = await startServer(trustStoreOf(acme, partner), await acme.issueSvid({ id: GATEWAY_ID }));
    // A server presenting the gateway's ID, signed by the partner's CA (trusted for partner.test only).
    forged = await startServer(trustStoreOf(acme, partner), await partner.issueSvid({ id: GATEWAY_ID }));
  });
  afterAll(async () => {
    await gw?.stop();
    await forged?.stop();
  });

  it('connects when the server has the expected SPIFFE ID (exact ID or trust-domain member)', async () => {
    for (const server of [{ id: requireSpiffeId(GATEWAY_ID) }, { memberOf: requireTrustDomain('acme.test') }]) {
      const c = await client(gw.port, server);
      try {
        expect(await check(c)).toBe('SERVING');
      } finally {
        c.close();
      }
    }
  });

  it('fails with a clear error when the server is not the expected identity', async () => {
    const cases: Array<[Expected, string]> = [
      [{ id: requireSpiffeId('spiffe://acme.test/other-gateway') }, `server identity ${GATEWAY_ID} is not the expected spiffe://acme.test/other-gateway`],
      [{ memberOf: requireTrustDomain('partner.test') }, `server identity ${GATEWAY_ID} is not the expected a member of partner.test`],
    ];
    for (const [server, message] of cases) {
      const c = await client(gw.port, server);
      try {
        const err = (await check(c, '', 3_000).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
        expect(err.code).toBe(grpc.status.UNAVAILABLE);
        expect(err.details).toContain(message);
      } finally {
        c.close();
      }
    }
  });

  it('refuses a server whose certificate comes from the CA of another trust domain', async () => {
    const c = await client(forged.port, { id: requireSpiffeId(GATEWAY_ID) });
    try {
      const err = (await check(c, '', 3_000).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.details).toContain(`server identity ${GATEWAY_ID} cannot be verified (chain_unverified)`);
    } finally {
      c.close();
    }
  });

  it('gives plain TLS clients the same checks', async () => {
    const attempt = async (port: number, server: Expected) => {
      const options = spiffeTlsConnectOptions({ svid: pairOf(await acme.issueSvid({ id: 'spiffe://acme.test/cli' })), trust: trustStoreOf(acme, partner), server });
      return new Promise<string>((resolve) => {
        const socket = connect({ ...options, host: '127.0.0.1', port, ALPNProtocols: ['h2'] });
        socket.on('secureConnect', () => {
          socket.destroy();
          resolve('ok');
        });
        socket.on('error', (err) => resolve(err.message));
      });
    };
    expect(await attempt(gw.port, { id: requireSpiffeId(GATEWAY_ID) })).toBe('ok');
    expect(await attempt(gw.port, { id: requireSpiffeId('spiffe://acme.test/x') })).toBe(`server identity ${GATEWAY_ID} is not the expected spiffe://acme.test/x`);
    expect(await attempt(forged.port, { id: requireSpiffeId(GATEWAY_ID) })).toContain('(chain_unverified)');
  });
});
