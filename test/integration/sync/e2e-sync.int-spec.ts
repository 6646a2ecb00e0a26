/**
 * Syncs between two real gateways on 127.0.0.1 (each its own PostgreSQL database, real mTLS,
 * federated both ways through their bundle endpoints): acme.test exports ml/shared to
 * partner.test; partner's sync worker asks for a grant with its own SVID and copies.
 */
import * as grpc from '@grpc/grpc-js';
import { PolicyStore } from '../../../src/authz';
import { ExportStore } from '../../../src/sync';
import { ACME, PARTNER, gatewayIdOf, grpcCode, issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { ML_SHARED_EXPORT, auditRows, gatedRelay, syncClient, syncWhen } from './sync-harness';

jest.setTimeout(120_000);

describe('sync between two gateways', () => {
  let acme: TestGateway;
  let partner: TestGateway;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair());
    await acme.gateway.get(ExportStore).put(ML_SHARED_EXPORT, 'test');
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  describe('a one-shot sync', () => {
    it('copies every exported record and its referrers byte-identical, and nothing outside the export; the sync ends COMPLETED', async () => {
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

      // Metrics: the copy on partner's ops listener, the grants on acme's (the exporter).
      const partnerMetrics = await scrapeMetrics(partner.gateway.listeners.ops!.port);
      const byAcme = { partner_trust_domain: ACME };
      expect(metricSum(partnerMetrics, 'parley_sync_records_transferred_total', byAcme)).toBe(exported.size);
      expect(metricSum(partnerMetrics, 'parley_sync_bytes_transferred_total', byAcme)).toBe(Number(sync.counters.bytes));
      expect(Number(sync.counters.bytes)).toBeGreaterThan(0);
      expect(metricSum(partnerMetrics, 'parley_sync_syncs', { status: 'COMPLETED' })).toBe(1);
      expect(metricSum(partnerMetrics, 'parley_sync_last_success_timestamp_seconds', byAcme)).toBeGreaterThan(Date.now() / 1000 - 120);
      const acmeMetrics = await scrapeMetrics(acme.gateway.listeners.ops!.port);
      expect(metricSum(acmeMetrics, 'parley_sync_grants_total', { result: 'issued' })).toBeGreaterThanOrEqual(1);
      expect(metricSum(acmeMetrics, 'parley_sync_grants_total', { result: 'used' })).toBeGreaterThanOrEqual(1);

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
      const bytes = payload(1_000_000);
      const writer = await workloadClient(acme, '/ml/app', acme);
      const cid = await writer.push({ namespace: 'ml/shared/outage', media_type: 'application/octet-stream' }, bytes).finally(() => writer.close());
      const relay = await gatedRelay(acme.gateway.listeners.grpc!.port);
      const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
      try {
        const created = await ops.createSync({ remote_address: `127.0.0.1:${relay.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared'] }, target_namespace: 'ml/after-outage' });
        const waitFor = (done: (s: typeof created) => boolean, ms: number) => syncWhen(ops, created.sync_id, done, ms);
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

    it('DeleteSync mid-run: the records being copied (sync.recordsInFlight, 2) finish, the sync stops at the next record boundary and ends DELETED', async () => {
      const big = payload(6_000_000);
      const writer = await workloadClient(acme, '/ml/app', acme);
      // Listed in push order: the two large records are the two in flight when the relay stalls.
      const first = await writer.push({ namespace: 'ml/shared/delete-me', media_type: 'application/octet-stream' }, big);
      const big2 = payload(6_000_001);
      const second = await writer.push({ namespace: 'ml/shared/delete-me', media_type: 'application/octet-stream' }, big2);
      const third = await writer.push({ namespace: 'ml/shared/delete-me', media_type: 'text/plain' }, Buffer.from('never copied')).finally(() => writer.close());
      const relay = await gatedRelay(acme.gateway.listeners.grpc!.port);
      relay.up = true;
      relay.stallAfter = 1_000_000;
      const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
      try {
        const created = await ops.createSync({ remote_address: `127.0.0.1:${relay.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared/delete-me'] }, target_namespace: 'ml/deleted' });
        const deadline = Date.now() + 20_000;
        while (!relay.stalled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(relay.stalled).toBe(true);
        // The page's records are counted as discovered before they are copied, not once the page is done.
        expect((await ops.getSync(created.sync_id)).counters.discovered).toBe('3');
        await ops.deleteSync(created.sync_id);
        expect((await ops.getSync(created.sync_id)).status).toBe('SYNC_STATUS_DELETE_PENDING');
        // The delete reaches the worker through the change feed at once, not with its next lease renewal (10 s).
        await new Promise((r) => setTimeout(r, 1_000));
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
        const found = await reader.lookup([first, second, third], true);
        expect(found.records.map((r) => r.cid)).toEqual([first, second]);
        expect((await reader.pullAll(first)).data.equals(big)).toBe(true);
        expect((await reader.pullAll(second)).data.equals(big2)).toBe(true);
      } finally {
        reader.close();
      }
    });

    it('a continuous sync picks up a record pushed after its first run within its interval, skipping what it holds', async () => {
      const writer = await workloadClient(acme, '/ml/app', acme);
      const reader = await workloadClient(partner, '/ml/reader', partner);
      const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
      try {
        const before = await writer.push({ namespace: 'ml/shared/feed', media_type: 'text/plain' }, Buffer.from('first'));
        const created = await ops.createSync({ remote_address: `127.0.0.1:${acme.gateway.listeners.grpc!.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared/feed'] }, continuous: true, interval_seconds: 10, target_namespace: 'ml/feed' });
        const waitFor = (done: (s: typeof created) => boolean, ms: number) => syncWhen(ops, created.sync_id, done, ms);
        const firstRun = await waitFor((s) => s.last_success_at !== null, 20_000);
        expect(firstRun).toMatchObject({ status: 'SYNC_STATUS_COMPLETED', counters: { transferred: '1' } });
        expect(firstRun.next_attempt_at).not.toBeNull();
        const after = await writer.push({ namespace: 'ml/shared/feed', media_type: 'text/plain' }, Buffer.from('second'));
        const pushedAt = Date.now();
        while ((await reader.lookup([after], true)).records.length === 0 && Date.now() - pushedAt < 20_000) await new Promise((r) => setTimeout(r, 100));
        // Due 10 s after the first run ended, at most; the slack is for a loaded machine.
        expect(Date.now() - pushedAt).toBeLessThan(15_000);
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

});
