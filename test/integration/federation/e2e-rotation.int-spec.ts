/**
 * acme.test rotates its dev CA (short TTLs: a new CA is published at the old one's
 * half-life and signs only `caPublishLead` later) while a partner.test workload calls acme
 * over fresh connections all the time. partner polls acme's bundle endpoint at acme's
 * (lowered) refresh hint, so it holds the new CA within one refresh interval of its
 * publication, before anything is signed with it: not one call fails, and acme workloads
 * with SVIDs of the new CA are accepted by partner.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTrustDomain } from '../../../src/spiffe';
import type { TestGateway } from '../../support/gateway';
import { ACME, gatewayCa, grpcCode, heldAuthorities, issueSvid, publishedAuthorities, startFederatedPair, storeClient, workloadClient } from '../../support/federation';
import { waitFor } from '../../support/ports';
import { FederationService } from '../../../src/federation';
import { IdentitySource } from '../../../src/identity';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(150_000);

/** acme's refresh hint (what partner polls at); partner's poll floor is lowered to 1 s. */
const HINT_MS = 2_000;
const LEAD_MS = 8_000;

describe('acme.test rotates its CA under load from partner.test', () => {
  let acme: TestGateway;
  let partner: TestGateway;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({
      // CA lifetime 80 s: its half-life (the next CA is prepared) comes 10 s after start.
      acme: { PARLEY_IDENTITY_DEV_CA_CA_TTL: '80s', PARLEY_IDENTITY_DEV_CA_SVID_TTL: '20s', PARLEY_IDENTITY_DEV_CA_CA_PUBLISH_LEAD: `${LEAD_MS}ms`, PARLEY_FEDERATION_BUNDLE_ENDPOINT_REFRESH_HINT: `${HINT_MS}ms` },
      partner: { PARLEY_FEDERATION_POLL_MIN_INTERVAL: '1s' },
    }));
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  it('partner holds the new CA within one refresh interval of its publication; zero failed calls; new SVIDs accepted', async () => {
    expect((await partner.gateway.get(FederationService).status(ACME)).refreshHint).toBe(HINT_MS / 1000);
    const trainer = await workloadClient(acme, '/ns/ml/sa/trainer', acme);
    const cid = await trainer.push({ namespace: 'ml', media_type: 'text/plain', annotations: {} }, Buffer.from('weights'));
    trainer.close();
    const initial = new Set(publishedAuthorities(acme));
    const activeAtStart = gatewayCa(acme).entries().find((e) => e.status === 'active')!.id;

    // A partner workload pulls from acme over a new connection (new handshake) every 50 ms.
    const partnerSvid = await issueSvid(partner, '/ns/ml/sa/puller');
    const load = { stop: false, ok: 0, afterActivation: 0, activated: false, failures: [] as string[] };
    const running = (async () => {
      for (let i = 0; i < 3000 && !load.stop; i++) {
        const c = storeClient(partnerSvid, partner.gateway.get(TrustStore), acme);
        try {
          const code = await grpcCode(c.pullAll(cid));
          if (code === undefined) {
            load.ok++;
            if (load.activated) load.afterActivation++;
          } else load.failures.push(`grpc status ${code}`);
        } catch (err) {
          load.failures.push((err as Error).message);
        } finally {
          c.close();
        }
        await sleep(50);
      }
    })();

    try {
      // acme publishes the next CA (bounded: the first CA's half-life is 10 s after start).
      const newCa = await waitFor(() => publishedAuthorities(acme).find((fp) => !initial.has(fp)), 60_000, 20);
      const publishedAt = performance.now();
      expect(gatewayCa(acme).entries().find((e) => e.status === 'active')!.id).toBe(activeAtStart); // not signing yet
      await waitFor(() => heldAuthorities(partner, ACME).includes(newCa), 10_000, 20);
      const pickedUpMs = performance.now() - publishedAt;
      if (process.env.PARLEY_TEST_LOG) process.stderr.write(`rotation: partner held the new CA ${Math.round(pickedUpMs)} ms after acme published it\n`);
      // One refresh interval (hint + 10% jitter) plus the fetch itself.
      expect(pickedUpMs).toBeLessThan(HINT_MS * 1.1 + 1_500);

      // acme starts signing with it after the lead time.
      await waitFor(() => gatewayCa(acme).entries().find((e) => e.status === 'active')?.id === newCa.slice(0, 16), LEAD_MS + 10_000, 50);
      load.activated = true;
      // acme's own gateway SVID (what partner's connections see from now on) comes from the new CA.
      const newCaCert = acme.gateway.get(TrustStore).getX509Authorities(requireTrustDomain(ACME))!.find((c) => c.fingerprint256.split(':').join('').toLowerCase() === newCa)!;
      await waitFor(() => acme.gateway.get(IdentitySource).current()!.svid.certificates[0].verify(newCaCert.publicKey), 10_000, 50);

      // An acme workload with an SVID of the new CA is accepted by partner.
      const fresh = await issueSvid(acme, '/ns/ml/sa/fresh');
      const owner = await workloadClient(partner, '/ns/data/sa/publisher', partner);
      const partnerCid = await owner.push({ namespace: 'shared', media_type: 'text/plain', annotations: {} }, Buffer.from('partner data'));
      owner.close();
      const reader = storeClient(fresh, acme.gateway.get(TrustStore), partner);
      try {
        expect(await grpcCode(reader.pullAll(partnerCid))).toBeUndefined();
      } finally {
        reader.close();
      }
      // Keep calling a while on acme's new server SVID.
      await sleep(3_000);
    } finally {
      load.stop = true;
      await running;
    }
    if (process.env.PARLEY_TEST_LOG) process.stderr.write(`rotation: ${load.ok} calls ok (${load.afterActivation} after activation), failures ${load.failures.length}\n`);
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(20);
    expect(load.afterActivation).toBeGreaterThan(5);
  });
});
