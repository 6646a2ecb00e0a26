/**
 * A compromised partner authority on the deny list, with partner.test running as two
 * replicas (one database, one data directory, so one dev CA): the deny list written through
 * one replica's admin API is enforced by both at once — open connections of SVIDs signed by
 * the denied authority are closed, new handshakes refused — while SVIDs of the partner's
 * other authorities keep working, and a later poll of the partner's bundle does not bring
 * the denied authority back.
 */
import { status } from '@grpc/grpc-js';
import type { StoreClient } from '../../../src/store';
import { startTestGateway, type TestGateway } from '../../support/gateway';
import {
  ACME,
  adminCall,
  bundleEndpointEnv,
  federate,
  grpcCode,
  heldAuthorities,
  PARTNER,
  publishedAuthorities,
  spiffeRelationshipTo,
  storeClient,
  workloadClient,
} from '../../support/federation';
import { waitFor } from '../../support/ports';
import { TestCa } from '../../support/test-ca';
import { FederationService } from '../../../src/federation';
import { SecureGrpcServer } from '../../../src/grpc';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(120_000);

const LAB = 'lab.test';
const fingerprintOf = (ca: TestCa) => ca.certificate.fingerprint256.split(':').join('').toLowerCase();

describe('a denied partner authority on both replicas of partner.test', () => {
  let acme: TestGateway;
  let p1: TestGateway;
  let p2: TestGateway;
  let labA: TestCa;
  let labB: TestCa;
  let cid: string;
  const clients: StoreClient[] = [];
  const track = (c: StoreClient) => (clients.push(c), c);
  const pull = (c: StoreClient) => grpcCode(c.pullAll(cid));
  const labClient = async (ca: TestCa, target: TestGateway, trust: TrustStore) => {
    const svid = await ca.issueSvid({ id: 'spiffe://lab.test/ns/lab/sa/reader' });
    return track(storeClient({ certChainPem: svid.chainPem, keyPem: svid.keyPem }, trust, target));
  };
  const openFrom = (gw: TestGateway, td: string) => gw.gateway.get(SecureGrpcServer).listener.stats().openByTrustDomain[td] ?? 0;

  beforeAll(async () => {
    [acme, p1] = await Promise.all([startTestGateway(bundleEndpointEnv(ACME)), startTestGateway(bundleEndpointEnv(PARTNER))]);
    p2 = await startTestGateway(bundleEndpointEnv(PARTNER), { replicaOf: p1 });
    await federate(p1, acme);
    await federate(acme, p1);
    [labA, labB] = await Promise.all([TestCa.create({ trustDomain: LAB }), TestCa.create({ trustDomain: LAB })]);
    await p1.gateway.get(FederationService).create({ trustDomain: LAB, profile: 'static' });
    await p1.gateway.get(FederationService).uploadBundle(LAB, TestCa.bundlePem(labA, labB));
    // The second replica applies what the first stored.
    await waitFor(() => heldAuthorities(p2, ACME).length > 0 && heldAuthorities(p2, LAB).length === 2, 5_000);
    const owner = await workloadClient(p1, '/ns/data/sa/publisher', p1);
    cid = await owner.push({ namespace: 'shared', media_type: 'text/plain', annotations: {} }, Buffer.from('partner data'));
    owner.close();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await p2?.stop();
    await Promise.all([acme?.stop(), p1?.stop()]);
  });

  it('both replicas hold the same acme.test and lab.test bundles and serve all three', async () => {
    expect(heldAuthorities(p2, ACME)).toEqual(publishedAuthorities(acme));
    expect(heldAuthorities(p1, ACME)).toEqual(publishedAuthorities(acme));
    expect(heldAuthorities(p2, LAB).sort()).toEqual([fingerprintOf(labA), fingerprintOf(labB)].sort());
    const partnerTrust = p1.gateway.get(TrustStore);
    for (const replica of [p1, p2]) {
      expect(await pull(track(await workloadClient(acme, '/ns/ml/sa/reader', replica)))).toBeUndefined();
      expect(await pull(await labClient(labA, replica, partnerTrust))).toBeUndefined();
      expect(await pull(await labClient(labB, replica, partnerTrust))).toBeUndefined();
    }
  });

  it('denying acme.test\'s CA and lab.test\'s first CA on one replica closes and refuses them on both at once', async () => {
    const partnerTrust = p1.gateway.get(TrustStore);
    // Connections opened before the deny, on both replicas.
    const open = new Map<string, StoreClient>();
    for (const [name, replica] of [
      ['p1', p1],
      ['p2', p2],
    ] as const) {
      open.set(`${name}-acme`, track(await workloadClient(acme, '/ns/ml/sa/long-lived', replica)));
      open.set(`${name}-labA`, await labClient(labA, replica, partnerTrust));
      open.set(`${name}-labB`, await labClient(labB, replica, partnerTrust));
    }
    for (const c of open.values()) expect(await pull(c)).toBeUndefined();
    expect(openFrom(p1, ACME)).toBeGreaterThan(0);
    expect(openFrom(p2, ACME)).toBeGreaterThan(0);

    const acmeCa = publishedAuthorities(acme);
    expect(acmeCa).toHaveLength(1);
    const started = performance.now();
    const denyAcme = await adminCall(p1, 'PUT', `/v1/federations/${ACME}`, { ...spiffeRelationshipTo(acme), deniedAuthorities: acmeCa });
    expect(denyAcme.status).toBe(200);
    expect(denyAcme.json()).toMatchObject({ authorities: [], deniedInBundle: acmeCa });
    const denyLab = await adminCall(p1, 'PUT', `/v1/federations/${LAB}`, { profile: 'static', deniedAuthorities: [fingerprintOf(labA)] });
    expect(denyLab.status).toBe(200);
    await waitFor(() => openFrom(p1, ACME) === 0 && openFrom(p2, ACME) === 0 && heldAuthorities(p2, LAB).length === 1, 5_000, 10);
    const ms = performance.now() - started;
    expect(ms).toBeLessThan(3_000);
    expect(heldAuthorities(p2, ACME)).toEqual([]);
    expect(heldAuthorities(p2, LAB)).toEqual([fingerprintOf(labB)]);

    for (const name of ['p1', 'p2']) {
      // Open connections were closed; the clients' reconnections are refused (UNAUTHENTICATED).
      expect({ name, code: await pull(open.get(`${name}-acme`)!) }).toEqual({ name, code: status.UNAUTHENTICATED });
      expect({ name, code: await pull(open.get(`${name}-labA`)!) }).toEqual({ name, code: status.UNAUTHENTICATED });
      // The partner's other authority is untouched, open connection and new ones alike.
      expect({ name, code: await pull(open.get(`${name}-labB`)!) }).toEqual({ name, code: undefined });
    }
    for (const replica of [p1, p2]) {
      expect(await pull(track(await workloadClient(acme, '/ns/ml/sa/new', replica)))).toBe(status.UNAUTHENTICATED);
      expect(await pull(await labClient(labA, replica, partnerTrust))).toBe(status.UNAUTHENTICATED);
      expect(await pull(await labClient(labB, replica, partnerTrust))).toBeUndefined();
      expect(replica.gateway.get(SecureGrpcServer).listener.stats().closedByTrustChange).toBeGreaterThan(0);
    }
  });

  it('a later poll (through either replica) cannot use the denied CA, not even to authenticate acme\'s bundle endpoint', async () => {
    const viaOther = await p2.gateway.get(FederationService).refreshNow(ACME);
    // acme's endpoint presents an SVID of the denied CA: refused like any other of its SVIDs.
    expect(viaOther).toMatchObject({ state: 'stale', lastError: { reason: 'endpoint_identity' }, authorities: [], deniedInBundle: publishedAuthorities(acme) });
    expect(await p1.gateway.get(FederationService).refreshNow(ACME)).toMatchObject({ authorities: [], lastError: { reason: 'endpoint_identity' } });
    for (const replica of [p1, p2]) {
      expect(heldAuthorities(replica, ACME)).toEqual([]);
      expect(await pull(track(await workloadClient(acme, '/ns/ml/sa/later', replica)))).toBe(status.UNAUTHENTICATED);
    }
  });
});
