import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { FAILURE_REASONS, MAX_SYNC_PAGE, MIN_INTERVAL_SECONDS, shownOciSource, SYNC_STATUSES, type SyncRow } from '../sync';
import { Check, Flag, isJsonObject, JsonBody, QueryInteger, QueryString, QueryText, Text, TextList } from './admin-fields';

const ONCE = 'must be given at most once';
const SYNC_ID_EXAMPLE = '0b5c6f1e-3a52-4c8e-9d1b-7f2a4e6c8d10';

/**
 * Body of `POST /v1/syncs`: the fields of the gRPC CreateSync, judged by the same sync rules
 * (address, partner, selection, interval, target namespace) once the shape is right.
 */
@JsonBody('create sync: invalid request')
export class CreateSyncBodyDto {
  @Text({ doc: { description: "the partner gateway's gRPC address, host:port (not with `source`)", example: 'partner.example:8443' }, optional: true, requiredWhen: (dto) => dto.source === undefined, message: 'must be host:port' })
  remoteAddress?: string;
  @Text({ doc: { description: "the partner gateway's exact SPIFFE ID (the connection is pinned to it)", example: 'spiffe://partner.example/parley/gateway' }, optional: true, message: 'must be a SPIFFE ID with a path' })
  remoteSpiffeId?: string;
  @Text({ doc: { description: 'or the partner trust domain: its gateway is spiffe://<td>/parley/gateway', example: 'partner.example' }, optional: true, message: 'must be a trust domain name' })
  remoteTrustDomain?: string;
  @TextList({ doc: { description: 'copy records of these namespaces and below (default: everything exported to us)', example: ['ml/shared'] }, optional: true, message: 'must be an array of namespaces' })
  namespaces?: string[];
  @TextList({ doc: { description: 'copy exactly these records (CIDs)' }, optional: true, message: 'must be an array of CIDs' }) cids?: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description: 'copy records carrying every one of these annotations', example: { stage: 'released' } })
  @Check('annotations', (v) => (v === undefined || (isJsonObject(v) && Object.values(v).every((x) => typeof x === 'string')) ? undefined : 'must be an object of string values'))
  annotations?: Record<string, string>;
  @Flag({ doc: { description: 'keep syncing: run again every intervalSeconds' }, optional: true, message: 'must be true or false' }) continuous?: boolean;
  @ApiPropertyOptional({ type: 'integer', minimum: MIN_INTERVAL_SECONDS, description: `with continuous: seconds between runs (${MIN_INTERVAL_SECONDS} s to 7 days)`, example: 300 })
  @Check('intervalSeconds', (v) => (v === undefined || Number.isInteger(v) ? undefined : 'must be an integer'))
  intervalSeconds?: number;
  @Text({ doc: { description: 'where the records land here (default partners/<partner trust domain>)', example: 'partners/partner.example' }, optional: true, message: 'must be a namespace' })
  targetNamespace?: string;
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'instead of a partner gateway, a repository of an OCI registry: `{kind: "oci", url, repository, tags?, credentials?: {basic: {username, password | passwordFile}} | {bearer: {token | tokenFile}}, ca? | caFile?, insecure?}` (files are read on the gateway host; `insecure`: plain http, loopback hosts only). Credentials are never shown again (`***`). Default target namespace mirrors/<repository>.',
    example: { kind: 'oci', url: 'https://registry.example:5000', repository: 'models/llama', tags: ['v1'], credentials: { basic: { username: 'reader', passwordFile: '/run/secrets/registry-password' } } },
  })
  @Check('source', (v) => (v === undefined || isJsonObject(v) ? undefined : 'must be an object'))
  source?: Record<string, unknown>;
}

/** Query of `GET /v1/syncs`. */
@QueryString('list syncs: invalid query')
export class ListSyncsQueryDto {
  @QueryInteger({ doc: { description: `syncs per page; 0 or absent: 100, at most ${MAX_SYNC_PAGE}` }, once: ONCE, minimum: 0, message: 'must be a non-negative integer' }) pageSize?: number;
  @QueryText({ doc: { description: 'nextPageToken of the previous page' }, once: ONCE }) pageToken?: string;
}

