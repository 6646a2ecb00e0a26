import { ContentId } from '../../../src/store/domain/content-id';
import { patternBytes, startStoreHarness, type StoreHarness } from './store-harness';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;

describe('store: concurrent pushes of the same content', () => {
  let h: StoreHarness;
  beforeAll(async () => {
    // The race under test needs 20 pushes of one caller at once: the per-caller caps and the upload
    // connections are raised out of its way (sharing the data source's 10 connections, a push on a
    // loaded machine waited past their 5 s connect timeout and was refused UNAVAILABLE).
    h = await startStoreHarness({ limits: { chunkBytes: 256 * 1024, pushesPerSpiffeId: 20, pushesPerTrustDomain: 20 }, pushConnections: 20 });
  });
  afterAll(() => h?.stop());

  it('20 concurrent pushes of the same bytes, each on its own connection, create exactly one record', async () => {
    const payload = patternBytes(2 * MiB + 5, 31);
    const expected = ContentId.of(payload).toString();
    const clients = await Promise.all(Array.from({ length: 20 }, () => h.client()));
    const results = await Promise.all(clients.map((c, i) => c.pushRecord({ namespace: 'ml/dup', annotations: { pusher: String(i) } }, payload, { chunkBytes: 128 * 1024 })));
    expect(new Set(results.map((r) => r.cid))).toEqual(new Set([expected]));
    expect(await h.count('store_records')).toBe(1);
    // One push created the record; the 19 others are told it was stored before, and whose annotations it kept.
    const winner = results.findIndex((r) => !r.alreadyStored);
    expect(results.filter((r) => r.alreadyStored)).toHaveLength(19);
    for (const r of results.filter((x) => x.alreadyStored)) expect(r.record).toMatchObject({ namespace: 'ml/dup', annotations: { pusher: String(winner) } });
    // The losers discarded their staged chunks before answering: one blob, its 9 chunks.
    expect(await h.count('store_blobs')).toBe(1);
    expect(await h.count('store_chunks')).toBe(9);
    const { records } = await clients[0].lookup([expected]);
    expect(records).toHaveLength(1);
    expect(records[0].size).toBe(String(payload.length));
    expect((await clients[0].pullAll(expected)).data.equals(payload)).toBe(true);
  });

  it('pushing known content with its digest announced only hashes it: same CID, nothing staged, first metadata kept', async () => {
    const payload = patternBytes(MiB, 32);
    const client = await h.client();
    const cid = await client.push({ namespace: 'ml/known', annotations: { first: 'yes' } }, payload);
    const blobsBefore = await h.count('store_blobs');
    const again = await Promise.all(
      Array.from({ length: 5 }, () => client.pushRecord({ namespace: 'ml/other', expected_digest: cid, expected_size: String(payload.length) }, payload)),
    );
    expect(again.map((r) => [r.cid, r.alreadyStored, r.record?.namespace])).toEqual(Array(5).fill([cid, true, 'ml/known']));
    expect(await h.count('store_blobs')).toBe(blobsBefore);
    const { records } = await client.lookup([cid]);
    expect(records[0]).toMatchObject({ namespace: 'ml/known', annotations: { first: 'yes' } });
  });
});
