import { encodeCursor, parseListQuery, type ListQuery } from './domain/list-query';
import type { StoreLimits } from './domain/limits';
import { timestampToMicros } from './domain/record';
import type { StoredRecord } from './store.repository';
import { toWireRecord, type WireListRequest, type WireListResponse } from './store-wire';

/** A List request as a validated query. @throws ParleyError invalid_argument | resource_exhausted */
export function parseListPage(req: WireListRequest, limits: StoreLimits): ListQuery {
  return parseListQuery(
    {
      namespace: req.namespace || undefined,
      includeSubNamespaces: req.include_sub_namespaces === true,
      annotations: req.annotations ?? {},
      mediaType: req.media_type || undefined,
      creatorTrustDomain: req.creator_trust_domain || undefined,
      createdAfterMicros: req.created_after ? timestampToMicros(req.created_after, 'created_after') : undefined,
      pageSize: req.page_size ?? 0,
      pageToken: req.page_token || undefined,
    },
    limits,
  );
}

/** Underlying pages a List reads at most to fill one page with records the caller may see. */
export const LIST_SCAN_PAGES = 8;

/**
 * One page of records the caller may see. Records it may not see are skipped and further
 * pages are read (at most LIST_SCAN_PAGES) to fill the page, so a caller who sees a few
 * records among many hidden ones does not walk through empty pages; the token follows the
 * last record read, seen or not, so nothing is skipped or shown twice.
 */
export async function listVisible(
  query: ListQuery,
  fetch: (q: ListQuery) => Promise<{ records: StoredRecord[]; hasMore: boolean }>,
  visible: (r: StoredRecord) => boolean,
): Promise<WireListResponse> {
  const shown: StoredRecord[] = [];
  const page = (next: bigint | undefined) => ({ records: shown.map(toWireRecord), next_page_token: next === undefined ? '' : encodeCursor(next, query.filter) });
  let q = query;
  for (let reads = 1; ; reads++) {
    const read = await fetch(q);
    for (const [i, r] of read.records.entries()) {
      if (visible(r)) shown.push(r);
      if (shown.length === query.pageSize) return page(read.hasMore || i < read.records.length - 1 ? r.seq : undefined);
    }
    const last = read.records.at(-1);
    if (!read.hasMore || last === undefined) return page(undefined);
    if (reads >= LIST_SCAN_PAGES) return page(last.seq);
    q = { ...q, afterSeq: last.seq };
  }
}
