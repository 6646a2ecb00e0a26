/**
 * Syncs that survive what happens to real deployments, between two real gateways on
 * 127.0.0.1 (acme.test exports ml/shared to partner.test): a partner that stalls mid-record,
 * a replica shut down mid-record, a replica killed with SIGKILL mid-record (two or three
 * partner replicas on one database). Each interrupted record resumes from the bytes already
 * staged, on whichever replica runs the sync next, and arrives once and byte-identical.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportStore } from '../../../src/sync';
import { SyncWorker } from '../../../src/sync/sync-worker';
import { ACME, bundleEndpointEnv, issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import { startTestGateway, type TestGateway } from '../../support/gateway';
import { runParley, stopAllParley } from '../../support/parley-process';
import { ML_SHARED_EXPORT, gatedRelay, syncClient, syncWhen } from './sync-harness';

jest.setTimeout(180_000);

const RECORD_BYTES = 8 * 1024 * 1024;
/** The partner replicas' sync settings: short lease, fast polling and retries, stalls cut after 8 s, shutdown grace 1 s. */
const PARTNER_SYNC = {
  PARLEY_SYNC_LEASE: '3s',
  PARLEY_SYNC_POLL_INTERVAL: '200ms',
  PARLEY_SYNC_IDLE_TIMEOUT: '8s',
  PARLEY_SYNC_STOP_GRACE: '1s',
  PARLEY_SYNC_RETRY_INITIAL_BACKOFF: '200ms',
  PARLEY_SYNC_RETRY_MAX_BACKOFF: '1s',
};

