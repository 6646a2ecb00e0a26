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

export function toListResponse(query: ListQuery, page: { records: StoredRecord[]; hasMore: boolean }, visible: (r: StoredRecord) => boolean = () => true): WireListResponse {
  const last = page.records.at(-1);
  return {
    records: page.records.filter(visible).map(toWireRecord),
    next_page_token: page.hasMore && last !== undefined ? encodeCursor(last.seq, query.filter) : '',
  };
}
