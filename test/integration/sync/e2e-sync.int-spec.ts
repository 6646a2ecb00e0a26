/**
 * Sync between two real gateways on 127.0.0.1 (each its own PostgreSQL database, real mTLS,
 * federated both ways through their bundle endpoints): acme.test exports ml/shared to
 * partner.test; partner's gateway asks for a grant with its own SVID and syncs.
 */
import { X509Certificate } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { DataSource } from 'typeorm';
import { AuditWriter, PolicyStore, RevocationStore } from '../../../src/authz';
import { SyncClient, ExportStore } from '../../../src/sync';
import { thumbprintOfFingerprint } from '../../../src/sync/domain/grant';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { TrustStore } from '../../../src/trust';
import { StoreClient, storeChannelOptions } from '../../../src/store';
import { ACME, PARTNER, gatewayIdOf, grpcCode, issueSvid, payload, startFederatedPair, trustDomainOf, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';

jest.setTimeout(120_000);

/** A SyncService client holding `svid` (a workload or gateway of `from`), calling `target`. */
function syncClient(svid: PemKeyPair, from: TestGateway, target: TestGateway): SyncClient {
  const credentials = spiffeChannelCredentials({ svid, trust: from.gateway.get(TrustStore), server: { id: gatewayIdOf(trustDomainOf(target)) } });
  return new SyncClient(`127.0.0.1:${target.gateway.listeners.grpc!.port}`, credentials, { 'grpc.ssl_target_name_override': trustDomainOf(target) });
}

/** A store client holding `svid` of `from`, calling `target` with `authorization: Bearer <grant>` on every call (as a sync worker does). */
function grantedStoreClient(svid: PemKeyPair, grant: string, from: TestGateway, target: TestGateway): StoreClient {
  const bearer = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${grant}`);
    callback(null, md);
  });
  const tls = spiffeChannelCredentials({ svid, trust: from.gateway.get(TrustStore), server: { id: gatewayIdOf(trustDomainOf(target)) } });
  return new StoreClient(`127.0.0.1:${target.gateway.listeners.grpc!.port}`, grpc.credentials.combineChannelCredentials(tls, bearer), {
    ...storeChannelOptions(),
    'grpc.ssl_target_name_override': trustDomainOf(target),
  });
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function auditRows(gw: TestGateway, method: string): Promise<Array<{ spiffe_id: string; decision: string; reason: string }>> {
  await gw.gateway.get(AuditWriter).flush();
  return gw.gateway.get(DataSource).query('SELECT spiffe_id, decision, reason FROM authz_audit WHERE method = $1 ORDER BY id', [method]);
}

/** A TCP relay to 127.0.0.1:targetPort that can be down (every connection reset at once: the partner is unreachable) or up. */
async function gatedRelay(targetPort: number): Promise<{ port: number; up: boolean; stallAfter?: number; sent: number; stalled: boolean; resume(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const paused = new Set<Socket>();
  const relay = {
    port: 0,
    up: false,
    /** Once the partner sent this many bytes, its side stops being read (a stalled transfer) until `resume`. */
    stallAfter: undefined as number | undefined,
    sent: 0,
    stalled: false,
    resume() {
      relay.stallAfter = undefined;
      relay.stalled = false;
      for (const sock of paused) sock.resume();
      paused.clear();
    },
    close: async () => undefined as void,
  };
  const server = createServer((inbound) => {
    inbound.on('error', () => undefined);
    if (!relay.up) return void inbound.resetAndDestroy();
    const outbound = connect(targetPort, '127.0.0.1');
    for (const sock of [inbound, outbound]) {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => undefined);
    }
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => {
      relay.sent += chunk.length;
      if (relay.stallAfter !== undefined && relay.sent >= relay.stallAfter) {
        relay.stalled = true;
        outbound.pause();
        paused.add(outbound);
      }
    });
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as { port: number }).port;
  relay.close = async () => {
    for (const sock of [...sockets]) sock.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return relay;
}

const CREDENTIALS = '/parley.sync.v1.SyncService/RequestRegistryCredentials';

describe('sync between two gateways', () => {
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
  describe('a one-shot sync', () => {
    it('copies every exported record and its referrers byte-identical, and nothing outside the export; the sync ends COMPLETED', async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      const originals = new Map<string, Buffer>();
      const writer = await workloadClient(acme, '/ml/app', acme);
      let signature: string;
      try {
        for (const [ns, bytes] of [['ml/shared', payload(2_500_000)], ['ml/shared/eval', payload(10)], ['ml/shared', Buffer.alloc(0)], ['ml/private', payload(100)]] as const) {
          originals.set(await writer.push({ namespace: ns, media_type: 'application/octet-stream', annotations: { origin: ns } }, bytes), bytes);
        }
        signature = await writer.pushReferrer([...originals.keys()][0], { type: 'signature', media_type: 'application/json', data: Buffer.from('{"sig":"one"}'), annotations: { alg: 'es256' } });
      } finally {
        writer.close();
      }
      const [first, , , privateCid] = [...originals.keys()];
      // Everything acme holds in ml/shared (earlier tests of this file pushed there too), as acme serves it.
      const exported = new Map<string, Buffer>();
      const acmeReader = await workloadClient(acme, '/ml/app', acme);
      try {
        for (const r of (await acmeReader.list({ namespace: 'ml/shared', include_sub_namespaces: true, page_size: 100 })).records) exported.set(r.cid, (await acmeReader.pullAll(r.cid)).data);
      } finally {
        acmeReader.close();
      }
      expect(exported.size).toBeGreaterThanOrEqual(3);

      // partner's own operator creates the sync on partner's gateway (its SyncService over mTLS).
      const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
      let sync;
      try {
        const created = await ops.createSync({ remote_address: `127.0.0.1:${acme.gateway.listeners.grpc!.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared'] } });
        expect(created).toMatchObject({ status: 'SYNC_STATUS_PENDING', remote_spiffe_id: gatewayIdOf(ACME).toString(), target_namespace: `partners/${ACME}` });
        const deadline = Date.now() + 30_000;
        do {
          await new Promise((r) => setTimeout(r, 200));
          sync = await ops.getSync(created.sync_id);
        } while (!['SYNC_STATUS_COMPLETED', 'SYNC_STATUS_FAILED'].includes(sync.status) && Date.now() < deadline);
      } finally {
        ops.close();
      }
      expect({ status: sync.status, message: sync.message }).toEqual({ status: 'SYNC_STATUS_COMPLETED', message: expect.any(String) });
      expect(sync.counters).toMatchObject({ discovered: String(exported.size), transferred: String(exported.size), skipped: '0', failed: '0' });

      const reader = await workloadClient(partner, '/ml/reader', partner);
      try {
        const page = await reader.list({ namespace: `partners/${ACME}`, include_sub_namespaces: true, page_size: 100 });
        expect(page.records.map((r) => r.cid).sort()).toEqual([...exported.keys()].sort());
        for (const record of page.records) {
          const pulled = await reader.pullAll(record.cid);
          expect(pulled.data.equals(exported.get(record.cid)!)).toBe(true);
          if (originals.has(record.cid)) expect([record.namespace, pulled.data.equals(originals.get(record.cid)!)]).toEqual([`partners/${ACME}/${record.annotations.origin}`, true]);
          expect(record.annotations).toMatchObject({ 'parley.sync.source-trust-domain': ACME, 'parley.sync.source-gateway': gatewayIdOf(ACME).toString(), 'parley.sync.id': sync.sync_id });
        }
        const referrers = await reader.pullReferrers(first);
        expect(referrers.map((r) => [r.cid, r.type, Buffer.from(r.data!).toString()])).toEqual([[signature, 'signature', '{"sig":"one"}']]);
        expect(await grpcCode(reader.pullAll(privateCid))).toBe(grpc.status.NOT_FOUND);
      } finally {
        reader.close();
      }
    });

    it('explains a partner it cannot reach: PENDING with UNREACHABLE, the attempt counted and the next one scheduled', async () => {
      const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
      try {
        const created = await ops.createSync({ remote_address: '127.0.0.1:1', remote_trust_domain: ACME, selection: { namespaces: ['ml/shared'] }, target_namespace: 'ml/unreachable' });
        const deadline = Date.now() + 20_000;
        let sync = created;
        while (sync.attempt === 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          sync = await ops.getSync(created.sync_id);
        }
        expect(sync).toMatchObject({ failure_reason: 'FAILURE_REASON_UNREACHABLE', message: expect.stringContaining('127.0.0.1:1') });
        expect(sync.attempt).toBeGreaterThanOrEqual(1);
        expect(['SYNC_STATUS_PENDING', 'SYNC_STATUS_IN_PROGRESS']).toContain(sync.status);
        expect(sync.next_attempt_at).not.toBeNull();
        await ops.deleteSync(created.sync_id);
      } finally {
        ops.close();
      }
    });

    it('ends COMPLETED after a partner outage, the failed attempts visible in the status while it lasted', async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      const bytes = payload(1_000_000);
      const writer = await workloadClient(acme, '/ml/app', acme);
      const cid = await writer.push({ namespace: 'ml/shared/outage', media_type: 'application/octet-stream' }, bytes).finally(() => writer.close());
      const relay = await gatedRelay(acme.gateway.listeners.grpc!.port);
      const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
      try {
        const created = await ops.createSync({ remote_address: `127.0.0.1:${relay.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared'] }, target_namespace: 'ml/after-outage' });
        const waitFor = async (done: (s: typeof created) => boolean, ms: number) => {
          const deadline = Date.now() + ms;
          let sync = await ops.getSync(created.sync_id);
          while (!done(sync) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
            sync = await ops.getSync(created.sync_id);
          }
          return sync;
        };
        const during = await waitFor((s) => s.attempt >= 2, 20_000);
        expect(during).toMatchObject({ status: 'SYNC_STATUS_PENDING', failure_reason: 'FAILURE_REASON_UNREACHABLE' });
        expect(during.attempt).toBeGreaterThanOrEqual(2);
        relay.up = true;
        const after = await waitFor((s) => s.status === 'SYNC_STATUS_COMPLETED' || s.status === 'SYNC_STATUS_FAILED', 30_000);
        expect(after).toMatchObject({ status: 'SYNC_STATUS_COMPLETED', failure_reason: 'FAILURE_REASON_UNSPECIFIED', attempt: 0, counters: { failed: '0' } });
        expect(Number(after.counters.transferred)).toBeGreaterThanOrEqual(1);
        expect(after.last_success_at).not.toBeNull();
        const reader = await workloadClient(partner, '/ml/reader', partner);
        const pulled = await reader.pullAll(cid).finally(() => reader.close());
        expect([pulled.record.namespace, pulled.data.equals(bytes)]).toEqual(['ml/after-outage/ml/shared/outage', true]);
      } finally {
        ops.close();
        await relay.close();
      }
    });

    it('DeleteSync mid-run: the record being copied finishes, the sync stops at the next record boundary and ends DELETED', async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      const big = payload(6_000_000);
      const writer = await workloadClient(acme, '/ml/app', acme);
      const first = await writer.push({ namespace: 'ml/shared/delete-me', media_type: 'application/octet-stream' }, big);
      const second = await writer.push({ namespace: 'ml/shared/delete-me', media_type: 'text/plain' }, Buffer.from('never copied')).finally(() => writer.close());
      const relay = await gatedRelay(acme.gateway.listeners.grpc!.port);
      relay.up = true;
      relay.stallAfter = 1_000_000;
      const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
      try {
        const created = await ops.createSync({ remote_address: `127.0.0.1:${relay.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared/delete-me'] }, target_namespace: 'ml/deleted' });
        const deadline = Date.now() + 20_000;
        while (!relay.stalled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(relay.stalled).toBe(true);
        await ops.deleteSync(created.sync_id);
        expect((await ops.getSync(created.sync_id)).status).toBe('SYNC_STATUS_DELETE_PENDING');
        // The worker learns of the delete with its next lease renewal (a third of the lease).
        await new Promise((r) => setTimeout(r, 11_000));
        relay.resume();
        let sync = await ops.getSync(created.sync_id);
        while (sync.status !== 'SYNC_STATUS_DELETED' && Date.now() < deadline + 30_000) {
          await new Promise((r) => setTimeout(r, 100));
          sync = await ops.getSync(created.sync_id);
        }
        expect(sync.status).toBe('SYNC_STATUS_DELETED');
      } finally {
        ops.close();
        await relay.close();
      }
      const reader = await workloadClient(partner, '/ml/reader', partner);
      try {
        const found = await reader.lookup([first, second], true);
        expect(found.records.map((r) => r.cid)).toEqual([first]);
        expect((await reader.pullAll(first)).data.equals(big)).toBe(true);
      } finally {
        reader.close();
      }
    });

    it('a continuous sync picks up a record pushed after its first run within its interval, skipping what it holds', async () => {
      await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'test');
      const writer = await workloadClient(acme, '/ml/app', acme);
      const reader = await workloadClient(partner, '/ml/reader', partner);
      const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
      try {
        const before = await writer.push({ namespace: 'ml/shared/feed', media_type: 'text/plain' }, Buffer.from('first'));
        const created = await ops.createSync({ remote_address: `127.0.0.1:${acme.gateway.listeners.grpc!.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared/feed'] }, continuous: true, interval_seconds: 10, target_namespace: 'ml/feed' });
        const waitFor = async (done: (s: typeof created) => boolean, ms: number) => {
          const deadline = Date.now() + ms;
          let sync = await ops.getSync(created.sync_id);
          while (!done(sync) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
            sync = await ops.getSync(created.sync_id);
          }
          return sync;
        };
        const firstRun = await waitFor((s) => s.last_success_at !== null, 20_000);
        expect(firstRun).toMatchObject({ status: 'SYNC_STATUS_COMPLETED', counters: { transferred: '1' } });
        expect(firstRun.next_attempt_at).not.toBeNull();
        const after = await writer.push({ namespace: 'ml/shared/feed', media_type: 'text/plain' }, Buffer.from('second'));
        const pushedAt = Date.now();
        while ((await reader.lookup([after], true)).records.length === 0 && Date.now() - pushedAt < 20_000) await new Promise((r) => setTimeout(r, 100));
        expect(Date.now() - pushedAt).toBeLessThan(12_000);
        // Each run counts afresh: the second copied the new record and skipped the one it held.
        const firstSuccess = Number(firstRun.last_success_at!.seconds) * 1000 + firstRun.last_success_at!.nanos / 1e6;
        const secondRun = await waitFor((s) => s.status === 'SYNC_STATUS_COMPLETED' && Number(s.last_success_at!.seconds) * 1000 + s.last_success_at!.nanos / 1e6 > firstSuccess, 10_000);
        expect(secondRun.counters).toMatchObject({ discovered: '2', transferred: '1', skipped: '1', failed: '0' });
        expect((await reader.lookup([before, after])).records.map((r) => r.namespace)).toEqual(['ml/feed/ml/shared/feed', 'ml/feed/ml/shared/feed']);
        await ops.deleteSync(created.sync_id);
      } finally {
        writer.close();
        reader.close();
        ops.close();
      }
    });

    it('refuses a CreateSync whose records would land where its caller may not push: PERMISSION_DENIED, audited', async () => {
      await partner.gateway.get(PolicyStore).replaceAll(
        [
          { id: 'own', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] },
          { id: 'reader-no-partners', effect: 'deny', subjects: [{ spiffeId: `spiffe://${PARTNER}/ml/reader` }], methods: ['/parley.store.v1.StoreService/Push'], namespaces: ['partners'] },
        ],
        { actor: 'test' },
      );
      const reader = syncClient(await issueSvid(partner, '/ml/reader'), partner, partner);
      try {
        const request = { remote_address: `127.0.0.1:${acme.gateway.listeners.grpc!.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared'] } };
        expect(await grpcCode(reader.createSync(request))).toBe(grpc.status.PERMISSION_DENIED);
        // Where it may push, it may sync.
        expect(await reader.createSync({ ...request, target_namespace: 'ml/mirror' })).toMatchObject({ target_namespace: 'ml/mirror' });
      } finally {
        reader.close();
      }
      const rows = await auditRows(partner, '/parley.sync.v1.SyncService/CreateSync');
      expect(rows.slice(-2)).toEqual([
        { spiffe_id: `spiffe://${PARTNER}/ml/reader`, decision: 'deny', reason: `permission_denied: may not push into target namespace partners/${ACME}: denied by rule "reader-no-partners"` },
        expect.objectContaining({ spiffe_id: `spiffe://${PARTNER}/ml/reader`, decision: 'allow' }),
      ]);
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
