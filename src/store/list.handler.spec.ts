import { ContentId } from './domain/content-id';
import { DEFAULT_STORE_LIMITS } from './domain/limits';
import { LIST_SCAN_PAGES, listVisible, parseListPage } from './list.handler';
import type { StoredRecord } from './store.repository';

/** 100 records in List order; those whose seq is a multiple of `every` are in namespace "seen". */
function records(n: number, every: number): StoredRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: BigInt(i + 1),
    cid: ContentId.of(Buffer.from(`r${i}`)),
    namespace: (i + 1) % every === 0 ? 'seen' : 'hidden',
    mediaType: 'text/plain',
    size: 2,
    annotations: {},
    creatorSpiffeId: 'spiffe://acme.test/w',
    creatorTrustDomain: 'acme.test',
    createdAtMicros: 0n,
    blobId: '',
    chunkBytes: 0,
  }));
}

/** The repository's List over `all`: records after the cursor, at most pageSize, and whether more follow. */
function fetchFrom(all: StoredRecord[], reads: number[]) {
  return async (q: { afterSeq: bigint; pageSize: number }) => {
    const after = all.filter((r) => r.seq > q.afterSeq);
    reads.push(q.pageSize);
    return { records: after.slice(0, q.pageSize), hasMore: after.length > q.pageSize };
  };
}

describe('listVisible', () => {
  const seen = (r: StoredRecord) => r.namespace === 'seen';

  it('fills a page with visible records across hidden ones, and pages on from the last record read without losing or repeating any', async () => {
    const all = records(100, 7);
    const got: string[] = [];
    let token = '';
    let calls = 0;
    do {
      const query = parseListPage({ page_size: 5, page_token: token }, DEFAULT_STORE_LIMITS);
      const page = await listVisible(query, fetchFrom(all, []), seen);
      got.push(...page.records.map((r) => r.cid));
      token = page.next_page_token;
      calls++;
    } while (token !== '' && calls < 50);
    expect(got).toEqual(all.filter(seen).map((r) => r.cid.toString()));
    expect(calls).toBeLessThanOrEqual(4); // 14 visible, 5 a page (an unfiltered page of 5 would take 20 calls)
  });

  it('stops after LIST_SCAN_PAGES reads when almost nothing is visible, returning a token to go on', async () => {
    const reads: number[] = [];
    const page = await listVisible(parseListPage({ page_size: 2 }, DEFAULT_STORE_LIMITS), fetchFrom(records(100, 1000), reads), seen);
    expect(page.records).toEqual([]);
    expect(page.next_page_token).not.toBe('');
    expect(reads).toHaveLength(LIST_SCAN_PAGES);
  });

  it('ends with an empty token when the records run out', async () => {
    const page = await listVisible(parseListPage({ page_size: 50 }, DEFAULT_STORE_LIMITS), fetchFrom(records(10, 2), []), seen);
    expect([page.records.length, page.next_page_token]).toEqual([5, '']);
  });
});
