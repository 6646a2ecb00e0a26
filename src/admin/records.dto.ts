import { ApiProperty } from '@nestjs/swagger';
import { parseRfc3339Micros } from '../authz';
import type { ReferrerSummary, StoredRecord } from '../store';
import { QueryFlag, QueryInteger, QueryList, QueryString, QueryText } from './admin-fields';

const CID_EXAMPLE = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku';
const ONCE = 'must be given at most once';

/** Why `annotation=k=v` parameters are wrong: each must be key=value, a key may appear once (key rules: the store's). */
export function annotationParamsError(items: readonly string[]): string | undefined {
  const keys = new Set<string>();
  for (const item of items) {
    const eq = typeof item === 'string' ? item.indexOf('=') : -1;
    if (eq <= 0) return 'must be key=value';
    const key = item.slice(0, eq);
    if (keys.has(key)) return `key "${key.slice(0, 64).replace(/[^\x20-\x7e]|\$/g, '?')}" given more than once`;
    keys.add(key);
  }
  return undefined;
}

/** The `annotation` parameters (validated) as a map. */
export function annotationParams(items: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/**
 * Query of `GET /v1/records`: the filters of the gRPC List, all optional, combined with AND.
 * Unknown parameters are refused rather than ignored, so a misspelt filter never widens the
 * result. Namespace, media type, trust domain, annotation keys and the page token are judged
 * by the store's List validation.
 */
@QueryString('list records: invalid query')
export class ListRecordsQueryDto {
  @QueryText({ doc: { description: 'only records of this namespace', example: 'ml/llama-3' }, once: ONCE }) namespace?: string;
  @QueryFlag({ doc: { description: 'with namespace: also records of the namespaces below it' }, once: ONCE, message: 'must be true or false' }) recursive?: boolean;
  @QueryText({ doc: { description: 'only records of this media type', example: 'application/octet-stream' }, once: ONCE }) mediaType?: string;
  @QueryText({ doc: { description: 'only records pushed by workloads of this trust domain', example: 'acme.example' }, once: ONCE }) creatorTrustDomain?: string;
  @QueryText({
    doc: { description: 'only records created strictly after this instant (RFC 3339, up to microseconds)', format: 'date-time' },
    once: ONCE,
    check: (s) => (parseRfc3339Micros(s) === undefined ? 'must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z' : undefined),
  })
  createdAfter?: string;
  @QueryList({ doc: { description: 'annotation the record must have, as key=value; repeat for several (all must match)', example: ['model=tiny'] }, check: annotationParamsError })
  annotation?: string[];
  @QueryInteger({ doc: { description: 'records per page; 0 or absent: the default, larger values are capped' }, once: ONCE, minimum: 0, message: 'must be a non-negative integer' })
  pageSize?: number;
  @QueryText({ doc: { description: 'nextPageToken of the previous page (only valid with the same filters)' }, once: ONCE }) pageToken?: string;
}

export class RecordDto {
  @ApiProperty({ description: 'CIDv1 (raw, sha2-256) of the payload', example: CID_EXAMPLE }) cid!: string;
  @ApiProperty({ example: 'ml/llama-3/weights' }) namespace!: string;
  @ApiProperty({ example: 'application/octet-stream' }) mediaType!: string;
  @ApiProperty({ description: 'payload size in bytes', type: Number }) size!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { model: 'tiny' } }) annotations!: Record<string, string>;
  @ApiProperty({ example: 'spiffe://acme.example/ns/ml/sa/trainer' }) creatorSpiffeId!: string;
  @ApiProperty({ example: 'acme.example' }) creatorTrustDomain!: string;
  @ApiProperty({ format: 'date-time', description: 'when the record became visible (microsecond precision)', example: '2025-01-31T12:00:00.123456Z' })
  createdAt!: string;
}

export class RecordPageDto {
  @ApiProperty({ type: [RecordDto] }) records!: RecordDto[];
  @ApiProperty({ description: 'token of the next page; empty on the last page' }) nextPageToken!: string;
}

export class ReferrerSummaryDto {
  @ApiProperty({ example: CID_EXAMPLE }) cid!: string;
  @ApiProperty({ example: 'signature' }) type!: string;
  @ApiProperty({ example: 'application/vnd.dev.sigstore.bundle+json' }) mediaType!: string;
  @ApiProperty({ description: 'document size in bytes', type: Number }) size!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) annotations!: Record<string, string>;
  @ApiProperty({ example: 'spiffe://acme.example/ns/ci/sa/signer' }) creatorSpiffeId!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class RecordDetailDto extends RecordDto {
  @ApiProperty({ type: [ReferrerSummaryDto], description: 'first page of documents attached to the record, oldest first (metadata only)' })
  referrers!: ReferrerSummaryDto[];
  @ApiProperty({ description: 'whether the record has more referrers than listed' }) moreReferrers!: boolean;
}

/** RFC 3339 UTC text of epoch microseconds, keeping the microseconds ("…T12:00:00.123456Z"). */
export function microsToIso(micros: bigint): string {
  const ms = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
  const sub = micros - ms * 1000n;
  return new Date(Number(ms)).toISOString().replace(/Z$/, `${sub.toString().padStart(3, '0')}Z`);
}

export function toRecordDto(r: StoredRecord): RecordDto {
  return {
    cid: r.cid.toString(),
    namespace: r.namespace,
    mediaType: r.mediaType,
    size: r.size,
    annotations: { ...r.annotations },
    creatorSpiffeId: r.creatorSpiffeId,
    creatorTrustDomain: r.creatorTrustDomain,
    createdAt: microsToIso(r.createdAtMicros),
  };
}

export function toReferrerSummaryDto(d: ReferrerSummary): ReferrerSummaryDto {
  return {
    cid: d.cid.toString(),
    type: d.type,
    mediaType: d.mediaType,
    size: d.size,
    annotations: { ...d.annotations },
    creatorSpiffeId: d.creatorSpiffeId,
    createdAt: microsToIso(d.createdAtMicros),
  };
}
