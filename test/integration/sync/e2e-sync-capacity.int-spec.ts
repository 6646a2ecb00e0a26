/**
 * A sync import takes its upload buffer from the budget the gateway's pushes take from
 * (store.uploadBufferBytes), between two real gateways on 127.0.0.1 (acme.test exports
 * ml/shared to partner.test): while pushes hold the budget the import waits, is refused
 * after store.uploadBufferWait (counted as the push refusals are), and the run is retried
 * with backoff (TIMEOUT) instead of counting the record as not taken; once the budget is
 * given back the record arrives.
 */
import { StoreService } from '../../../src/store';
import { ExportStore } from '../../../src/sync';
import { ACME, issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { ML_SHARED_EXPORT, syncClient, syncWhen } from './sync-harness';

jest.setTimeout(120_000);

describe('sync import and the upload buffer budget', () => {
  let acme: TestGateway;
  let partner: TestGateway;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({
      partner: { PARLEY_SYNC_POLL_INTERVAL: '200ms', PARLEY_SYNC_RETRY_INITIAL_BACKOFF: '200ms', PARLEY_SYNC_RETRY_MAX_BACKOFF: '500ms', PARLEY_STORE_UPLOAD_BUFFER_WAIT: '1s' },
    }));
    await acme.gateway.get(ExportStore).put(ML_SHARED_EXPORT, 'test');
  });
  afterAll(async () => Promise.all([acme?.stop(), partner?.stop()]));

  it('waits while pushes hold the budget, is refused after store.uploadBufferWait (retried, TIMEOUT), and arrives once the budget is given back', async () => {
    const bytes = payload(3 * 1024 * 1024 + 17);
    const writer = await workloadClient(acme, '/ml/app', acme);
    const cid = await writer.push({ namespace: 'ml/shared/busy', media_type: 'application/octet-stream' }, bytes).finally(() => writer.close());
    const capacity = partner.gateway.get(StoreService).capacity;
    const held = capacity.uploadBuffer.tryTake(capacity.uploadBuffer.capacity)!; // as running pushes would
    const metrics = () => scrapeMetrics(partner.gateway.listeners.ops!.port);
    const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
    try {
      const created = await ops.createSync({ remote_address: `127.0.0.1:${acme.gateway.listeners.grpc!.port}`, remote_trust_domain: ACME, selection: { namespaces: ['ml/shared/busy'] }, target_namespace: 'ml/busy' });
      const refused = await syncWhen(ops, created.sync_id, (s) => s.failure_reason === 'FAILURE_REASON_TIMEOUT' || s.status === 'SYNC_STATUS_COMPLETED', 20_000);
      expect(refused).toMatchObject({ status: 'SYNC_STATUS_PENDING', failure_reason: 'FAILURE_REASON_TIMEOUT' });
      expect(refused.message).toMatch(/^import of [a-z0-9]+: no upload buffer space for 1000 ms \(store\.uploadBufferBytes is in use by pushes and imports\); retry later$/);
      expect(metricSum(await metrics(), 'parley_store_capacity_refusals_total', { limit: 'upload_buffer' })).toBeGreaterThanOrEqual(1);
      expect(refused.counters?.failed ?? '0').toBe('0'); // the record was not given up on

      held.release();
      const done = await syncWhen(ops, created.sync_id, (s) => s.status === 'SYNC_STATUS_COMPLETED' || s.status === 'SYNC_STATUS_FAILED', 30_000);
      expect({ status: done.status, transferred: done.counters?.transferred, failed: done.counters?.failed }).toEqual({ status: 'SYNC_STATUS_COMPLETED', transferred: '1', failed: '0' });
      const reader = await workloadClient(partner, '/ml/reader', partner);
      try {
        expect((await reader.pullAll(cid)).data.equals(bytes)).toBe(true);
      } finally {
        reader.close();
      }
      expect(metricSum(await metrics(), 'parley_store_upload_buffer_reserved_bytes')).toBe(0); // the import gave its share back
    } finally {
      held.release();
      ops.close();
    }
  });
});
