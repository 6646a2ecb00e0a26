/**
 * Faults at acme.test's bundle endpoint, seen by a real partner.test gateway: partner's
 * relationship is pointed at an endpoint the test controls (or at a closed port) and
 * refreshed through the admin API. For each fault partner keeps acme's last good bundle
 * (acme's workloads still get in), the status and /metrics name the failure, a third trust
 * domain (lab.test, static) keeps working, and the gateway stays up. A valid but empty key
 * set is different: it is acme's word that it trusts no authority, so acme is refused.
 */
import { status } from '@grpc/grpc-js';
import { requireTrustDomain, SpiffeBundle } from '../../../src/spiffe';
import { StoreClient } from '../../../src/store';
import type { FederationStatus } from '../../../src/federation';
import { TrustStore } from '../../../src/trust/trust-store';
import type { TestGateway } from '../../support/gateway';
import {
  ACME,
  adminCall,
  FaultyBundleEndpoint,
  fetchCount,
  grpcCode,
  heldAuthorities,
  issueSvid,
  metricValue,
  PARTNER,
  publishedAuthorities,
  refusedUrl,
  spiffeRelationshipTo,
  startFederatedPair,
  storeClient,
  workloadClient,
  type FaultMode,
} from '../../support/federation';
import { TestCa } from '../../support/test-ca';
import { FederationService } from '../../../src/federation';
import { ReadinessRegistry } from '../../../src/ops';

jest.setTimeout(150_000);

const LAB = 'lab.test';
const POLL_TIMEOUT_MS = 1500;

