import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ContentId } from '../../../src/store/domain/content-id';
import { eventually, patternBytes, startStoreHarness, type StoreHarness } from './store-harness';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;

/** Connections that die mid-stream (a relay cuts them): pushes leave nothing, pulls resume from an offset. */
describe('store: interrupted streams', () => {
  let h: StoreHarness;
  let proxy: TcpProxy;
  beforeAll(async () => {
    h = await startStoreHarness({ limits: { chunkBytes: 256 * 1024 } });
    proxy = await startTcpProxy(h.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await h?.stop();
  });

  const unfinishedBlobs = async () => Number((await h.ds.query(`SELECT count(*) AS n FROM store_blobs WHERE state <> 'committed'`))[0].n);

  it('a push cut mid-stream leaves no visible record and no staged chunks; pushing again succeeds', async () => {
    const payload = patternBytes(3 * MiB, 21);
    const cid = ContentId.of(payload).toString();
    const viaProxy = await h.client(undefined, proxy.port);
    async function* cutHalfway() {
      yield payload.subarray(0, 2 * MiB);
      // The server wrote chunks into its COPY (invisible until commit).
      await eventually(async () => {
        const rows: Array<{ n: string }> = await h.ds.query(`SELECT coalesce(max(bytes_processed), 0) AS n FROM pg_stat_progress_copy WHERE relid = 'store_chunks'::regclass`);
        return Number(rows[0]?.n) >= 4 * 256 * 1024;
      });
      proxy.cutAll();
      yield payload.subarray(2 * MiB);
    }
    const failed = await viaProxy.push({ namespace: 'ml/cut' }, cutHalfway(), { chunkBytes: 256 * 1024 }).then(
      () => undefined,
      (err: grpc.ServiceError) => err,
    );
    expect(failed?.code).toBe(grpc.status.UNAVAILABLE);

    const direct = await h.client();
    await expect(direct.lookup([cid])).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await eventually(async () => (await unfinishedBlobs()) === 0 && (await h.count('store_chunks')) === 0);

    expect(await direct.push({ namespace: 'ml/cut', expected_size: String(payload.length), expected_digest: cid }, payload)).toBe(cid);
    expect((await direct.pullAll(cid)).data.equals(payload)).toBe(true);
  });

  it('a pull cut mid-stream resumes with an offset and the bytes match the CID', async () => {
    const payload = patternBytes(5 * MiB + 1234, 22);
    const direct = await h.client();
    const cid = await direct.push({ namespace: 'ml/resume' }, payload);

    const viaProxy = await h.client(undefined, proxy.port);
    const received: Buffer[] = [];
    let receivedBytes = 0;
    const stream = viaProxy.pull(cid);
    const ended = await new Promise<grpc.ServiceError | undefined>((resolve) => {
      stream.on('data', (msg: { record?: object; chunk?: Buffer }) => {
        if (!msg.chunk) return;
        received.push(msg.chunk);
        receivedBytes += msg.chunk.length;
        if (receivedBytes >= 2 * MiB && receivedBytes < 3 * MiB) proxy.cutAll();
      });
      stream.on('error', (err: grpc.ServiceError) => resolve(err));
      stream.on('end', () => resolve(undefined));
    });
    expect(ended?.code).toBe(grpc.status.UNAVAILABLE);
    expect(receivedBytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(receivedBytes).toBeLessThan(payload.length);

    const rest = await direct.pullAll(cid, { offset: receivedBytes });
    expect(rest.record.size).toBe(String(payload.length));
    const whole = Buffer.concat([...received, rest.data]);
    expect(createHash('sha256').update(whole).digest().equals(ContentId.parse(cid).digest)).toBe(true);
  });

  it('pull ranges: offset in the middle of a chunk, offset + length, offset at the end, offset beyond the end', async () => {
    const payload = patternBytes(MiB + 77, 23);
    const client = await h.client();
    const cid = await client.push({ namespace: 'ml/ranges' }, payload);
    for (const [offset, length] of [
      [1, 0],
      [256 * 1024 - 1, 2],
      [300_000, 500_000],
      [MiB, 0],
      [MiB + 76, 10],
    ]) {
      const { data } = await client.pullAll(cid, { offset, length });
      expect(data.equals(payload.subarray(offset, length === 0 ? undefined : offset + length))).toBe(true);
    }
    expect((await client.pullAll(cid, { offset: payload.length })).data.length).toBe(0);
    await expect(client.pullAll(cid, { offset: payload.length + 1 })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });
});
