import * as grpc from '@grpc/grpc-js';
import { ContentId } from '../../../src/store/domain/content-id';
import { eventually, patternBytes, startStoreHarness, type StoreHarness } from './store-harness';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;

type RawPush = (callback: (err: grpc.ServiceError | null) => void) => grpc.ClientWritableStream<object>;

/**
 * Every failing push answers its status and stores nothing: no record, no staged blob, no
 * chunk (checked after each case; the file's database holds no successful push).
 */
describe('store: failed pushes store nothing', () => {
  let h: StoreHarness;
  beforeAll(async () => {
    h = await startStoreHarness({ limits: { maxRecordBytes: 4 * MiB, chunkBytes: 256 * 1024, maxAnnotations: 4, pushIdleTimeoutMs: 1_000 } });
  });
  afterAll(() => h?.stop());

  const nothingStored = () =>
    eventually(async () => (await h.count('store_records')) === 0 && (await h.count('store_blobs')) === 0 && (await h.count('store_chunks')) === 0);

  const payload = patternBytes(MiB + 17, 3);
  const cidOf = (b: Buffer) => ContentId.of(b).toString();

  it.each([
    ['digest mismatch (CID)', { expected_digest: cidOf(Buffer.from('other bytes')) }, grpc.status.INVALID_ARGUMENT, /digest mismatch/],
    ['digest mismatch (sha256:)', { expected_digest: `sha256:${'0'.repeat(64)}` }, grpc.status.INVALID_ARGUMENT, /digest mismatch/],
    ['size mismatch: payload longer than announced', { expected_size: String(payload.length - 1) }, grpc.status.INVALID_ARGUMENT, /size mismatch/],
    ['size mismatch: payload shorter than announced', { expected_size: String(payload.length + 1) }, grpc.status.INVALID_ARGUMENT, /size mismatch/],
    ['announced size above the maximum', { expected_size: String(4 * MiB + 1) }, grpc.status.RESOURCE_EXHAUSTED, /maximum record size/],
    ['malformed expected digest', { expected_digest: 'bafy-not-a-cid' }, grpc.status.INVALID_ARGUMENT, /expected_digest: invalid cid/],
  ])('%s', async (_name, extra, code, details) => {
    const client = await h.client();
    await expect(client.push({ namespace: 'ml/models', ...extra }, payload, { chunkBytes: 64 * 1024 })).rejects.toMatchObject({ code, details: expect.stringMatching(details) });
    await nothingStored();
  });

  it('payload above the maximum record size: RESOURCE_EXHAUSTED at the first byte too many', async () => {
    const client = await h.client();
    const big = patternBytes(5 * MiB, 4);
    await expect(client.push({ namespace: 'ml/models' }, big, { chunkBytes: 512 * 1024 })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: expect.stringMatching(/exceeds the maximum record size of 4194304 bytes/),
    });
    await nothingStored();
  });

  it.each([
    ['namespace missing', { namespace: '' }, grpc.status.INVALID_ARGUMENT, /header\.namespace: required/],
    ['namespace with upper case', { namespace: 'ML/models' }, grpc.status.INVALID_ARGUMENT, /header\.namespace: segment/],
    ['namespace with an empty segment', { namespace: 'ml//models' }, grpc.status.INVALID_ARGUMENT, /header\.namespace: segment/],
    ['namespace with a dot segment', { namespace: 'ml/../x' }, grpc.status.INVALID_ARGUMENT, /header\.namespace: segment/],
    ['annotation key syntax', { namespace: 'ml', annotations: { 'Bad Key': 'v' } }, grpc.status.INVALID_ARGUMENT, /header\.annotations: key/],
    ['too many annotations', { namespace: 'ml', annotations: { a: '1', b: '2', c: '3', d: '4', e: '5' } }, grpc.status.RESOURCE_EXHAUSTED, /more than 4 annotations/],
    ['annotation value too long', { namespace: 'ml', annotations: { a: 'x'.repeat(4097) } }, grpc.status.RESOURCE_EXHAUSTED, /longer than 4096 bytes/],
    ['media type with parameters', { namespace: 'ml', media_type: 'text/plain; charset=utf-8' }, grpc.status.INVALID_ARGUMENT, /header\.media_type/],
  ])('header: %s', async (_name, header, code, details) => {
    const client = await h.client();
    await expect(client.push(header, payload)).rejects.toMatchObject({ code, details: expect.stringMatching(details) });
    await nothingStored();
  });

  it('a stream that does not start with a header, or repeats it, is INVALID_ARGUMENT', async () => {
    const client = await h.client();
    const noHeader = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = (client.raw as unknown as { Push: RawPush }).Push((err) => resolve(err));
      call.write({ chunk: Buffer.from('abc') });
      call.end();
    });
    expect(await noHeader).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/first message must be the header/) });
    const twice = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = (client.raw as unknown as { Push: RawPush }).Push((err) => resolve(err));
      call.write({ header: { namespace: 'ml' } });
      call.write({ chunk: Buffer.from('abc') });
      call.write({ header: { namespace: 'ml' } });
      call.end();
    });
    expect(await twice).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/only the first message may be a header/) });
    await nothingStored();
  });

  it('client cancel mid-push: CANCELLED, and the chunks written are rolled back', async () => {
    const client = await h.client();
    const controller = new AbortController();
    async function* slowPayload() {
      for (let i = 0; i < 3; i++) yield patternBytes(256 * 1024, 10 + i);
      // Cancel once the server has written chunks (into its COPY, invisible until commit), while the stream is still open.
      await eventually(async () => {
        const rows: Array<{ n: string }> = await h.ds.query(`SELECT coalesce(max(bytes_processed), 0) AS n FROM pg_stat_progress_copy WHERE relid = 'store_chunks'::regclass`);
        return Number(rows[0]?.n) >= 2 * 256 * 1024;
      });
      controller.abort();
      await new Promise((r) => setTimeout(r, 60_000).unref());
    }
    await expect(client.push({ namespace: 'ml/models' }, slowPayload(), { chunkBytes: 256 * 1024, signal: controller.signal })).rejects.toMatchObject({
      code: grpc.status.CANCELLED,
    });
    await nothingStored();
  });

  it('a client that stops sending mid-push gets DEADLINE_EXCEEDED after the idle timeout, and nothing is stored', async () => {
    const client = await h.client();
    async function* stalls() {
      yield patternBytes(600 * 1024, 30);
      await new Promise((r) => setTimeout(r, 30_000).unref());
    }
    const started = Date.now();
    await expect(client.push({ namespace: 'ml/slow' }, stalls())).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, details: expect.stringMatching(/no message from the client/) });
    expect(Date.now() - started).toBeLessThan(10_000);
    await nothingStored();
  });
});