describe("faults at acme.test's bundle endpoint, seen by partner.test", () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let fault: FaultyBundleEndpoint;
  let lab: TestCa;
  let labTrust: TrustStore;
  let cid: string;
  let acmeAuthorities: string[];
  let realUrl: string;

  /** A fresh connection (new handshake) from `client` pulling partner's record: undefined when it worked. */
  const pullWith = async (make: () => Promise<StoreClient> | StoreClient): Promise<status | undefined> => {
    const c = await make();
    try {
      return await grpcCode(c.pullAll(cid));
    } finally {
      c.close();
    }
  };
  const acmeWorkload = () => pullWith(() => workloadClient(acme, '/ns/ml/sa/reader', partner));
  const labWorkload = () =>
    pullWith(async () => {
      const svid = await lab.issueSvid({ id: 'spiffe://lab.test/ns/lab/sa/reader' });
      return storeClient({ certChainPem: svid.chainPem, keyPem: svid.keyPem }, labTrust, partner);
    });

  /** Points partner's acme relationship at `url` (when it points elsewhere), refreshes it through the admin API and returns the status. */
  const refreshAgainst = async (url: string): Promise<FederationStatus> => {
    if ((await partner.gateway.get(FederationService).status(ACME)).endpointUrls[0] !== url) {
      await partner.gateway.get(FederationService).update(ACME, spiffeRelationshipTo(acme, { endpointUrls: [url] }));
    }
    const reply = await adminCall(partner, 'POST', `/v1/federations/${ACME}:refresh`);
    expect(reply.status).toBe(200);
    return reply.json<FederationStatus>();
  };

  /** The fault, its status and metric; then the checks every fault shares. */
  const expectKeptAfter = async (mode: FaultMode | 'refused', reason: string) => {
    const before = await fetchCount(partner, ACME, reason);
    let url = fault.url;
    if (mode === 'refused') url = await refusedUrl();
    else fault.mode = mode;
    const started = performance.now();
    const s = await refreshAgainst(url);
    const ms = performance.now() - started;
    expect({ state: s.state, reason: s.lastError?.reason }).toEqual({ state: 'stale', reason });
    expect(s.consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(s.authorities.map((a) => a.fingerprint)).toEqual(acmeAuthorities);
    expect(await fetchCount(partner, ACME, reason)).toBeGreaterThan(before);
    // The last good bundle is still in force: acme's workloads get in, and so does lab.test.
    expect(heldAuthorities(partner, ACME)).toEqual(acmeAuthorities);
    expect(await acmeWorkload()).toBeUndefined();
    expect(await labWorkload()).toBeUndefined();
    const shown = await adminCall(partner, 'GET', `/v1/federations/${ACME}`);
    expect(shown.json()).toMatchObject({ state: 'stale', lastError: { reason } });
    return ms;
  };

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ partner: { PARLEY_FEDERATION_POLL_TIMEOUT: String(POLL_TIMEOUT_MS) } }));
    acmeAuthorities = publishedAuthorities(acme);
    realUrl = (spiffeRelationshipTo(acme).endpointUrls as string[])[0];
    // The fault endpoint presents acme's real gateway SVID unless a test says otherwise.
    fault = await FaultyBundleEndpoint.start(await issueSvid(acme, '/parley/gateway'));
    // A third trust domain federated with partner by a static bundle.
    lab = await TestCa.create({ trustDomain: LAB });
    await partner.gateway.get(FederationService).create({ trustDomain: LAB, profile: 'static' });
    await partner.gateway.get(FederationService).uploadBundle(LAB, lab.bundlePem());
    labTrust = new TrustStore();
    labTrust.set(partner.gateway.get(TrustStore).get(requireTrustDomain(PARTNER))!);
    const owner = await workloadClient(partner, '/ns/data/sa/publisher', partner);
    cid = await owner.push({ namespace: 'shared', media_type: 'text/plain', annotations: {} }, Buffer.from('partner data'));
    owner.close();
    expect(await acmeWorkload()).toBeUndefined();
    expect(await labWorkload()).toBeUndefined();
  });

  afterEach(async () => {
    // Back to acme's real endpoint (not after the empty key set: that test restores by itself).
    const s = await partner.gateway.get(FederationService).status(ACME);
    if (s.authorities.length > 0 && s.endpointUrls[0] !== realUrl) {
      const back = await refreshAgainst(realUrl);
      expect(back.state).toBe('ready');
    }
  });

  afterAll(async () => {
    await fault?.close();
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  it('connection refused: reason connect', async () => {
    await expectKeptAfter('refused', 'connect');
  });

  it('HTTP 500: reason http_status', async () => {
    await expectKeptAfter({ kind: 'status', status: 500 }, 'http_status');
    expect((await partner.gateway.get(FederationService).status(ACME)).lastError?.detail).toContain('500');
  });

  it('invalid JSON: reason invalid_bundle', async () => {
    await expectKeptAfter({ kind: 'serve', body: () => '{"keys": [ {"kty": "EC", ' }, 'invalid_bundle');
  });

  it('a 5 MiB body: reason too_large (over federation.poll.maxBytes, 1 MiB)', async () => {
    await expectKeptAfter({ kind: 'huge', bytes: 5 * 1024 * 1024 }, 'too_large');
  });

  it('a response slower than federation.poll.timeout: reason timeout, given up on time', async () => {
    const ms = await expectKeptAfter({ kind: 'stall' }, 'timeout');
    // The update's own poll and the refresh each wait for at most one timeout.
    expect(ms).toBeLessThan(2 * POLL_TIMEOUT_MS + 3000);
  });

  it('the endpoint presents another SPIFFE ID of acme.test: reason endpoint_identity', async () => {
    fault.setIdentity(await issueSvid(acme, '/not/the/gateway'));
    try {
      await expectKeptAfter({ kind: 'serve', body: () => acme.gateway.get(FederationService).ownBundleDocument()! }, 'endpoint_identity');
    } finally {
      fault.setIdentity(await issueSvid(acme, '/parley/gateway'));
    }
  });

  it('a decreasing sequence: the bundle is taken (same authorities) and the decrease reported as a warning', async () => {
    const current = SpiffeBundle.parse(acme.gateway.get(FederationService).ownBundleDocument()!, requireTrustDomain(ACME));
    expect(current.sequence).toBe(1n);
    fault.mode = { kind: 'serve', body: () => current.withMetadata({ sequence: 5n, refreshHint: 300 }).serialize() };
    expect((await refreshAgainst(fault.url)).sequence).toBe('5');
    const before = await fetchCount(partner, ACME, 'ok');
    fault.mode = { kind: 'serve', body: () => current.withMetadata({ sequence: 2n, refreshHint: 300 }).serialize() };
    const s = await refreshAgainst(fault.url);
    expect(s).toMatchObject({ state: 'ready', sequence: '2' });
    expect(s.warning).toContain('spiffe_sequence decreased from 5 to 2');
    expect(s.authorities.map((a) => a.fingerprint)).toEqual(acmeAuthorities);
    expect(await fetchCount(partner, ACME, 'ok')).toBeGreaterThan(before);
    expect(await metricValue(partner, 'parley_federation_bundle_sequence', { trust_domain: ACME })).toBe(2);
    expect(await acmeWorkload()).toBeUndefined();
    expect(await labWorkload()).toBeUndefined();
  });

  it('a valid empty key set revokes: acme is refused (open connections closed), lab.test is not; re-bootstrapping restores', async () => {
    const open = await workloadClient(acme, '/ns/ml/sa/long-lived', partner);
    try {
      fault.mode = { kind: 'serve', body: () => acme.gateway.get(FederationService).ownBundleDocument()! };
      expect((await refreshAgainst(fault.url)).state).toBe('ready');
      expect(await grpcCode(open.pullAll(cid))).toBeUndefined();
      fault.mode = { kind: 'serve', body: () => JSON.stringify({ keys: [], spiffe_sequence: 9, spiffe_refresh_hint: 300 }) };
      const s = await refreshAgainst(fault.url);
      expect(s).toMatchObject({ state: 'ready', sequence: '9', authorities: [] });
      expect(heldAuthorities(partner, ACME)).toEqual([]);
      expect(await grpcCode(open.pullAll(cid))).toBe(status.UNAUTHENTICATED); // closed, and its reconnection refused
      expect(await acmeWorkload()).toBe(status.UNAUTHENTICATED);
      expect(await labWorkload()).toBeUndefined();
    } finally {
      open.close();
    }
    // With no acme authority held, acme's real endpoint cannot be verified any more ...
    const stuck = await refreshAgainst(realUrl);
    expect(stuck.lastError?.reason).toBe('endpoint_identity');
    expect(heldAuthorities(partner, ACME)).toEqual([]);
    // ... until the operator bootstraps the relationship again.
    await partner.gateway.get(FederationService).remove(ACME);
    await partner.gateway.get(FederationService).create(spiffeRelationshipTo(acme));
    expect((await partner.gateway.get(FederationService).refreshNow(ACME)).state).toBe('ready');
    expect(await acmeWorkload()).toBeUndefined();
  });

  it('partner stayed up and ready throughout', async () => {
    const report = await partner.gateway.get(ReadinessRegistry).evaluate(2000);
    expect(report.checks.find((c) => c.name === 'federation')).toMatchObject({ ok: true });
    expect(await labWorkload()).toBeUndefined();
  });
});
