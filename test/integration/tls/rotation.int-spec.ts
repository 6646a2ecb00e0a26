import { FixedSvidProvider } from '../../../src/tls/server-identity';
import { TestCa } from '../../support/test-ca';
import { check, healthClient, pairOf, setBundle, trustStoreOf } from '../../support/tls-clients';
import { credsFor, GATEWAY_ID, startServer } from './harness';

const RUN_MS = 20_000;
jest.setTimeout(RUN_MS + 20_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Two clients call continuously for 20 s while the server SVID rotates every 2 s and the
 * acme CA rotates once with overlap: the new root joins every bundle first (t=4 s), SVIDs
 * are signed by it from t=6 s, the old root leaves at t=13 s. Max connection age (1.5 s +
 * 1 s grace) makes clients reconnect and pick up the new certificates and roots.
 */
describe('rotation under load', () => {
  it('loses no call while the server SVID rotates every 2 s and the CA rotates with overlap', async () => {
    const oldRoot = await TestCa.create({ trustDomain: 'acme.test' });
    let signer = oldRoot;
    const gw = await startServer(trustStoreOf(oldRoot), await signer.issueSvid({ id: GATEWAY_ID }), { maxConnectionAgeMs: 1_500, maxConnectionAgeGraceMs: 1_000 });
    const clients = await Promise.all(
      [1, 2].map(async (n) => {
        const identity = new FixedSvidProvider(pairOf(await signer.issueSvid({ id: `spiffe://acme.test/load/${n}` })));
        const trust = trustStoreOf(oldRoot);
        return { n, identity, trust, client: healthClient(gw.port, credsFor(identity, trust)), ok: 0, failed: [] as string[] };
      }),
    );
    const serverSerials = new Set<string>();
    const started = Date.now();
    const until = started + RUN_MS;
    try {
      const load = clients.map(async (c) => {
        while (Date.now() < until) {
          try {
            expect(await check(c.client, '', 5_000)).toBe('SERVING');
            c.ok++;
          } catch (err) {
            c.failed.push(`${Date.now() - started} ms: ${(err as Error).message}`);
          }
        }
      });
      const schedule = (async () => {
        let newRoot: TestCa | undefined;
        for (let t = 2_000; t < RUN_MS; t += 1_000) {
          await sleep(Math.max(0, started + t - Date.now()));
          if (t === 4_000) {
            newRoot = await TestCa.create({ trustDomain: 'acme.test' });
            for (const store of [gw.trust, ...clients.map((c) => c.trust)]) setBundle(store, oldRoot, newRoot);
          }
          if (t === 6_000 && newRoot) {
            signer = newRoot;
            for (const c of clients) c.identity.set(pairOf(await signer.issueSvid({ id: `spiffe://acme.test/load/${c.n}` })));
          }
          if (t === 13_000 && newRoot) {
            for (const store of [gw.trust, ...clients.map((c) => c.trust)]) setBundle(store, newRoot);
          }
          if (t % 2_000 === 0) {
            const svid = await signer.issueSvid({ id: GATEWAY_ID });
            serverSerials.add(svid.certificate.serialNumber);
            gw.identity.set(pairOf(svid));
          }
        }
      })();
      await Promise.all([...load, schedule]);
    } finally {
      for (const c of clients) c.client.close();
      await gw.stop();
    }
    const stats = gw.server.listener.stats();
    const total = clients.reduce((n, c) => n + c.ok, 0);
    // Visible in the test output: how much load, how many reconnects.
    process.stdout.write(`rotation: ${total} calls ok, ${stats.accepted} connections accepted, refused ${JSON.stringify(stats.refused)}, closed by trust change ${stats.closedByTrustChange}\n`);
    expect(clients.flatMap((c) => c.failed)).toEqual([]);
    expect(total).toBeGreaterThan(200);
    expect(serverSerials.size).toBeGreaterThanOrEqual(9);
    // Connections were recycled by max age throughout (not one long-lived connection per client).
    expect(stats.accepted).toBeGreaterThanOrEqual(10);
    expect(stats.refused).toEqual({});
  });
});