export class SyncSelectionDto {
  @ApiProperty({ type: [String], example: ['ml/shared'] }) namespaces!: string[];
  @ApiProperty({ type: [String] }) cids!: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) annotations!: Record<string, string>;
}

export class SyncCountersDto {
  @ApiProperty({ description: 'records found at the partner for the selection' }) discovered!: number;
  @ApiProperty({ description: 'records copied' }) transferred!: number;
  @ApiProperty({ description: 'records already held here' }) skipped!: number;
  @ApiProperty() failed!: number;
  @ApiProperty({ description: 'payload bytes copied' }) bytes!: number;
}

/** A sync as `parley sync show --json` prints it (the gRPC Sync message with readable numbers and times). */
export class SyncDto {
  @ApiProperty({ example: SYNC_ID_EXAMPLE }) syncId!: string;
  @ApiProperty({ enum: SYNC_STATUSES.filter((s) => s !== 'UNSPECIFIED') }) status!: string;
  @ApiProperty({ enum: [...FAILURE_REASONS], description: 'why it failed or is retrying; UNSPECIFIED when it did not' }) failureReason!: string;
  @ApiProperty() message!: string;
  @ApiProperty({ example: 'partner.example:8443' }) remoteAddress!: string;
  @ApiProperty({ example: 'spiffe://partner.example/parley/gateway' }) remoteSpiffeId!: string;
  @ApiProperty({ type: SyncSelectionDto }) selection!: SyncSelectionDto;
  @ApiProperty() continuous!: boolean;
  @ApiProperty({ description: '0 for a one-shot sync' }) intervalSeconds!: number;
  @ApiProperty({ example: 'partners/partner.example' }) targetNamespace!: string;
  @ApiProperty({ type: SyncCountersDto }) counters!: SyncCountersDto;
  @ApiProperty({ description: 'attempts of the current run (retries of transient failures)' }) attempt!: number;
  @ApiPropertyOptional({ format: 'date-time', description: 'absent once FAILED or DELETED' }) nextAttemptAt?: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiPropertyOptional({ format: 'date-time' }) lastSuccessAt?: string;
  @ApiProperty({ description: 'SPIFFE ID of whoever created it' }) createdBy!: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'a sync from an OCI registry: url, repository, tags, auth (anonymous, basic, bearer), username, secret `***`, customCa, insecure' })
  source?: Record<string, unknown>;
}

export class SyncPageDto {
  @ApiProperty({ type: [SyncDto], description: 'newest first' }) syncs!: SyncDto[];
  @ApiProperty({ description: 'token of the next page; empty on the last page' }) nextPageToken!: string;
}

export function toSyncDto(r: SyncRow): SyncDto {
  const ended = r.status === 'FAILED' || r.status === 'DELETED';
  return {
    syncId: r.id,
    status: r.status,
    failureReason: r.failureReason,
    message: r.message,
    remoteAddress: r.remoteAddress,
    remoteSpiffeId: r.remoteSpiffeId,
    selection: { namespaces: [...r.selection.namespaces], cids: [...r.selection.cids], annotations: { ...r.selection.annotations } },
    continuous: r.continuous,
    intervalSeconds: r.intervalMs === undefined ? 0 : Math.round(r.intervalMs / 1000),
    targetNamespace: r.targetNamespace,
    counters: { ...r.counters },
    attempt: r.attempt,
    ...(ended ? {} : { nextAttemptAt: r.nextAttemptAt.toISOString() }),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    ...(r.lastSuccessAt === undefined ? {} : { lastSuccessAt: r.lastSuccessAt.toISOString() }),
    createdBy: r.createdBy,
    ...(r.source === undefined ? {} : { source: shownOciSource(r.source) }),
  };
}
