import { ContentId, type ImportRequest, type RecordImporter, type StoreRepository, type WireRecord } from '../store';
import type { PartnerSession } from './partner-session';
import { RunStopped, runSync, type RunContext } from './sync-run';
import type { SyncRepository, SyncRow } from './sync.repository';

/** A record of the partner: its CID is the digest of its name. */
const record = (i: number): WireRecord => ({ cid: ContentId.of(Buffer.from(`record ${i}`)).toString(), namespace: 'ml/shared', media_type: 'application/octet-stream', size: '8', annotations: {} }) as unknown as WireRecord;

interface Harness {
  ctx: RunContext;
  started: string[];
  /** The most imports running at once. */
  peak: () => number;
  /** Lets the import of record `i` finish (or fail). */
  finish(i: number, err?: Error): void;
  /** Resolves when `n` imports have started. */
  startedCount(n: number): Promise<void>;
  progress: unknown[];
}

function harness(records: WireRecord[], recordsInFlight: number | undefined, stopped?: () => boolean): Harness {
  const gates = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  const started: string[] = [];
  const waiters: Array<() => void> = [];
  const progress: unknown[] = [];
  let running = 0;
  let peak = 0;
  const importer = {
    import: async (req: ImportRequest) => {
      started.push(req.cid.toString());
      waiters.splice(0).forEach((w) => w());
      running++;
      peak = Math.max(peak, running);
      try {
        await new Promise<void>((resolve, reject) => {
          gates.set(req.cid.toString(), { resolve, reject });
          req.signal?.addEventListener('abort', () => reject(new Error(`${req.cid.toString()} cancelled`)), { once: true });
        });
        return { created: true, fetchedBytes: req.size };
      } finally {
        running--;
      }
    },
  } as unknown as RecordImporter;
  const session = {
    scope: async () => [{ namespaces: ['ml/shared'], actions: ['pull'] }],
    invalidate: () => undefined,
    store: {
      list: async () => ({ records, next_page_token: '' }),
      pullReferrers: async () => [],
    },
  } as unknown as PartnerSession;
  const repository = {
    progress: async (...args: unknown[]) => (progress.push(args[2]), true),
    transfer: async () => undefined,
    saveTransfer: async () => undefined,
    dropTransfer: async () => undefined,
  } as unknown as SyncRepository;
  const sync = { id: 's1', remoteSpiffeId: 'spiffe://acme.example/parley/gateway', targetNamespace: 'partners/acme.example', selection: { namespaces: ['ml/shared'], cids: [], annotations: {} } } as unknown as SyncRow;
  const ctx: RunContext = {
    sync,
    owner: 'me',
    session,
    repository,
    store: {} as StoreRepository,
    importer,
    localId: 'spiffe://partner.example/parley/gateway',
    localTrustDomain: 'partner.example',
    checkpoint: () => {
      if (stopped?.()) throw new RunStopped('deleted');
    },
    idleMs: 1000,
    ...(recordsInFlight === undefined ? {} : { recordsInFlight }),
  };
  const finish = (i: number, err?: Error) => {
    const gate = gates.get(records[i].cid);
    if (gate === undefined) throw new Error(`record ${i} has not started`);
    if (err) gate.reject(err);
    else gate.resolve();
  };
  const startedCount = async (n: number) => {
    while (started.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { ctx, started, peak: () => peak, finish, startedCount, progress };
}

describe('runSync: records in flight', () => {
  it('copies up to recordsInFlight records at once, and every record of the page', async () => {
    const records = [0, 1, 2, 3, 4].map(record);
    const h = harness(records, 2);
    const run = runSync(h.ctx);
    await h.startedCount(2);
    await new Promise((r) => setImmediate(r));
    expect(h.started).toEqual([records[0].cid, records[1].cid]);
    h.finish(1);
    await h.startedCount(3);
    expect(h.started[2]).toBe(records[2].cid);
    h.finish(0);
    h.finish(2);
    await h.startedCount(5);
    h.finish(3);
    h.finish(4);
    const result = await run;
    expect(result).toEqual({ ok: true, counters: { discovered: 5, transferred: 5, skipped: 0, failed: 0, bytes: 40 } });
    expect(h.peak()).toBe(2);
  });

  it('copies one record at a time when recordsInFlight is unset', async () => {
    const records = [0, 1, 2].map(record);
    const h = harness(records, undefined);
    const run = runSync(h.ctx);
    for (let i = 0; i < 3; i++) {
      await h.startedCount(i + 1);
      await new Promise((r) => setImmediate(r));
      expect(h.started).toHaveLength(i + 1);
      h.finish(i);
    }
    expect((await run).ok).toBe(true);
    expect(h.peak()).toBe(1);
  });

  it('on the first failure stops the records in flight, starts no other, and reports that failure', async () => {
    const records = [0, 1, 2, 3].map(record);
    const h = harness(records, 2);
    const run = runSync(h.ctx);
    await h.startedCount(2);
    h.finish(0, new Error('partner went away'));
    const result = await run;
    expect(result).toEqual({ ok: false, reason: 'INTERNAL', message: 'partner went away' });
    expect(h.started).toEqual([records[0].cid, records[1].cid]);
  });

  it('a stop seen at a record boundary ends the run (RunStopped) once the records in flight stopped', async () => {
    let deleted = false;
    const records = [0, 1, 2].map(record);
    const h = harness(records, 2, () => deleted);
    const run = runSync(h.ctx);
    await h.startedCount(2);
    deleted = true;
    h.finish(0);
    await expect(run).rejects.toBeInstanceOf(RunStopped);
    expect(h.started).toHaveLength(2);
  });
});
