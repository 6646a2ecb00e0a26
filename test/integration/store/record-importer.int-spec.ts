/** Importing records whose CID is known (sync): verified before visible, resumed from staged chunks, nothing kept on a mismatch. */
import { randomBytes } from 'node:crypto';
import { ContentId } from '../../../src/store/domain/content-id';
import { storeLimits } from '../../../src/store/domain/limits';
import { StoreCapacity } from '../../../src/store/store-capacity';
import { captureLogger } from '../../support/tls-clients';
import { RecordImporter, type StagedImport } from '../../../src/store/record-importer';
import { StoreRepository } from '../../../src/store/store.repository';
import { migratedDatabase } from './store-harness';

jest.setTimeout(60_000);

const CHUNK = 64 * 1024;
const draft = { namespace: 'partners/partner.test/ml', mediaType: 'application/octet-stream', annotations: { 'parley.sync.source': 'partner.test' }, creatorSpiffeId: 'spiffe://acme.test/parley/gateway', creatorTrustDomain: 'acme.test' };

async function* pieces(data: Buffer, offset: number, size = 10_000, failAfter?: number): AsyncIterable<Uint8Array> {
  let sent = 0;
  for (let at = offset; at < data.length; at += size) {
    if (failAfter !== undefined && sent >= failAfter) throw Object.assign(new Error('stream reset by the partner'), { code: 14 });
    const piece = data.subarray(at, Math.min(data.length, at + size));
    sent += piece.length;
    yield piece;
  }
}

describe('RecordImporter', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let repo: StoreRepository;
  let importer: RecordImporter;

  beforeAll(async () => {
    db = await migratedDatabase('import');
    repo = new StoreRepository(db.ds);
    importer = new RecordImporter(repo, 1024 * 1024 * 1024, CHUNK);
  });
  afterAll(async () => db?.drop());

  it('makes a record visible once its bytes hash to its CID', async () => {
    const data = randomBytes(300_000);
    const cid = ContentId.of(data);
    const offsets: number[] = [];
    const result = await importer.import({ cid, size: data.length, draft, source: (offset) => (offsets.push(offset), pieces(data, offset)) });
    expect(result).toEqual({ created: true, fetchedBytes: data.length });
    expect(offsets).toEqual([0]);
    expect((await repo.find(cid))?.namespace).toBe('partners/partner.test/ml');
    expect(await importer.import({ cid, size: data.length, draft, source: () => pieces(data, 0) })).toEqual({ created: false, fetchedBytes: 0 });
  });

  it('resumes an interrupted import from its staged chunks: only the rest is fetched', async () => {
    const data = randomBytes(5 * CHUNK + 123);
    const cid = ContentId.of(data);
    let staged: StagedImport | undefined;
    const onStaged = async (s: StagedImport) => void (staged = s);
    await expect(importer.import({ cid, size: data.length, draft, onStaged, source: (offset) => pieces(data, offset, 10_000, 3 * CHUNK + 500) })).rejects.toThrow('stream reset by the partner');
    expect(await repo.find(cid)).toBeUndefined();
    expect(staged?.stagedBytes).toBe(3 * CHUNK);
    const offsets: number[] = [];
    const result = await importer.import({ cid, size: data.length, draft, resume: staged, onStaged, source: (offset) => (offsets.push(offset), pieces(data, offset)) });
    expect(offsets).toEqual([3 * CHUNK]);
    expect(result).toEqual({ created: true, fetchedBytes: data.length - 3 * CHUNK });
    const pulled = Buffer.concat(await collect(repo, cid, 6));
    expect(pulled.equals(data)).toBe(true);
  });

  it('checkpoints after one chunk, then at doubling gaps up to checkpointBytes of whole chunks (each checkpoint is a commit)', async () => {
    const every2 = new RecordImporter(repo, 1024 * 1024 * 1024, CHUNK, { checkpointBytes: 4 * CHUNK - 1 });
    const data = randomBytes(16 * CHUNK + 123);
    const cid = ContentId.of(data);
    const checkpoints: number[] = [];
    await every2.import({ cid, size: data.length, draft, onStaged: async (s) => void checkpoints.push(s.stagedBytes), source: (o) => pieces(data, o, 10_000) });
    expect(checkpoints).toEqual([0, CHUNK, 3 * CHUNK, 7 * CHUNK, 11 * CHUNK, 15 * CHUNK]); // 0: the upload registered before its first byte
    expect(Buffer.concat(await collect(repo, cid, 17)).equals(data)).toBe(true);
  });

  it('starts over when the staged upload was swept meanwhile', async () => {
    const data = randomBytes(3 * CHUNK + 7);
    const cid = ContentId.of(data);
    let staged: StagedImport | undefined;
    await expect(importer.import({ cid, size: data.length, draft, onStaged: async (s) => void (staged = s), source: (o) => pieces(data, o, 10_000, 2 * CHUNK + 1) })).rejects.toThrow();
    await repo.payloads.discard(staged!.uploadId);
    const offsets: number[] = [];
    expect((await importer.import({ cid, size: data.length, draft, resume: staged, source: (o) => (offsets.push(o), pieces(data, o)) })).created).toBe(true);
    expect(offsets).toEqual([0]);
  });

  it('keeps nothing when the bytes do not match the CID (integrity_mismatch)', async () => {
    const data = randomBytes(2 * CHUNK + 10);
    const cid = ContentId.of(data);
    const tampered = Buffer.from(data);
    tampered[CHUNK + 5] ^= 0xff;
    const before = await repo.payloads.unfinishedCount();
    await expect(importer.import({ cid, size: data.length, draft, source: (o) => pieces(tampered, o) })).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'integrity_mismatch' } });
    const longer = Buffer.concat([data, Buffer.from('x')]);
    await expect(importer.import({ cid, size: data.length, draft, source: (o) => pieces(longer, o) })).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'integrity_mismatch' } });
    expect(await repo.find(cid)).toBeUndefined();
    expect(await repo.payloads.unfinishedCount()).toBe(before);
  });
});

