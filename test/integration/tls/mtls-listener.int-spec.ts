import { connect as netConnect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { requireTrustDomain } from '../../../src/spiffe';
import { waitFor } from '../../support/ports';
import { TestCa, type IssuedSvid } from '../../support/test-ca';
import { check, healthClient, pairOf, rawAttempt, trustStoreOf } from '../../support/tls-clients';
import { credsFor, GATEWAY_ID, startServer, type TestServer } from './harness';

jest.setTimeout(30_000);

describe('mTLS listener: per-trust-domain admission before grpc-js', () => {
  let acme: TestCa;
  let acmeInt: TestCa;
  let partner: TestCa;
  let gw: TestServer;
  const rootsPem = () => TestCa.bundlePem(acme, partner);

  beforeAll(async () => {
    acme = await TestCa.create({ trustDomain: 'acme.test' });
    acmeInt = await acme.intermediate();
    partner = await TestCa.create({ trustDomain: 'partner.test' });
    gw = await startServer(trustStoreOf(acme, partner), await acmeInt.issueSvid({ id: GATEWAY_ID }), { handshakeTimeoutMs: 1_000 });
  });
  afterAll(() => gw?.stop());

  const refusalsOf = (reason: string) => gw.logger.matching('tls connection refused').filter((l) => l.obj.reason === reason);

  it('lets an own-trust-domain client complete a gRPC call (health Check)', async () => {
    const client = healthClient(gw.port, credsFor(await acmeInt.issueSvid({ id: 'spiffe://acme.test/ns/ml/sa/trainer' }), trustStoreOf(acme)));
    try {
      await expect(check(client)).resolves.toBe('SERVING');
      await expect(check(client, 'no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      client.close();
    }
  });

  const refused: Array<[string, string, () => Promise<IssuedSvid | undefined>, boolean]> = [
    ['partner CA signing an acme.test ID', 'chain_unverified', () => partner.issueSvid({ id: 'spiffe://acme.test/parley/admin' }), false],
    ['partner CA signing an acme.test ID, acme root appended', 'chain_unverified', async () => withExtra(await partner.issueSvid({ id: 'spiffe://acme.test/parley/admin' }), acme), false],
    ['an expired SVID', 'certificate_expired', () => acmeInt.issueSvid({ id: 'spiffe://acme.test/old', notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 60_000) }), false],
    ['a not-yet-valid SVID', 'certificate_not_yet_valid', () => acmeInt.issueSvid({ id: 'spiffe://acme.test/early', notBefore: new Date(Date.now() + 3_600_000), notAfter: new Date(Date.now() + 7_200_000) }), false],
    ['a CA certificate as leaf', 'leaf_is_ca', () => acmeInt.issueSvid({ id: 'spiffe://acme.test/ca-leaf', isCa: true }), false],
    ['a leaf without URI SAN', 'leaf_no_uri_san', () => acmeInt.issueSvid({ uris: [], dnsNames: ['client.acme.test'] }), false],
    ['a leaf with two URI SANs', 'leaf_multiple_uri_sans', () => acmeInt.issueSvid({ uris: ['spiffe://acme.test/a', 'spiffe://acme.test/b'] }), false],
    ['no client certificate', 'no_certificates', async () => undefined, false],
    ['an unknown trust domain', 'unknown_trust_domain', async () => (await TestCa.create({ trustDomain: 'other.test' })).issueSvid({ id: 'spiffe://other.test/w' }), true],
  ];

  it.each(refused)('refuses %s at the connection, logging %s', async (_name, reason, make, unknownCa) => {
    const svid = await make();
    const before = gw.server.listener.stats().refused[reason as 'chain_unverified'] ?? 0;
    const attempt = await rawAttempt(gw.port, svid && pairOf(svid), rootsPem());
    expect(attempt.end).not.toBe('open');
    await waitFor(() => refusalsOf(reason).length > 0 && (gw.server.listener.stats().refused[reason as 'chain_unverified'] ?? 0) > before, 2_000, 20);
    const line = refusalsOf(reason).at(-1)!;
    expect(line.obj).toMatchObject({ reason, remoteAddress: '127.0.0.1' });
    if (svid?.id) expect(line.obj.claimedId).toBe(svid.id);
    if (unknownCa) expect(String(line.obj.detail)).toContain('other.test');
  });

  // TLS cannot carry the reason (Node sends no alert after its handshake completed), so the
  // refused client's calls end UNAUTHENTICATED with the alert name TLS would have used.
  const told: Array<[string, () => Promise<IssuedSvid | undefined>]> = [
    ['unknown_ca', async () => withExtra(await partner.issueSvid({ id: 'spiffe://acme.test/parley/admin' }), acme)],
    ['unknown_ca', async () => (await TestCa.create({ trustDomain: 'other.test' })).issueSvid({ id: 'spiffe://other.test/w' })],
    ['certificate_expired', () => acmeInt.issueSvid({ id: 'spiffe://acme.test/old', notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 60_000) })],
    ['bad_certificate', () => acmeInt.issueSvid({ id: 'spiffe://acme.test/ca-leaf', isCa: true })],
    ['certificate_required', async () => undefined],
  ];
  it.each(told)('tells a refused gRPC client why: UNAUTHENTICATED "client certificate refused: %s"', async (alert, make) => {
    const svid = await make();
    const creds = svid === undefined ? grpc.credentials.createSsl(Buffer.from(rootsPem()), null, null, { checkServerIdentity: () => undefined }) : credsFor(svid, trustStoreOf(acme));
    const client = healthClient(gw.port, creds);
    try {
      await expect(check(client, '', 3_000)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: `client certificate refused: ${alert}` });
    } finally {
      client.close();
    }
  });

  it('accepts a valid partner.test client at the connection, but the default interceptor denies its call', async () => {
    const svid = await partner.issueSvid({ id: 'spiffe://partner.test/sync/client' });
    const accepted = gw.server.listener.stats().accepted;
    const client = healthClient(gw.port, credsFor(svid, trustStoreOf(acme, partner)));
    try {
      await expect(check(client)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'permission denied' });
      expect(gw.server.listener.stats().accepted).toBe(accepted + 1);
      const denied = gw.logger.matching('call denied').at(-1)!;
      expect(denied.obj).toMatchObject({ spiffeId: 'spiffe://partner.test/sync/client', trustDomain: 'partner.test', method: '/grpc.health.v1.Health/Check' });
      expect(String(denied.obj.reason)).toContain('partner.test');
    } finally {
      client.close();
    }
  });

  it('closes a connection that does not finish its handshake in time', async () => {
    const before = gw.server.listener.stats().refused.handshake_timeout ?? 0;
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const socket = netConnect(gw.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
      setTimeout(() => socket.destroy(), 5_000).unref();
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(gw.server.listener.stats().refused.handshake_timeout).toBe(before + 1);
  });

  it('refuses TLS 1.2 clients when the minimum is TLS 1.3', async () => {
    const before = gw.server.listener.stats().refused.handshake_failed ?? 0;
    const { connect } = await import('node:tls');
    const svid = pairOf(await acmeInt.issueSvid({ id: 'spiffe://acme.test/old-tls' }));
    const outcome = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: gw.port, ca: rootsPem(), key: svid.keyPem, cert: svid.certChainPem, maxVersion: 'TLSv1.2', checkServerIdentity: () => undefined });
      s.on('secureConnect', () => { s.destroy(); resolve('connected'); });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(outcome).not.toBe('connected');
    await waitFor(() => (gw.server.listener.stats().refused.handshake_failed ?? 0) > before, 2_000, 20);
  });

  it('keeps the stats of open connections per trust domain', async () => {
    const client = healthClient(gw.port, credsFor(await acmeInt.issueSvid({ id: 'spiffe://acme.test/stats' }), trustStoreOf(acme)));
    try {
      await check(client);
      expect(gw.server.listener.stats().openByTrustDomain['acme.test']).toBeGreaterThanOrEqual(1);
      expect(gw.server.peers.size).toBe(gw.server.listener.stats().open);
    } finally {
      client.close();
    }
    await waitFor(() => (gw.server.listener.stats().openByTrustDomain['acme.test'] ?? 0) === 0, 3_000, 20);
    expect(requireTrustDomain('acme.test').name).toBe('acme.test');
  });
});

/** The SVID with another CA's certificate appended to the presented chain. */
function withExtra(svid: IssuedSvid, extra: TestCa): IssuedSvid {
  return { ...svid, chainPem: svid.chainPem + extra.certPem, chain: [...svid.chain, extra.certDer] };
}
