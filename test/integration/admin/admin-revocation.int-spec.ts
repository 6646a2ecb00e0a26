/**
 * Revocation and trust changes reach the admin API: the admin listener admits peers through
 * the gRPC listener's admission (MtlsListener), the admin gate checks the RevocationStore,
 * and revocations or trust changes close the admin connections they cover, on every replica.
 */
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireTrustDomain, X509Bundle } from '../../../src/spiffe';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { closesWithin, keepAliveAdmin } from '../../support/admin-agent';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { TestCa } from '../../support/test-ca';
import { rawAttempt } from '../../support/tls-clients';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(90_000);

const ADMIN = 'spiffe://acme.test/parley/admin';
const SECOND = 'spiffe://acme.test/ops/second';
const THIRD = 'spiffe://acme.test/ops/third';
const PARTNER_ADMIN = 'spiffe://partner.test/ops/admin';

describe('revocation and trust changes on the admin API', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;

  beforeAll(async () => {
    gw = await startTestGateway({ PARLEY_ADMIN_ADMINS: `[${ADMIN}, ${SECOND}, ${THIRD}, ${PARTNER_ADMIN}]` });
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, ADMIN);
  });
  afterAll(() => gw?.stop());

  const revoke = async (body: Record<string, string>): Promise<string> => {
    const res = await adminRequest(gw, ca, admin, 'POST', '/v1/revocations', { json: { ...body, reason: 'test' } });
    expect(res.status).toBe(201);
    return JSON.parse(res.body).id as string;
  };
  const unrevoke = async (id: string) => expect((await adminRequest(gw, ca, admin, 'DELETE', `/v1/revocations/${id}`)).status).toBe(204);

  it('a second admin revoked by certificate fingerprint: its open keep-alive connection closes, its next request is 403, it cannot undo the revocation', async () => {
    const second = await issueCreds(ca, SECOND);
    const kept = keepAliveAdmin(gw, ca, second);
    try {
      const first = await kept.request('GET', '/v1/identity');
      expect(first.status).toBe(200);
      expect((await kept.request('GET', '/v1/identity')).reusedSocket).toBe(true);
      const id = await revoke({ fingerprint: new X509Certificate(second.certPem).fingerprint256 });
      expect(await closesWithin(first.socket, 2_000)).toBe(true);
      const next = await kept.request('GET', '/v1/identity');
      expect(next).toMatchObject({ status: 403, reusedSocket: false });
      expect(JSON.parse(next.body)).toMatchObject({ code: 'permission_denied', detail: 'permission denied' });
      // It cannot delete its own revocation, on a new connection either.
      expect((await adminRequest(gw, ca, second, 'DELETE', `/v1/revocations/${id}`)).status).toBe(403);
      const list = JSON.parse((await adminRequest(gw, ca, admin, 'GET', '/v1/revocations')).body);
      expect(list.revocations.map((r: { id: string }) => r.id)).toContain(id);
      // A new certificate of the same ID is not revoked (the revocation is of one certificate).
      expect((await adminRequest(gw, ca, await issueCreds(ca, SECOND), 'GET', '/v1/identity')).status).toBe(200);
      await unrevoke(id);
    } finally {
      kept.close();
    }
  });

  it('an admin SPIFFE ID revoked: every certificate of it loses its open connection and its next request', async () => {
    const third = await issueCreds(ca, THIRD);
    const kept = keepAliveAdmin(gw, ca, third);
    try {
      const first = await kept.request('GET', '/v1/revocations');
      expect(first.status).toBe(200);
      const id = await revoke({ spiffeId: THIRD });
      expect(await closesWithin(first.socket, 2_000)).toBe(true);
      expect((await kept.request('GET', '/v1/revocations')).status).toBe(403);
      const fresh = await issueCreds(ca, THIRD);
      expect((await adminRequest(gw, ca, fresh, 'DELETE', `/v1/revocations/${id}`)).status).toBe(403);
      expect((await adminRequest(gw, ca, fresh, 'POST', '/v1/revocations', { json: { spiffeId: ADMIN } })).status).toBe(403);
      expect((await adminRequest(gw, ca, admin, 'GET', '/v1/identity')).status).toBe(200);
      await unrevoke(id);
      expect((await adminRequest(gw, ca, fresh, 'GET', '/v1/identity')).status).toBe(200);
    } finally {
      kept.close();
    }
  });

  it('a revocation made on one replica closes the admin connections it covers on another', async () => {
    const replica = await startTestGateway({ PARLEY_ADMIN_ADMINS: `[${ADMIN}, ${SECOND}, ${THIRD}, ${PARTNER_ADMIN}]` }, { replicaOf: gw });
    const second = await issueCreds(ca, SECOND);
    const kept = keepAliveAdmin(replica, ca, second);
    try {
      const first = await kept.request('GET', '/v1/identity');
      expect(first.status).toBe(200);
      const id = await revoke({ spiffeId: SECOND });
      // Keep the connection busy (an idle one would also end by keep-alive timeout); bounded.
      let last = first;
      for (let i = 0; i < 50 && last.status === 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        last = await kept.request('GET', '/v1/identity');
      }
      expect(last).toMatchObject({ status: 403, reusedSocket: false });
      expect(first.socket.destroyed).toBe(true);
      await unrevoke(id);
    } finally {
      kept.close();
      await replica.stop();
    }
  });

  it('refuses to resume a TLS session on the admin port: every connection presents and verifies its chain', async () => {
    const sessions: Buffer[] = [];
    const connectOnce = (session?: Buffer) =>
      new Promise<{ reused: boolean; reply: string }>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: gw.gateway.listeners.admin!.port, ca: ca.bundlePem(), cert: admin.certPem, key: admin.keyPem, session, checkServerIdentity: () => undefined });
        let reply = '';
        let reused = false;
        socket.on('session', (s: Buffer) => sessions.push(s));
        socket.on('secureConnect', () => {
          reused = socket.isSessionReused();
          socket.write('GET /v1/identity HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n');
        });
        socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
        socket.on('close', () => resolve({ reused, reply }));
        socket.on('error', reject);
      });
    const first = await connectOnce();
    expect(first).toMatchObject({ reused: false, reply: expect.stringMatching(/^HTTP\/1\.1 200 /) });
    // TLS 1.3 with tickets off still sends (stateful) session ids; the listener keeps no
    // session cache, so offering one gives a full handshake, never a resumed session.
    expect(sessions.length).toBeGreaterThan(0);
    const second = await connectOnce(sessions.at(-1));
    expect(second).toMatchObject({ reused: false, reply: expect.stringMatching(/^HTTP\/1\.1 200 /) });
  });

  it('refuses a client that negotiates h2 on the admin port (ALPN http/1.1 or none), counted by reason', async () => {
    const attempt = await rawAttempt(gw.gateway.listeners.admin!.port, { certChainPem: admin.certPem, keyPem: admin.keyPem }, ca.bundlePem());
    expect(attempt.end).not.toBe('open');
    const samples = await scrapeMetrics(gw.gateway.listeners.ops!.port);
    // OpenSSL already fails the handshake (no common ALPN protocol); admission would refuse it too (alpn_not_http1).
    expect(attempt.handshake).toBe(false);
    expect(metricSum(samples, 'parley_admin_connections_refused_total', { reason: 'handshake_failed' })).toBeGreaterThan(0);
  });

  it('removing or changing a trust domain bundle closes the admin connections it no longer admits', async () => {
    const partnerTd = requireTrustDomain('partner.test');
    const partner = await TestCa.create({ trustDomain: 'partner.test' });
    const svid = await partner.issueSvid({ id: PARTNER_ADMIN });
    const creds = { certPem: svid.certPem, keyPem: svid.keyPem };
    gw.gateway.get(TrustStore).set(X509Bundle.parsePem(partnerTd, partner.bundlePem()));
    try {
      const removed = keepAliveAdmin(gw, ca, creds);
      const first = await removed.request('GET', '/v1/identity');
      expect(first.status).toBe(200);
      gw.gateway.get(TrustStore).remove(partnerTd);
      expect(await closesWithin(first.socket, 2_000)).toBe(true);
      removed.close();

      gw.gateway.get(TrustStore).set(X509Bundle.parsePem(partnerTd, partner.bundlePem()));
      const changed = keepAliveAdmin(gw, ca, creds);
      const again = await changed.request('GET', '/v1/identity');
      expect(again.status).toBe(200);
      const rotated = await TestCa.create({ trustDomain: 'partner.test' });
      gw.gateway.get(TrustStore).set(X509Bundle.parsePem(partnerTd, rotated.bundlePem()));
      expect(await closesWithin(again.socket, 2_000)).toBe(true);
      await expect(changed.request('GET', '/v1/identity')).rejects.toThrow(/socket hang up|ECONNRESET|alert|certificate/i);
      changed.close();
    } finally {
      gw.gateway.get(TrustStore).remove(partnerTd);
    }
  });
});
