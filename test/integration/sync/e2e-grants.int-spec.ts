/**
 * Grants between two real gateways on 127.0.0.1 (each its own PostgreSQL database, real
 * mTLS, federated both ways through their bundle endpoints): acme.test exports ml/shared to
 * partner.test; partner's gateway asks for a grant with its own SVID and uses it on acme's
 * store.
 */
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { DataSource } from 'typeorm';
import { AuditWriter, RevocationStore } from '../../../src/authz';
import { ExportStore, GrantService } from '../../../src/sync';
import { thumbprintOfFingerprint } from '../../../src/sync/domain/grant';
import { PartnerSession } from '../../../src/sync/partner-session';
import { TrustStore } from '../../../src/trust';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { ACME, PARTNER, gatewayIdOf, grpcCode, issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { auditRows, claimsOf, grantedStoreClient, syncClient } from './sync-harness';

jest.setTimeout(120_000);

const CREDENTIALS = '/parley.sync.v1.SyncService/RequestRegistryCredentials';

describe('grants between two gateways', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let partnerGatewaySvid: PemKeyPair;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair());
    partnerGatewaySvid = await issueSvid(partner, '/parley/gateway');
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  describe('RequestRegistryCredentials', () => {
    it('refuses a partner to which nothing is exported: PERMISSION_DENIED with the generic text, the reason in the audit', async () => {
      const client = syncClient(partnerGatewaySvid, partner, acme);
      try {
        const err = await client.requestRegistryCredentials().then(
          () => undefined,
          (e: grpc.ServiceError) => e,
        );
        expect([err?.code, err?.details]).toEqual([grpc.status.PERMISSION_DENIED, 'permission denied']);
      } finally {
        client.close();
      }
      const rows = await auditRows(acme, CREDENTIALS);
      expect(rows.at(-1)).toEqual({ spiffe_id: gatewayIdOf(PARTNER).toString(), decision: 'deny', reason: 'permission_denied: nothing is exported to you' });
    });

    it('grants what is exported, to the caller, bound to the certificate it called with', async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      const client = syncClient(partnerGatewaySvid, partner, acme);
      try {
        const res = await client.requestRegistryCredentials();
        expect(res).toMatchObject({ success: true, insecure: false, repository_name: 'ml/shared', scope: [{ export_id: 'ml-shared', namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }] });
        const claims = claimsOf(res.token);
        const leaf = new X509Certificate(partnerGatewaySvid.certChainPem);
        expect(claims).toMatchObject({ iss: gatewayIdOf(ACME).toString(), aud: gatewayIdOf(ACME).toString(), sub: gatewayIdOf(PARTNER).toString(), cnf: { 'x5t#S256': thumbprintOfFingerprint(leaf.fingerprint256) } });
        expect((claims.exp as number) - (claims.iat as number)).toBe(300);
      } finally {
        client.close();
      }
      expect((await auditRows(acme, CREDENTIALS)).at(-1)).toMatchObject({ spiffe_id: gatewayIdOf(PARTNER).toString(), decision: 'allow' });
    });
  });
  describe('a grant on store calls', () => {
    const cids: Record<string, string> = {};
    const sharedBytes = payload(300_000);
    let grant: string;

    beforeAll(async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      const writer = await workloadClient(acme, '/ml/app', acme);
      try {
        cids.shared = await writer.push({ namespace: 'ml/shared', media_type: 'application/octet-stream', annotations: { model: 'a' } }, sharedBytes);
        cids.sharedSub = await writer.push({ namespace: 'ml/shared/sub', media_type: 'text/plain' }, Buffer.from('below the export'));
        cids.private = await writer.push({ namespace: 'ml/private', media_type: 'text/plain' }, Buffer.from('not exported'));
        cids.signature = await writer.pushReferrer(cids.shared, { type: 'signature', media_type: 'application/json', data: Buffer.from('{"sig":"acme"}'), annotations: { alg: 'es256' } });
      } finally {
        writer.close();
      }
      const client = syncClient(partnerGatewaySvid, partner, acme);
      try {
        grant = (await client.requestRegistryCredentials()).token;
      } finally {
        client.close();
      }
    });

    it('lets the partner gateway List only what is exported: with the grant, records within the export; without it, nothing', async () => {
      const granted = grantedStoreClient(partnerGatewaySvid, grant, partner, acme);
      const forged = grantedStoreClient(partnerGatewaySvid, 'not-a-jws', partner, acme);
      try {
        const page = await granted.list({ namespace: 'ml', include_sub_namespaces: true, page_size: 100 });
        expect(page.records.map((r) => r.cid).sort()).toEqual([cids.shared, cids.sharedSub].sort());
        // A bearer that is no grant: UNAUTHENTICATED (audited as malformed); a List without one is not allowed (the default policy has no federated List).
        expect(await grpcCode(forged.list({ namespace: 'ml/shared' }))).toBe(grpc.status.UNAUTHENTICATED);
        expect((await auditRows(acme, '/parley.store.v1.StoreService/List')).at(-1)).toMatchObject({ decision: 'deny', reason: 'grant refused: grant_malformed' });
        const noGrant = await workloadClient(partner, '/parley/gateway', acme);
        try {
          expect(await grpcCode(noGrant.list({ namespace: 'ml/shared' }))).toBe(grpc.status.PERMISSION_DENIED);
        } finally {
          noGrant.close();
        }
      } finally {
        granted.close();
        forged.close();
      }
    });

    it('lets the partner gateway pull within the export and nothing outside it', async () => {
      const granted = grantedStoreClient(partnerGatewaySvid, grant, partner, acme);
      try {
        expect((await granted.pullAll(cids.shared)).data.equals(sharedBytes)).toBe(true);
        expect((await granted.lookup([cids.sharedSub])).records.map((r) => r.cid)).toEqual([cids.sharedSub]);
        expect((await granted.pullReferrers(cids.shared)).map((r) => r.cid)).toEqual([cids.signature]);
        expect(await grpcCode(granted.pullAll(cids.private))).toBe(grpc.status.PERMISSION_DENIED);
        expect(await grpcCode(granted.lookup([cids.private]))).toBe(grpc.status.PERMISSION_DENIED);
        expect(await grpcCode(granted.lookup([cids.shared, cids.private]))).toBe(grpc.status.PERMISSION_DENIED);
      } finally {
        granted.close();
      }
      await acme.gateway.get(AuditWriter).flush();
      const [denied] = await acme.gateway.get(DataSource).query(
        `SELECT reason FROM authz_audit WHERE method = '/parley.store.v1.StoreService/Pull' AND namespace = 'ml/private' AND spiffe_id = $1 ORDER BY id DESC LIMIT 1`,
        [gatewayIdOf(PARTNER).toString()],
      );
      expect(denied?.reason).toMatch(/^namespace ml\/private is outside grant [0-9a-f-]{36}$/);
    });

    it('refuses the grant replayed by another SPIFFE ID of the partner (its own certificate): audited as wrong_subject', async () => {
      const thief = grantedStoreClient(await issueSvid(partner, '/ml/trainer'), grant, partner, acme);
      try {
        // UNAUTHENTICATED: the grant is no credential of this caller (a sync worker asks for a new one).
        expect(await grpcCode(thief.list({ namespace: 'ml/shared' }))).toBe(grpc.status.UNAUTHENTICATED);
        expect(await grpcCode(thief.pullAll(cids.shared))).toBe(grpc.status.UNAUTHENTICATED);
      } finally {
        thief.close();
      }
      await acme.gateway.get(AuditWriter).flush();
      const rows: Array<{ method: string; reason: string }> = await acme.gateway.get(DataSource).query(
        `SELECT method, reason FROM authz_audit WHERE spiffe_id = $1 ORDER BY id`,
        [`spiffe://${PARTNER}/ml/trainer`],
      );
      expect(rows).toEqual([
        { method: '/parley.store.v1.StoreService/List', reason: 'grant refused: grant_wrong_subject' },
        { method: '/parley.store.v1.StoreService/Pull', reason: 'grant refused: grant_wrong_subject' },
      ]);
    });

    it('refuses the grant presented by the same SPIFFE ID with another certificate: audited as wrong_certificate', async () => {
      const other = grantedStoreClient(await issueSvid(partner, '/parley/gateway'), grant, partner, acme);
      try {
        expect(await grpcCode(other.pullAll(cids.shared))).toBe(grpc.status.UNAUTHENTICATED);
      } finally {
        other.close();
      }
      const rows = await auditRows(acme, '/parley.store.v1.StoreService/Pull');
      expect(rows.at(-1)).toEqual({ spiffe_id: gatewayIdOf(PARTNER).toString(), decision: 'deny', reason: 'grant refused: grant_wrong_certificate' });
    });
  });
  describe('expiry and annotation selectors', () => {
    it('refuses a grant signed by the gateway itself once it has expired: UNAUTHENTICATED, audited as expired', async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      const leaf = new X509Certificate(partnerGatewaySvid.certChainPem);
      // Issued by acme's own grant service with its own signing key, as of 10 minutes ago (the lifetime is 5).
      const { token } = await acme.gateway.get(GrantService).issue({ id: gatewayIdOf(PARTNER), fingerprint256: leaf.fingerprint256 }, Date.now() - 10 * 60_000);
      const granted = grantedStoreClient(partnerGatewaySvid, token, partner, acme);
      try {
        expect(await grpcCode(granted.list({ namespace: 'ml/shared' }))).toBe(grpc.status.UNAUTHENTICATED);
      } finally {
        granted.close();
      }
      expect((await auditRows(acme, '/parley.store.v1.StoreService/List')).at(-1)).toEqual({ spiffe_id: gatewayIdOf(PARTNER).toString(), decision: 'deny', reason: 'grant refused: grant_expired' });
    });

    it('an export with an annotation selector grants exactly the records carrying those annotations: listed, looked up and pulled; others refused', async () => {
      const writer = await workloadClient(acme, '/ml/app', acme);
      let released: string, draft: string;
      try {
        released = await writer.push({ namespace: 'eval/models', media_type: 'text/plain', annotations: { stage: 'released' } }, Buffer.from('released model'));
        draft = await writer.push({ namespace: 'eval/models', media_type: 'text/plain', annotations: { stage: 'draft' } }, Buffer.from('draft model'));
      } finally {
        writer.close();
      }
      await acme.gateway.get(ExportStore).put({ id: 'eval-released', partner: { trustDomain: PARTNER }, namespaces: ['eval'], annotations: { stage: 'released' }, actions: ['list', 'lookup', 'pull'] }, 'test');
      const client = syncClient(partnerGatewaySvid, partner, acme);
      const token = await client.requestRegistryCredentials().then((r) => r.token).finally(() => client.close());
      const granted = grantedStoreClient(partnerGatewaySvid, token, partner, acme);
      try {
        expect((await granted.list({ namespace: 'eval', include_sub_namespaces: true, page_size: 10 })).records.map((r) => r.cid)).toEqual([released]);
        expect((await granted.lookup([released])).records.map((r) => r.cid)).toEqual([released]);
        expect((await granted.pullAll(released)).data.toString()).toBe('released model');
        expect(await grpcCode(granted.pullAll(draft))).toBe(grpc.status.PERMISSION_DENIED);
        expect(await grpcCode(granted.lookup([draft]))).toBe(grpc.status.PERMISSION_DENIED);
      } finally {
        granted.close();
        await acme.gateway.get(ExportStore).remove('eval-released');
      }
    });
  });
  describe('a partner session', () => {
    it('asks for a new grant after its own SVID rotates, and goes on listing under it', async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      let current = partnerGatewaySvid;
      const listeners = new Set<() => void>();
      const svid = { current: () => current, onUpdate: (l: () => void) => (listeners.add(l), () => void listeners.delete(l)) };
      const session = new PartnerSession({ address: `127.0.0.1:${acme.gateway.listeners.grpc!.port}`, remoteId: gatewayIdOf(ACME), svid, trust: partner.gateway.get(TrustStore) });
      try {
        const before = (await auditRows(acme, CREDENTIALS)).length;
        await session.store.list({ namespace: 'ml/shared', page_size: 5 });
        await session.store.list({ namespace: 'ml/shared', page_size: 5 });
        expect((await auditRows(acme, CREDENTIALS)).length).toBe(before + 1); // one grant for both calls
        current = await issueSvid(partner, '/parley/gateway');
        for (const l of listeners) l();
        await session.store.list({ namespace: 'ml/shared', page_size: 5 });
        const after = await auditRows(acme, CREDENTIALS);
        expect(after.length).toBe(before + 2);
        expect(after.at(-1)).toMatchObject({ spiffe_id: gatewayIdOf(PARTNER).toString(), decision: 'allow' });
      } finally {
        session.close();
      }
    });
  });
  describe('after revocation', () => {
    it('voids the grants of a revoked SPIFFE ID at once: refused, audited as revoked', async () => {
      const client = syncClient(partnerGatewaySvid, partner, acme);
      let grant: string;
      try {
        grant = (await client.requestRegistryCredentials()).token;
      } finally {
        client.close();
      }
      const revocations = acme.gateway.get(RevocationStore);
      await revocations.add({ kind: 'spiffe_id', value: gatewayIdOf(PARTNER).toString(), reason: 'test: partner compromised', createdBy: 'test' });
      const granted = grantedStoreClient(partnerGatewaySvid, grant, partner, acme);
      try {
        expect(await grpcCode(granted.list({ namespace: 'ml/shared' }))).toBe(grpc.status.PERMISSION_DENIED);
      } finally {
        granted.close();
      }
      expect((await auditRows(acme, '/parley.store.v1.StoreService/List')).at(-1)).toMatchObject({ spiffe_id: gatewayIdOf(PARTNER).toString(), decision: 'deny', reason: expect.stringMatching(/^revoked: /) });
    });
  });
});
