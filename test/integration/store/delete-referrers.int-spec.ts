import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ContentId } from '../../../src/store/domain/content-id';
import { patternBytes, startStoreHarness, TRAINER_ID, type StoreHarness } from './store-harness';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;

describe('store: Delete and referrers', () => {
  let h: StoreHarness;
  beforeAll(async () => {
    h = await startStoreHarness({ limits: { chunkBytes: 64 * 1024, maxReferrerBytes: 64 * 1024, maxReferrersPerRecord: 3 } });
  });
  afterAll(() => h?.stop());

  it('attaches, pulls (by type too) and detaches referrers, each with the CID of its data', async () => {
    const client = await h.client();
    const record = await client.push({ namespace: 'ml/signed' }, Buffer.from('weights'));
    const sig = Buffer.from('{"sig":"abc"}');
    const sigCid = await client.pushReferrer(record, { type: 'signature', media_type: 'application/json', data: sig, annotations: { alg: 'es256' } });
    expect(sigCid).toBe(ContentId.of(sig).toString());
    expect(await client.pushReferrer(record, { type: 'signature', data: sig })).toBe(sigCid);
    const prov = Buffer.from('provenance doc');
    const provCid = await client.pushReferrer(record, { type: 'dev.slsa/provenance.v1', data: prov });

    const all = await client.pullReferrers(record);
    expect(all.map((r) => r.cid)).toEqual([sigCid, provCid]);
    expect(all[0]).toMatchObject({ type: 'signature', media_type: 'application/json', annotations: { alg: 'es256' }, record: { cid: record }, creator_spiffe_id: TRAINER_ID });
    expect(Buffer.from(all[0].data as Buffer).equals(sig)).toBe(true);
    expect((await client.pullReferrers(record, 'signature')).map((r) => r.cid)).toEqual([sigCid]);

    await client.deleteReferrer(record, sigCid);
    expect((await client.pullReferrers(record)).map((r) => r.cid)).toEqual([provCid]);
    await expect(client.deleteReferrer(record, sigCid)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('lists referrer summaries (sizes, no documents) by page and by type, in the order PullReferrer streams them', async () => {
    const client = await h.client();
    const record = await client.push({ namespace: 'ml/summaries' }, Buffer.from('summarized'));
    const big = randomBytes(60 * 1024); // incompressible: stored out of line (TOAST)
    const bigCid = await client.pushReferrer(record, { type: 'attestation', media_type: 'application/json', data: big, annotations: { k: 'v' } });
    const smallCid = await client.pushReferrer(record, { type: 'signature', data: Buffer.from('sig') });
    const repo = h.repository.referrers;
    const cid = ContentId.parse(record);

    const all = await repo.pageSummaries(cid, undefined, 0n, 10);
    expect(all.map((s) => [s.cid.toString(), s.type, s.size])).toEqual([
      [bigCid, 'attestation', big.length],
      [smallCid, 'signature', 3],
    ]);
    expect(all[0]).toMatchObject({ mediaType: 'application/json', annotations: { k: 'v' }, creatorSpiffeId: TRAINER_ID });
    expect(all[0].recordCid.toString()).toBe(record);
    expect(all[0]).not.toHaveProperty('data');
    const docs = await repo.page(cid, undefined, 0n, 10);
    expect(docs.map((d) => [d.seq, d.createdAtMicros])).toEqual(all.map((s) => [s.seq, s.createdAtMicros]));
    expect(docs[0].data.equals(big)).toBe(true);

    const first = await repo.pageSummaries(cid, undefined, 0n, 1);
    expect(first.map((s) => s.cid.toString())).toEqual([bigCid]);
    expect((await repo.pageSummaries(cid, undefined, first[0].seq, 1)).map((s) => s.cid.toString())).toEqual([smallCid]);
    expect((await repo.pageSummaries(cid, 'signature', 0n, 10)).map((s) => s.cid.toString())).toEqual([smallCid]);
    expect(await repo.pageSummaries(ContentId.of(Buffer.from('no such record')), undefined, 0n, 10)).toEqual([]);
  });

  it('answers NOT_FOUND, INVALID_ARGUMENT and RESOURCE_EXHAUSTED for referrers as for records', async () => {
    const client = await h.client();
    const unknown = ContentId.of(Buffer.from('nothing')).toString();
    await expect(client.pushReferrer(unknown, { type: 'signature', data: Buffer.from('x') })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(client.pullReferrers(unknown)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(client.deleteReferrer(unknown, unknown)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(client.pullReferrers('bafy!')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const record = await client.push({ namespace: 'ml/limits' }, Buffer.from('limited'));
    await expect(client.pushReferrer(record, { type: 'Signature', data: Buffer.from('x') })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(client.pushReferrer(record, { type: 'signature', data: Buffer.alloc(64 * 1024 + 1) })).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    for (let i = 0; i < 3; i++) await client.pushReferrer(record, { type: 'attestation', data: Buffer.from(`a${i}`) });
    await expect(client.pushReferrer(record, { type: 'attestation', data: Buffer.from('a3') })).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });

  it('Delete removes the record, its payload and its referrers; a second Delete is NOT_FOUND', async () => {
    const client = await h.client();
    const payload = patternBytes(MiB, 41);
    const cid = await client.push({ namespace: 'ml/gone' }, payload);
    await client.pushReferrer(cid, { type: 'signature', data: Buffer.from('sig of gone') });
    const [{ blob_id: blobId }] = await h.ds.query('SELECT blob_id FROM store_records WHERE cid = $1', [cid]);
    await client.delete(cid);
    await expect(client.lookup([cid])).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(client.pullAll(cid)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(client.delete(cid)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(client.delete('nope')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(await h.ds.query('SELECT 1 FROM store_chunks WHERE blob_id = $1', [blobId])).toHaveLength(0);
    expect(await h.ds.query('SELECT 1 FROM store_blobs WHERE id = $1', [blobId])).toHaveLength(0);
    expect(await h.ds.query('SELECT 1 FROM store_referrers WHERE record_cid = $1', [cid])).toHaveLength(0);
    // The same bytes can be pushed again after a delete.
    expect(await client.push({ namespace: 'ml/gone' }, payload)).toBe(cid);
  });

  it('Lookup answers many refs in request order; allow_missing lists unknown ones instead of failing', async () => {
    const client = await h.client();
    const a = await client.push({ namespace: 'ml/lookup' }, Buffer.from('a'));
    const b = await client.push({ namespace: 'ml/lookup' }, Buffer.from('b'));
    const missing = ContentId.of(Buffer.from('missing')).toString();
    const res = await client.lookup([b, missing, a, b], true);
    expect(res.records.map((r) => r.cid)).toEqual([b, a]);
    expect(res.missing.map((r) => r.cid)).toEqual([missing]);
    await expect(client.lookup([a, missing])).rejects.toMatchObject({ code: grpc.status.NOT_FOUND, details: expect.stringContaining(missing) });
    await expect(client.lookup([])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(client.lookup(Array(101).fill(a))).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });

  it('the janitor removes uploads abandoned by a crashed process, never live or committed ones', async () => {
    const client = await h.client();
    const kept = await client.push({ namespace: 'ml/kept' }, patternBytes(200_000, 42));
    const upload = await h.repository.payloads.begin({ creatorSpiffeId: TRAINER_ID, chunkBytes: 64 * 1024, resumable: true });
    await upload.write(Buffer.alloc(64 * 1024, 1));
    expect(await upload.checkpoint()).toBe(64 * 1024);
    await upload.abort({ keep: true });
    const abandoned = upload.id;
    // A live upload: its open transaction holds the blob row, so the janitor skips it however old it is.
    const live = await h.repository.payloads.begin({ creatorSpiffeId: TRAINER_ID, chunkBytes: 64 * 1024, resumable: true });
    await h.ds.query(`UPDATE store_blobs SET touched_at = now() - interval '2 hours' WHERE id = $1`, [abandoned]);
    expect(await h.service.janitor.sweep()).toBe(1);
    expect(await h.ds.query('SELECT id FROM store_blobs WHERE id = ANY($1::bigint[]) ORDER BY id', [[abandoned, live.id]])).toEqual([{ id: live.id }]);
    // Resuming an upload the janitor took fails instead of resurrecting it.
    expect(await h.repository.payloads.resume(abandoned, 1, 64 * 1024)).toBeUndefined();
    await live.abort();
    expect(await h.ds.query('SELECT id FROM store_blobs WHERE id = $1', [live.id])).toEqual([]);
    expect((await client.pullAll(kept)).data.length).toBe(200_000);
  });
});
