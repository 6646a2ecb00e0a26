import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Query of `GET /v1/audit`: filters (all optional, combined with AND), page size and position, output format. */
export class AuditQueryDto {
  @ApiPropertyOptional({ description: 'only decisions about this SPIFFE ID (exact)', example: 'spiffe://partner.example/ns/ml/sa/trainer' }) spiffeId?: string;
  @ApiPropertyOptional({ description: "only decisions about workloads of this trust domain", example: 'partner.example' }) trustDomain?: string;
  @ApiPropertyOptional({ description: 'only decisions on this full gRPC method', example: '/parley.store.v1.StoreService/Pull' }) method?: string;
  @ApiPropertyOptional({ description: 'only allows or only denials', enum: ['allow', 'deny'] }) decision?: string;
  @ApiPropertyOptional({ description: 'only decisions covering this record namespace (exact)', example: 'ml/llama-3' }) namespace?: string;
  @ApiPropertyOptional({ description: 'only decisions made by this policy rule id', example: 'partners-pull' }) rule?: string;
  @ApiPropertyOptional({ description: 'only decisions at or after this instant (RFC 3339)', format: 'date-time' }) since?: string;
  @ApiPropertyOptional({ description: 'only decisions strictly before this instant (RFC 3339)', format: 'date-time' }) until?: string;
  @ApiPropertyOptional({ description: 'JSON: entries per page (default 100, at most 1000). CSV: at most this many rows (default: all)', minimum: 1, type: Number }) limit?: string;
  @ApiPropertyOptional({ description: 'nextPageToken of the previous page (only valid with the same filters)' }) pageToken?: string;
  @ApiPropertyOptional({ description: 'output format; overrides the Accept header (text/csv selects CSV)', enum: ['json', 'csv'] }) format?: string;
}

export class AuditEntryDto {
  @ApiProperty({ description: 'position in the trail (increasing)', example: '1042' }) id!: string;
  @ApiProperty({ format: 'date-time', description: 'when the decision was made (microsecond precision)', example: '2025-01-31T12:00:00.123000Z' }) at!: string;
  @ApiProperty({ example: 'spiffe://partner.example/ns/ml/sa/trainer' }) spiffeId!: string;
  @ApiProperty({ example: 'partner.example' }) trustDomain!: string;
  @ApiProperty({ description: 'source IP address of the connection', example: '192.0.2.10' }) sourceAddress!: string;
  @ApiProperty({ example: '/parley.store.v1.StoreService/Pull' }) method!: string;
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
