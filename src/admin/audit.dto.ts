import { ApiProperty } from '@nestjs/swagger';
import { MAX_AUDIT_CSV_ROWS, MAX_AUDIT_PAGE } from '../authz';
import { QueryString, QueryText } from './admin-fields';

const ONCE = 'must be given at most once, as text';

/**
 * Query of `GET /v1/audit`: filters (all optional, combined with AND), page size and position
 * (JSON) or row cap (CSV), output format. The values are read by the audit filter
 * (parseAuditQuery: IDs, instants, sizes that depend on the format); an empty value is no filter.
 */
@QueryString('list audit entries: invalid query')
export class AuditQueryDto {
  @QueryText({ doc: { description: 'only decisions about this SPIFFE ID (exact)', example: 'spiffe://partner.example/ns/ml/sa/trainer' }, once: ONCE }) spiffeId?: string;
  @QueryText({ doc: { description: 'only decisions about workloads of this trust domain', example: 'partner.example' }, once: ONCE }) trustDomain?: string;
  @QueryText({ doc: { description: 'only decisions on this full gRPC method, or admin actions such as `POST /v1/policies`', example: '/parley.store.v1.StoreService/Pull' }, once: ONCE }) method?: string;
  @QueryText({ doc: { description: 'only allows or only denials' }, once: ONCE, enum: ['allow', 'deny'], message: 'must be allow or deny' }) decision?: string;
  @QueryText({ doc: { description: 'only decisions covering this record namespace (exact)', example: 'ml/llama-3' }, once: ONCE }) namespace?: string;
  @QueryText({ doc: { description: 'only decisions made by this policy rule id', example: 'partners-pull' }, once: ONCE }) rule?: string;
  @QueryText({ doc: { description: 'only decisions at or after this instant (RFC 3339)', format: 'date-time' }, once: ONCE }) since?: string;
  @QueryText({ doc: { description: 'only decisions strictly before this instant (RFC 3339)', format: 'date-time' }, once: ONCE }) until?: string;
  @QueryText({ doc: { description: `JSON: entries per page; 0 or absent: 100, larger values are capped at ${MAX_AUDIT_PAGE} (not with CSV: see maxRows)`, type: 'integer', minimum: 0 }, once: ONCE })
  pageSize?: string;
  @QueryText({ doc: { description: 'nextPageToken of the previous page (only valid with the same filters)' }, once: ONCE }) pageToken?: string;
  @QueryText({ doc: { description: 'CSV: at most this many rows, newest first (default: every matching row; not with JSON: see pageSize)', type: 'integer', minimum: 1, maximum: MAX_AUDIT_CSV_ROWS }, once: ONCE })
  maxRows?: string;
  @QueryText({
    doc: { description: `deprecated: use pageSize (JSON, here from 1 to ${MAX_AUDIT_PAGE}) or maxRows (CSV); not together with them`, type: 'integer', minimum: 1, deprecated: true },
    once: ONCE,
  })
  limit?: string;
  @QueryText({ doc: { description: 'output format; overrides the Accept header (text/csv selects CSV)' }, once: ONCE, enum: ['json', 'csv'], message: 'must be json or csv' }) format?: string;
}

export class AuditEntryDto {
  @ApiProperty({ description: 'position in the trail (increasing)', example: '1042' }) id!: string;
  @ApiProperty({ format: 'date-time', description: 'when the decision was made (microsecond precision)', example: '2025-01-31T12:00:00.123000Z' }) at!: string;
  @ApiProperty({ example: 'spiffe://partner.example/ns/ml/sa/trainer' }) spiffeId!: string;
  @ApiProperty({ example: 'partner.example' }) trustDomain!: string;
  @ApiProperty({ description: 'source IP address of the connection', example: '192.0.2.10' }) sourceAddress!: string;
  @ApiProperty({ example: '/parley.store.v1.StoreService/Pull', description: 'the gRPC method, or for an admin action its HTTP method and path (`POST /v1/policies`)' }) method!: string;
  @ApiProperty({ type: String, nullable: true, description: 'the record namespace the decision covered, when the method has one' }) namespace!: string | null;
  @ApiProperty({ enum: ['allow', 'deny'] }) decision!: 'allow' | 'deny';
  @ApiProperty({ type: String, nullable: true, description: 'the deciding policy rule, when a rule decided' }) rule!: string | null;
  @ApiProperty({ description: 'why (never sent to the caller)', example: 'no rule matched' }) reason!: string;
  @ApiProperty({ type: [String], description: 'dry-run deny rules that matched (they did not deny)' }) dryRunDenied!: string[];
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto], description: 'newest first' }) entries!: AuditEntryDto[];
  @ApiProperty({ description: 'token of the next page; empty on the last page' }) nextPageToken!: string;
}
