import { Registry } from 'prom-client';
import { captureLogger } from '../../test/support/tls-clients';
import { storeLimits } from './domain/limits';
import { StoreCapacity } from './store-capacity';

const MiB = 1024 * 1024;
const CID = 'bafkreia';

async function refusals(metrics: Registry): Promise<number> {
  const counter = await metrics.getSingleMetric('parley_store_capacity_refusals_total')!.get();
  return counter.values.filter((v) => v.labels.limit === 'upload_buffer').reduce((sum, v) => sum + v.value, 0);
}

describe('StoreCapacity: sync imports share the upload buffer with pushes', () => {
  // A push into the object store: 2 x 8 MiB messages + 4 parts of 8 MiB = 48 MiB; an import stages the parts only, 32 MiB.
  const limits = storeLimits({ objectPartsBytes: 32 * MiB, uploadBufferBytes: 80 * MiB, uploadBufferWaitMs: 200 });

  it('an import reserves what its upload stages in the configured backend: the parts into s3, three chunks into PostgreSQL', () => {
    expect(new StoreCapacity(limits, captureLogger()).uploadStagingBytes).toBe(32 * MiB);
    expect(new StoreCapacity(limits, captureLogger()).pushReserveBytes).toBe(48 * MiB);
    expect(new StoreCapacity(storeLimits({ chunkBytes: 2 * MiB }), captureLogger()).uploadStagingBytes).toBe(6 * MiB);
  });

  it('an import takes its bytes from the budget a push takes from, waits while it is spent, and goes on when a push gives it back', async () => {
    const capacity = new StoreCapacity(limits, captureLogger());
    const push = await capacity.reserveUpload({ peer: undefined as never, refuse: () => undefined }, new AbortController().signal);
    const first = await capacity.reserveImport(CID);
    expect(capacity.uploadBuffer.used).toBe(80 * MiB);
    const waiting = capacity.reserveImport(CID);
    await new Promise((r) => setTimeout(r, 20));
    expect(capacity.uploadBuffer.waiting).toBe(1);
    push.release();
    const second = await waiting;
    expect(capacity.uploadBuffer.used).toBe(64 * MiB);
    first.release();
    second.release();
    expect(capacity.uploadBuffer.used).toBe(0);
  });

  it('an import that waited store.uploadBufferWait is refused: RESOURCE_EXHAUSTED (reason upload_buffer), counted under limit upload_buffer, logged', async () => {
    const metrics = new Registry();
    const logger = captureLogger();
    const capacity = new StoreCapacity(limits, logger, metrics);
    const held = capacity.uploadBuffer.tryTake(80 * MiB)!;
    await expect(capacity.reserveImport(CID)).rejects.toMatchObject({
      code: 'resource_exhausted',
      message: `import of ${CID}: no upload buffer space for 200 ms (store.uploadBufferBytes is in use by pushes and imports); retry later`,
      details: { reason: 'upload_buffer', cid: CID },
    });
    expect(await refusals(metrics)).toBe(1);
    expect(logger.matching('sync import refused by a capacity limit')).toEqual([expect.objectContaining({ level: 'warn', obj: expect.objectContaining({ cid: CID, limit: 'upload_buffer' }) })]);
    expect(capacity.uploadBuffer.waiting).toBe(0);
    held.release();
    expect(capacity.uploadBuffer.used).toBe(0);
  });

  it('an import stopped while it waits leaves the queue: cancelled, not refused', async () => {
    const metrics = new Registry();
    const capacity = new StoreCapacity(limits, captureLogger(), metrics);
    const held = capacity.uploadBuffer.tryTake(80 * MiB)!;
    const stop = new AbortController();
    const waiting = capacity.reserveImport(CID, stop.signal);
    stop.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'cancelled', message: `import of ${CID}: stopped` });
    await expect(capacity.reserveImport(CID, stop.signal)).rejects.toMatchObject({ code: 'cancelled' });
    expect(capacity.uploadBuffer.waiting).toBe(0);
    expect(await refusals(metrics)).toBe(0);
    held.release();
  });
});