describe('RecordImporter with the store capacity (store.uploadBufferBytes)', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let repo: StoreRepository;
  let capacity: StoreCapacity;
  let importer: RecordImporter;
  // Into PostgreSQL an import stages three chunks: 192 KiB of a 512 KiB budget.
  const limits = storeLimits({ chunkBytes: CHUNK, receiveMessageBytes: 64 * 1024, uploadBufferBytes: 512 * 1024, uploadBufferWaitMs: 300 });

  beforeAll(async () => {
    db = await migratedDatabase('import_capacity');
    repo = new StoreRepository(db.ds);
    capacity = new StoreCapacity(limits, captureLogger());
    importer = new RecordImporter(repo, 1024 * 1024 * 1024, CHUNK, { capacity });
  });
  afterAll(async () => db?.drop());

  /** The payload, noting the upload buffer in use each time a piece is fetched. */
  async function* watched(data: Buffer, offset: number, used: number[], failAfter?: number): AsyncIterable<Uint8Array> {
    for await (const piece of pieces(data, offset, 10_000, failAfter)) {
      used.push(capacity.uploadBuffer.used);
      yield piece;
    }
  }

  it('holds what its upload stages while it fetches, and gives it back after a success, a failed source and an integrity mismatch', async () => {
    const data = randomBytes(3 * CHUNK + 11);
    const cid = ContentId.of(data);
    const used: number[] = [];
    await expect(importer.import({ cid, size: data.length, draft, source: (o) => watched(data, o, used, CHUNK) })).rejects.toThrow('stream reset by the partner');
    expect(capacity.uploadBuffer.used).toBe(0);
    const tampered = Buffer.from(data);
    tampered[7] ^= 0xff;
    await expect(importer.import({ cid, size: data.length, draft, source: (o) => watched(tampered, o, used) })).rejects.toMatchObject({ details: { reason: 'integrity_mismatch' } });
    expect(capacity.uploadBuffer.used).toBe(0);
    expect(await importer.import({ cid, size: data.length, draft, source: (o) => watched(data, o, used) })).toEqual({ created: true, fetchedBytes: data.length });
    expect(capacity.uploadBuffer.used).toBe(0);
    expect(new Set(used)).toEqual(new Set([3 * CHUNK]));
  });

  it('waits while pushes hold the budget and is refused after store.uploadBufferWait before it fetches a byte or begins an upload', async () => {
    const data = randomBytes(CHUNK + 1);
    const cid = ContentId.of(data);
    const held = capacity.uploadBuffer.tryTake(400 * 1024)!; // what pushes hold: 112 KiB left
    const before = await repo.payloads.unfinishedCount();
    const fetched: number[] = [];
    const staged: number[] = [];
    try {
      await expect(importer.import({ cid, size: data.length, draft, onStaged: async (s) => void staged.push(s.stagedBytes), source: (o) => (fetched.push(o), pieces(data, o)) })).rejects.toMatchObject({
        code: 'resource_exhausted',
        details: { reason: 'upload_buffer' },
        message: expect.stringMatching(/^import of .*: no upload buffer space for 300 ms/),
      });
      expect([fetched, staged]).toEqual([[], []]);
      expect(await repo.payloads.unfinishedCount()).toBe(before);
      const waiting = importer.import({ cid, size: data.length, draft, source: (o) => pieces(data, o) });
      await new Promise((r) => setTimeout(r, 100));
      expect(capacity.uploadBuffer.waiting).toBe(1);
      held.release();
      expect((await waiting).created).toBe(true);
    } finally {
      held.release();
    }
    expect(capacity.uploadBuffer.used).toBe(0);
  });
});

async function collect(repo: StoreRepository, cid: ContentId, chunks: number): Promise<Buffer[]> {
  const record = await repo.find(cid);
  const out: Buffer[] = [];
  for await (const c of repo.payloads.read(record!.blobId, 0, chunks, CHUNK)) out.push(c.data);
  return out;
}
