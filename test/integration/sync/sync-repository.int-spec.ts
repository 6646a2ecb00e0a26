/** Sync jobs and their leases on real PostgreSQL: two workers (replicas) on one database. */
import type { DataSource } from 'typeorm';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { SyncRepository, type NewSync } from '../../../src/sync/sync.repository';
import { createTestDatabase } from '../../support/pg';

jest.setTimeout(60_000);

const DB_CONFIG = { url: undefined, migrationsRun: false, poolSize: 4, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } };
const NEW: NewSync = {
  remoteAddress: '127.0.0.1:8443',
  remoteSpiffeId: 'spiffe://partner.test/parley/gateway',
  selection: { namespaces: ['ml/shared'], cids: [], annotations: {} },
  continuous: false,
  targetNamespace: 'partners/partner.test',
  createdBy: 'spiffe://acme.test/ops',
};
const LEASE = { leaseMs: 60_000, max: 10, perPartner: 4 };

describe('SyncRepository: leases', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let repo: SyncRepository;

  beforeAll(async () => {
    db = await createTestDatabase('sync');
    ds = await connectDataSource(db.url, DB_CONFIG);
    await runMigrations(ds);
    repo = new SyncRepository(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    await ds.query('DELETE FROM syncs');
  });

  it('creates a PENDING sync with empty counters and times filled in', async () => {
    const s = await repo.create(NEW);
    expect(s).toMatchObject({ status: 'PENDING', failureReason: 'UNSPECIFIED', attempt: 0, counters: { discovered: 0, transferred: 0, skipped: 0, failed: 0, bytes: 0 }, ...NEW });
    expect(s.createdAt).toBeInstanceOf(Date);
    expect(await repo.get(s.id)).toEqual(s);
  });

  it('gives each sync to one worker only, even when both claim at once', async () => {
    for (let i = 0; i < 6; i++) await repo.create({ ...NEW, remoteSpiffeId: `spiffe://p${i}.test/parley/gateway` });
    const [a, b] = await Promise.all([repo.claim({ owner: 'replica-a', ...LEASE }), repo.claim({ owner: 'replica-b', ...LEASE })]);
    const ids = [...a, ...b].map((s) => s.id);
    expect(ids.length).toBe(6);
    expect(new Set(ids).size).toBe(6);
    expect([...a, ...b].every((s) => s.status === 'IN_PROGRESS')).toBe(true);
    expect(await repo.claim({ owner: 'replica-c', ...LEASE })).toEqual([]);
  });

  it('lets another worker take over a lapsed lease, and the old worker can no longer write', async () => {
    const s = await repo.create(NEW);
    expect((await repo.claim({ owner: 'replica-a', ...LEASE, leaseMs: 200 })).map((c) => c.id)).toEqual([s.id]);
    expect(await repo.claim({ owner: 'replica-b', ...LEASE })).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    const taken = await repo.claim({ owner: 'replica-b', ...LEASE });
    expect(taken.map((c) => [c.id, c.previousOwner])).toEqual([[s.id, 'replica-a']]);
    expect(await repo.heartbeat(s.id, 'replica-a', 60_000)).toBeUndefined();
    expect(await repo.progress(s.id, 'replica-a', { transferred: 1 })).toBe(false);
    expect(await repo.finish(s.id, 'replica-a', { status: 'COMPLETED' }, 0)).toBe(false);
    expect(await repo.heartbeat(s.id, 'replica-b', 60_000)).toBe('IN_PROGRESS');
    expect(await repo.progress(s.id, 'replica-b', { transferred: 2, bytes: 10 }, { discovered: 3 })).toBe(true);
    expect((await repo.get(s.id))?.counters).toEqual({ discovered: 3, transferred: 2, skipped: 0, failed: 0, bytes: 10 });
  });

  it('caps the syncs of one partner that run at once, over all workers', async () => {
    for (let i = 0; i < 5; i++) await repo.create(NEW);
    const a = await repo.claim({ owner: 'replica-a', ...LEASE, perPartner: 2 });
    expect(a.length).toBe(2);
    expect((await repo.claim({ owner: 'replica-b', ...LEASE, perPartner: 2 })).length).toBe(0);
  });

  it('records a retry with its reason and next attempt, a final failure, and a success', async () => {
    const s = await repo.create(NEW);
    await repo.claim({ owner: 'w', ...LEASE });
    const retryAt = Date.now() + 60_000;
    expect(await repo.finish(s.id, 'w', { status: 'PENDING', nextRunAtMs: retryAt, reason: 'UNREACHABLE', message: 'partner down' }, 1)).toBe(true);
    const retrying = await repo.get(s.id);
    expect(retrying).toMatchObject({ status: 'PENDING', failureReason: 'UNREACHABLE', message: 'partner down', attempt: 1 });
    expect(Math.abs(retrying!.nextAttemptAt.getTime() - retryAt)).toBeLessThan(5);
    expect(retrying!.leaseOwner).toBeUndefined();
    expect(await repo.claim({ owner: 'w', ...LEASE })).toEqual([]); // not due yet

    await ds.query('UPDATE syncs SET next_attempt_at = now()');
    await repo.claim({ owner: 'w', ...LEASE });
    expect(await repo.finish(s.id, 'w', { status: 'COMPLETED' }, 0)).toBe(true);
    const done = await repo.get(s.id);
    expect(done).toMatchObject({ status: 'COMPLETED', failureReason: 'UNSPECIFIED', attempt: 0 });
    expect(done!.lastSuccessAt).toBeInstanceOf(Date);
    expect(await repo.claim({ owner: 'w', ...LEASE })).toEqual([]); // a one-shot sync is done
  });

  it('runs a continuous sync again once its next run is due', async () => {
    const s = await repo.create({ ...NEW, continuous: true, intervalMs: 1000 });
    await repo.claim({ owner: 'w', ...LEASE });
    await repo.finish(s.id, 'w', { status: 'COMPLETED', nextRunAtMs: Date.now() + 300 }, 0);
    expect(await repo.claim({ owner: 'w', ...LEASE })).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    expect((await repo.claim({ owner: 'w', ...LEASE })).map((c) => c.id)).toEqual([s.id]);
  });

  it('deletes in every state: a held sync becomes DELETE_PENDING and then DELETED when its worker finishes', async () => {
    const idle = await repo.create(NEW);
    expect(await repo.requestDelete(idle.id)).toBe('DELETED');
    const running = await repo.create(NEW);
    await repo.claim({ owner: 'w', ...LEASE });
    expect(await repo.requestDelete(running.id)).toBe('DELETE_PENDING');
    expect(await repo.heartbeat(running.id, 'w', 60_000)).toBe('DELETE_PENDING');
    expect(await repo.finish(running.id, 'w', { status: 'COMPLETED' }, 0)).toBe(true);
    expect((await repo.get(running.id))?.status).toBe('DELETED');
    expect(await repo.requestDelete('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    const failed = await repo.create(NEW);
    await repo.claim({ owner: 'w', ...LEASE });
    await repo.finish(failed.id, 'w', { status: 'FAILED', reason: 'NOTHING_EXPORTED', message: 'nothing is exported to us' }, 1);
    expect(await repo.requestDelete(failed.id)).toBe('DELETED');
  });

  it('keeps a staged transfer per sync and record, to resume from', async () => {
    const s = await repo.create(NEW);
    expect(await repo.transfer(s.id, 'bafk1')).toBeUndefined();
    await repo.saveTransfer(s.id, 'bafk1', '17', 1024);
    await repo.saveTransfer(s.id, 'bafk1', '17', 4096);
    expect(await repo.transfer(s.id, 'bafk1')).toEqual({ uploadId: '17', stagedBytes: 4096 });
    await repo.dropTransfer(s.id, 'bafk1');
    expect(await repo.transfer(s.id, 'bafk1')).toBeUndefined();
  });

  it('lists newest first, one page at a time', async () => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await repo.create(NEW));
    const first = await repo.list(2);
    const second = await repo.list(2, { createdAt: first[1].createdAt, id: first[1].id });
    const third = await repo.list(2, { createdAt: second[1].createdAt, id: second[1].id });
    expect([...first, ...second, ...third].map((s) => s.id)).toEqual(made.map((s) => s.id).reverse());
  });
});
