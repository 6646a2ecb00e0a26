import * as grpc from '@grpc/grpc-js';
import { requireTrustDomain } from '../../../src/spiffe';
import { waitFor } from '../../support/ports';
import { TestCa } from '../../support/test-ca';
import { healthClient, pairOf, rawAttempt, setBundle, trustStoreOf } from '../../support/tls-clients';
import { credsFor, GATEWAY_ID, startServer, type TestServer } from './harness';

jest.setTimeout(30_000);

const PARTNER = requireTrustDomain('partner.test');
const allowAll = () => ({ allowed: true, reason: 'test: everyone' });

/** Opens a health Watch stream and reports when (and how) it ends. */
function watch(client: ReturnType<typeof healthClient>) {
  const stream = client.Watch({ service: '' });
  const firstMessage = new Promise<string>((resolve) => stream.once('data', (m: { status: string }) => resolve(m.status)));
  const ended = new Promise<{ code: number; at: number }>((resolve) => {
    stream.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, at: Date.now() }));
    stream.on('end', () => resolve({ code: grpc.status.OK, at: Date.now() }));
  });
  stream.on('data', () => undefined);
  return { stream, firstMessage, ended };
}

describe('trust changes reach open connections', () => {
  let acme: TestCa;
  let partner: TestCa;
  let gw: TestServer;

  beforeEach(async () => {
    acme = await TestCa.create({ trustDomain: 'acme.test' });
    partner = await TestCa.create({ trustDomain: 'partner.test' });
    // A long max age: whatever closes connections here is the trust change itself.
    gw = await startServer(trustStoreOf(acme, partner), await acme.issueSvid({ id: GATEWAY_ID }), { authorize: allowAll, maxConnectionAgeMs: 60_000 });
  });
  afterEach(() => gw?.stop());

  it('removing a bundle closes that domain’s open connections at once and refuses new ones within 1 s', async () => {
    const clientTrust = trustStoreOf(acme, partner);
    const partnerClient = healthClient(gw.port, credsFor(await partner.issueSvid({ id: 'spiffe://partner.test/sync' }), clientTrust));
    const acmeClient = healthClient(gw.port, credsFor(await acme.issueSvid({ id: 'spiffe://acme.test/w' }), clientTrust));
    try {
      const partnerWatch = watch(partnerClient);
      const acmeWatch = watch(acmeClient);
      expect(await partnerWatch.firstMessage).toBe('SERVING');
      expect(await acmeWatch.firstMessage).toBe('SERVING');
      expect(gw.server.listener.stats().openByTrustDomain).toMatchObject({ 'partner.test': 1, 'acme.test': 1 });

      const removedAt = Date.now();
      gw.trust.remove(PARTNER);
      const newAttempt = partner.issueSvid({ id: 'spiffe://partner.test/sync' }).then((svid) => rawAttempt(gw.port, pairOf(svid), TestCa.bundlePem(acme, partner), 1_000));
      const ended = await partnerWatch.ended;
      expect(ended.code).toBe(grpc.status.UNAVAILABLE);
      expect(ended.at - removedAt).toBeLessThan(1_000);
      expect(gw.server.listener.stats().openByTrustDomain['partner.test']).toBeUndefined();
      expect(gw.server.listener.stats().closedByTrustChange).toBe(1);

      expect((await newAttempt).end).not.toBe('open');
      const refusedLine = await waitFor(() => gw.logger.matching('tls connection refused').find((l) => l.obj.reason === 'unknown_trust_domain'), 1_000, 10);
      expect(refusedLine.obj.claimedId).toBe('spiffe://partner.test/sync');
      expect(Date.now() - removedAt).toBeLessThan(1_000);

      // The own trust domain's stream is untouched.
      expect(gw.server.listener.stats().openByTrustDomain['acme.test']).toBe(1);
      acmeWatch.stream.cancel();
    } finally {
      partnerClient.close();
      acmeClient.close();
    }
  });

  it('a changed bundle closes exactly the connections it no longer verifies', async () => {
    const newPartnerRoot = await TestCa.create({ trustDomain: 'partner.test' });
    const clientTrust = trustStoreOf(acme, partner);
    const oldClient = healthClient(gw.port, credsFor(await partner.issueSvid({ id: 'spiffe://partner.test/old' }), clientTrust));
    const newClient = healthClient(gw.port, credsFor(await newPartnerRoot.issueSvid({ id: 'spiffe://partner.test/new' }), clientTrust));
    try {
      setBundle(gw.trust, partner, newPartnerRoot); // overlap: both roots
      const oldWatch = watch(oldClient);
      const newWatch = watch(newClient);
      expect(await oldWatch.firstMessage).toBe('SERVING');
      expect(await newWatch.firstMessage).toBe('SERVING');

      const changedAt = Date.now();
      setBundle(gw.trust, newPartnerRoot); // the old root leaves
      const ended = await oldWatch.ended;
      expect(ended.code).toBe(grpc.status.UNAVAILABLE);
      expect(ended.at - changedAt).toBeLessThan(1_000);
      const closed = gw.logger.matching('tls connection closed after a trust change').at(-1)!;
      expect(closed.obj).toMatchObject({ spiffeId: 'spiffe://partner.test/old', reason: 'chain_unverified' });
      expect(gw.server.listener.stats().openByTrustDomain['partner.test']).toBe(1);
      newWatch.stream.cancel();
    } finally {
      oldClient.close();
      newClient.close();
    }
  });
});

describe('max connection age bounds every connection', () => {
  it('ends a connection and its open stream after max age + grace, without any trust change', async () => {
    const acme = await TestCa.create({ trustDomain: 'acme.test' });
    const gw = await startServer(trustStoreOf(acme), await acme.issueSvid({ id: GATEWAY_ID }), { maxConnectionAgeMs: 800, maxConnectionAgeGraceMs: 400 });
    const client = healthClient(gw.port, credsFor(await acme.issueSvid({ id: 'spiffe://acme.test/w' }), trustStoreOf(acme)));
    try {
      const w = watch(client);
      expect(await w.firstMessage).toBe('SERVING');
      const opened = Date.now();
      const ended = await w.ended;
      // age 800 ms ± 10 % jitter, then 400 ms grace for the open stream
      expect(ended.at - opened).toBeLessThan(2_500);
      await waitFor(() => gw.server.listener.stats().open === 0, 2_000, 20);
    } finally {
      client.close();
      await gw.stop();
    }
  });
});