describe('sync resilience', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  const replicas: TestGateway[] = [];

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ partner: PARTNER_SYNC }));
    await acme.gateway.get(ExportStore).put(ML_SHARED_EXPORT, 'test');
  });
  afterAll(async () => {
    await stopAllParley();
    for (const r of replicas) await r.stop();
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  /** A record of RECORD_BYTES in `namespace` on acme, a relay to acme that stalls after 3 MB, and a sync of that namespace created on partner. */
  async function stalledSync(namespace: string, target: string) {
    const bytes = payload(RECORD_BYTES);
    const writer = await workloadClient(acme, '/ml/app', acme);
    const cid = await writer.push({ namespace, media_type: 'application/octet-stream' }, bytes).finally(() => writer.close());
    const relay = await gatedRelay(acme.gateway.listeners.grpc!.port);
    relay.up = true;
    relay.stallAfter = 3 * 1024 * 1024;
    const ops = syncClient(await issueSvid(partner, '/ops'), partner, partner);
    const created = await ops.createSync({ remote_address: `127.0.0.1:${relay.port}`, remote_trust_domain: ACME, selection: { namespaces: [namespace] }, target_namespace: target });
    const deadline = Date.now() + 20_000;
    while (!relay.stalled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(relay.stalled).toBe(true);
    const status = (done: (s: typeof created) => boolean, ms: number) => syncWhen(ops, created.sync_id, done, ms);
    return { bytes, cid, relay, ops, id: created.sync_id, status };
  }

  /** The record arrived once, byte-identical, and no more than 1.3 × its size crossed the relay (a restart from zero would take ≥ 1.375 ×). */
  async function arrivedOnceResumed(cid: string, bytes: Buffer, landed: string, relayed: number): Promise<void> {
    const reader = await workloadClient(partner, '/ml/reader', partner);
    try {
      const pulled = await reader.pullAll(cid);
      expect([pulled.record.namespace, pulled.data.equals(bytes)]).toEqual([landed, true]);
      expect((await reader.list({ namespace: landed.split('/')[0], include_sub_namespaces: true, page_size: 100 })).records.filter((r) => r.cid === cid)).toHaveLength(1);
    } finally {
      reader.close();
    }
    expect(relayed).toBeLessThan(1.3 * RECORD_BYTES);
  }

  it('a partner that stalls mid-record: cut after the idle timeout (TIMEOUT in the status), then the record resumes from its staged bytes', async () => {
    const s = await stalledSync('ml/shared/stall', 'ml/stalled');
    try {
      const timedOut = await s.status((x) => x.failure_reason === 'FAILURE_REASON_TIMEOUT', 20_000);
      expect(timedOut).toMatchObject({ status: 'SYNC_STATUS_PENDING', failure_reason: 'FAILURE_REASON_TIMEOUT', attempt: 1 });
      expect(timedOut.message).toMatch(/sent nothing for 8000 ms/);
      s.relay.resume();
      const done = await s.status((x) => x.status === 'SYNC_STATUS_COMPLETED' || x.status === 'SYNC_STATUS_FAILED', 30_000);
      expect(done).toMatchObject({ status: 'SYNC_STATUS_COMPLETED', counters: { transferred: '1', failed: '0' } });
      await arrivedOnceResumed(s.cid, s.bytes, 'ml/stalled/ml/shared/stall', s.relay.sent);
    } finally {
      s.ops.close();
      await s.relay.close();
    }
  });

  it('a replica shut down mid-record stops within its grace and gives the sync back; another replica resumes the record', async () => {
    const s = await stalledSync('ml/shared/shutdown', 'ml/handed-over');
    try {
      const replica = await startTestGateway(bundleEndpointEnv(partner.config.identity.trustDomain, PARTNER_SYNC), { replicaOf: partner });
      replicas.push(replica);
      const started = Date.now();
      await partner.gateway.get(SyncWorker).stop();
      expect(Date.now() - started).toBeLessThan(4_000); // grace 1 s; the stalled transfer would otherwise hold it until the idle timeout (8 s)
      const handedBack = await s.status((x) => x.status === 'SYNC_STATUS_PENDING' || x.status === 'SYNC_STATUS_IN_PROGRESS', 2_000);
      expect(handedBack.message).toMatch(/interrupted by a gateway shutdown|^$/);
      expect(handedBack.attempt).toBe(0); // a shutdown is not a failed attempt
      s.relay.resume();
      const done = await s.status((x) => x.status === 'SYNC_STATUS_COMPLETED' || x.status === 'SYNC_STATUS_FAILED', 30_000);
      expect(done).toMatchObject({ status: 'SYNC_STATUS_COMPLETED', counters: { transferred: '1', failed: '0' } });
      await arrivedOnceResumed(s.cid, s.bytes, 'ml/handed-over/ml/shared/shutdown', s.relay.sent);
    } finally {
      s.ops.close();
      await s.relay.close();
    }
  });

  it('kill -9 of the replica running a sync: once its lease lapses another replica takes over and finishes; nothing duplicated or partial', async () => {
    // Only a `parley serve` process runs syncs now: the in-process replicas' workers are stopped.
    for (const r of replicas) await r.gateway.get(SyncWorker).stop();
    const dir = mkdtempSync(join(tmpdir(), 'parley-replica-'));
    const child = runParley(['serve'], {
      cwd: dir,
      env: { ...bundleEndpointEnv(partner.config.identity.trustDomain, PARTNER_SYNC), DATABASE_URL: partner.config.database.url!, PARLEY_DATA_DIR: partner.config.dataDir, PARLEY_OPS_PORT: '0', PARLEY_SYNC_IDLE_TIMEOUT: '60s' },
    });
    try {
      const ready = Date.now() + 60_000;
      while (!child.output().includes('parley gateway started') && child.child.exitCode === null && Date.now() < ready) await new Promise((r) => setTimeout(r, 100));
      expect(child.output()).toContain('parley gateway started');
      const s = await stalledSync('ml/shared/killed', 'ml/taken-over');
      try {
        const held = await s.status((x) => x.status === 'SYNC_STATUS_IN_PROGRESS', 5_000);
        expect(held.status).toBe('SYNC_STATUS_IN_PROGRESS');
        expect((await child.stop('SIGKILL')).signal).toBe('SIGKILL');
        const successor = await startTestGateway(bundleEndpointEnv(partner.config.identity.trustDomain, PARTNER_SYNC), { replicaOf: partner });
        replicas.push(successor);
        s.relay.resume();
        const done = await s.status((x) => x.status === 'SYNC_STATUS_COMPLETED' || x.status === 'SYNC_STATUS_FAILED', 40_000);
        expect(done).toMatchObject({ status: 'SYNC_STATUS_COMPLETED', counters: { transferred: '1', failed: '0' } });
        await arrivedOnceResumed(s.cid, s.bytes, 'ml/taken-over/ml/shared/killed', s.relay.sent);
        const metrics = await successor.gateway.get((await import('prom-client')).Registry).getSingleMetricAsString('parley_sync_lease_takeovers_total');
        expect(metrics).toMatch(/parley_sync_lease_takeovers_total 1$/m);
      } finally {
        s.ops.close();
        await s.relay.close();
      }
    } finally {
      await child.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
