import * as grpc from '@grpc/grpc-js';
import type { StoreClient } from '../../../src/store/store-client';
import type { WireListRequest } from '../../../src/store/store-wire';
import { PARTNER_ID, startStoreHarness, type StoreHarness } from './store-harness';

jest.setTimeout(90_000);

async function listAll(client: StoreClient, req: WireListRequest): Promise<string[]> {
  const out: string[] = [];
  let token = '';
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await client.list({ ...req, page_token: token });
    out.push(...page.records.map((r) => r.cid));
    token = page.next_page_token;
    if (token === '') return out;
  }
  throw new Error('list did not end');
}

async function pushMany(client: StoreClient, n: number, make: (i: number) => { ns: string; body: string; media?: string; ann?: Record<string, string> }): Promise<string[]> {
  const out: string[] = new Array(n);
  let next = 0;
  // Four pushes at once: as many as one SPIFFE ID may run (store.pushesPerSpiffeId).
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < n) {
        const i = next++;
        const m = make(i);
        out[i] = await client.push({ namespace: m.ns, media_type: m.media ?? '', annotations: m.ann ?? {} }, Buffer.from(m.body));
      }
    }),
  );
  return out;
}

describe('store: List', () => {
  let h: StoreHarness;
  let client: StoreClient;
  let seeded: string[];
  beforeAll(async () => {
    h = await startStoreHarness();
    client = await h.client();
    seeded = await pushMany(client, 150, (i) => ({
      ns: ['list/a', 'list/a/b', 'list/c'][i % 3],
      body: `seed ${i}`,
      media: i % 5 === 0 ? 'Application/JSON' : '',
      ann: i % 2 === 0 ? { parity: 'even', 'dev.parley/n': String(i) } : ({ parity: 'odd' } as Record<string, string>),
    }));
  });
  afterAll(() => h?.stop());

  it('pagination returns every record exactly once while new records are being pushed', async () => {
    let stop = false;
    const pushed: string[] = [];
    const writer = await h.client();
    const pushing = (async () => {
      for (let i = 0; !stop; i++) {
        pushed.push(await writer.push({ namespace: i % 2 ? 'list/a' : 'list/new' }, Buffer.from(`during ${i}`)));
      }
    })();
    const listed = await listAll(client, { page_size: 7 });
    const listedA = await listAll(client, { namespace: 'list/a', include_sub_namespaces: true, page_size: 5 });
    stop = true;
    await pushing;
    expect(pushed.length).toBeGreaterThan(5);
    expect(new Set(listed).size).toBe(listed.length);
    for (const cid of seeded) expect(listed).toContain(cid);
    expect(new Set(listedA).size).toBe(listedA.length);
    const seededA = seeded.filter((_c, i) => i % 3 !== 2);
    for (const cid of seededA) expect(listedA).toContain(cid);
    // Afterwards a full listing holds everything.
    const all = await listAll(client, { page_size: 1000 });
    expect(all).toHaveLength(seeded.length + pushed.length);
  });

  it('filters by namespace, sub-namespaces, annotations, media type, creator trust domain and creation time', async () => {
    const ns = async (req: WireListRequest) => new Set(await listAll(client, { ...req, page_size: 50 }));
    const exactA = await ns({ namespace: 'list/a/b' });
    expect([...exactA].sort()).toEqual(seeded.filter((_c, i) => i % 3 === 1).sort());
    expect((await ns({ namespace: 'list/c', annotations: { parity: 'even' } })).size).toBe(seeded.filter((_c, i) => i % 3 === 2 && i % 2 === 0).length);
    expect([...(await ns({ annotations: { 'dev.parley/n': '42' } }))]).toEqual([seeded[42]]);
    expect([...(await ns({ media_type: 'application/json' }))].sort()).toEqual(seeded.filter((_c, i) => i % 5 === 0).sort());

    const partner = await h.client(PARTNER_ID);
    const theirs = await partner.push({ namespace: 'list/partner' }, Buffer.from('from a partner'));
    expect([...(await ns({ creator_trust_domain: 'partner.test' }))]).toEqual([theirs]);
    const { records } = await client.lookup([theirs]);
    expect(records[0]).toMatchObject({ creator_spiffe_id: PARTNER_ID, creator_trust_domain: 'partner.test' });

    const after = records[0].created_at;
    const later = await client.push({ namespace: 'list/later' }, Buffer.from('later'));
    expect([...(await ns({ created_after: after }))]).toEqual([later]);
    // A "sibling" namespace that shares the prefix is not below it.
    await client.push({ namespace: 'list/ab' }, Buffer.from('sibling'));
    const underA = await listAll(client, { namespace: 'list/a', include_sub_namespaces: true, page_size: 1000 });
    const { records: sample } = await client.lookup(underA.slice(0, 100));
    for (const r of sample) expect(r.namespace === 'list/a' || r.namespace.startsWith('list/a/')).toBe(true);
  });

  it('refuses bad page tokens, tokens of other filters and bad filters with INVALID_ARGUMENT', async () => {
    const first = await client.list({ namespace: 'list/a', page_size: 2 });
    expect(first.next_page_token).not.toBe('');
    await expect(client.list({ namespace: 'list/c', page_token: first.next_page_token })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(client.list({ page_token: 'not a token' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(client.list({ page_token: Buffer.from('[1,"5","x"]').toString('base64url') })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(client.list({ namespace: 'List/A' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(client.list({ include_sub_namespaces: true })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(client.list({ creator_trust_domain: 'spiffe://x/y z' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const big = await client.list({ page_size: 100_000 });
    expect(big.records.length).toBeLessThanOrEqual(1000);
  });
});
