import { Controller, Delete, Get, HttpCode, Inject, Logger, Param, Query, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { parseRfc3339Micros } from '../authz';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import { ContentId, encodeCursor, parseListQuery, recordNotFound, StoreService, type ListQuery, type StoreLimits } from '../store';
import { PeerRegistry } from './peer-registry';
import { RequirePermission } from './permissions';
import { ListRecordsQueryDto, RecordDetailDto, RecordPageDto, toRecordDto, toReferrerSummaryDto } from './records.dto';

/** Referrers shown with a record (metadata and sizes only; their documents are not read). */
export const RECORD_REFERRERS_PAGE = 25;

@ApiTags('records')
@Controller('v1/records')
export class RecordsController {
  private readonly logger = new Logger('admin');

  constructor(
    @Inject(StoreService) private readonly store: StoreService,
    @Inject(PeerRegistry) private readonly peers: PeerRegistry,
  ) {}

  @Get()
  @RequirePermission('records:read')
  @ApiOperation({ summary: 'Lists records in the order they became visible, with the filters of the gRPC List' })
  @ApiOkResponse({ type: RecordPageDto })
  @ApiBadRequestResponse({ description: 'a query parameter is invalid (problem+json names it in `errors[].field`)' })
  async list(@Query() query: ListRecordsQueryDto): Promise<RecordPageDto> {
    const parsed = parseRecordsQuery(query as Record<string, unknown>, this.store.limits);
    const page = await this.store.repository.list(parsed);
    const last = page.records.at(-1);
    return {
      records: page.records.map(toRecordDto),
      nextPageToken: page.hasMore && last !== undefined ? encodeCursor(last.seq, parsed.filter) : '',
    };
  }

  @Get(':cid')
  @RequirePermission('records:read')
  @ApiOperation({ summary: "A record's metadata and the first page of its referrers" })
  @ApiParam({ name: 'cid', description: 'CIDv1 of the record (base32 "b…", base58btc "z…" or base36 "k…")' })
  @ApiOkResponse({ type: RecordDetailDto })
  @ApiBadRequestResponse({ description: 'the CID is malformed' })
  @ApiNotFoundResponse({ description: 'no record has this CID' })
  async get(@Param('cid') text: string): Promise<RecordDetailDto> {
    const cid = ContentId.parse(text, 'cid');
    const record = await this.store.repository.find(cid);
    if (record === undefined) throw recordNotFound(cid);
    const referrers = await this.store.repository.referrers.pageSummaries(cid, undefined, 0n, RECORD_REFERRERS_PAGE + 1);
    return {
      ...toRecordDto(record),
      referrers: referrers.slice(0, RECORD_REFERRERS_PAGE).map(toReferrerSummaryDto),
      moreReferrers: referrers.length > RECORD_REFERRERS_PAGE,
    };
  }

  @Delete(':cid')
  @HttpCode(204)
  @RequirePermission('records:delete')
  @ApiOperation({ summary: 'Deletes a record, its referrers and its payload' })
  @ApiParam({ name: 'cid', description: 'CIDv1 of the record' })
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiBadRequestResponse({ description: 'the CID is malformed' })
  @ApiNotFoundResponse({ description: 'no record has this CID' })
  async remove(@Param('cid') text: string, @Req() req: Request): Promise<void> {
    const cid = ContentId.parse(text, 'cid');
    if (!(await this.store.repository.delete(cid))) throw recordNotFound(cid);
    this.logger.log({ cid: cid.toString(), spiffeId: this.peers.get(req.socket)?.id.toString() }, 'record deleted through the admin API');
  }
}

/** REST query parameter for each field name of the store's List validation. */
const REST_FIELD: Record<string, string> = {
  namespace: 'namespace',
  include_sub_namespaces: 'recursive',
  media_type: 'mediaType',
  creator_trust_domain: 'creatorTrustDomain',
  created_after: 'createdAfter',
  annotations: 'annotation',
  page_size: 'pageSize',
  page_token: 'pageToken',
};
const KNOWN_PARAMS = new Set(Object.values(REST_FIELD));

/**
 * Validates the query of `GET /v1/records` into the store's ListQuery (the very validation,
 * limits and page tokens of the gRPC List). Unknown parameters are refused rather than
 * ignored, so a misspelt filter never widens the result.
 * @throws ValidationError (400, naming the parameter) | ParleyError resource_exhausted
 */
export function parseRecordsQuery(raw: Record<string, unknown>, limits: StoreLimits): ListQuery {
  // Every problem of the REST parameters at once; the store's List validation follows.
  const errors: Array<{ field: string; message: string }> = [];
  const collect = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      errors.push(...err.fieldErrors);
      return undefined;
    }
  };
  for (const name of Object.keys(raw)) {
    if (!KNOWN_PARAMS.has(name)) errors.push({ field: name, message: 'unknown query parameter' });
  }
  const single = (name: string): string | undefined => {
    const v = raw[name];
    if (v === undefined || typeof v === 'string') return v;
    errors.push({ field: name, message: 'must be given at most once' });
    return undefined;
  };
  const recursive = single('recursive');
  if (recursive !== undefined && recursive !== 'true' && recursive !== 'false') errors.push({ field: 'recursive', message: 'must be true or false' });
  const createdAfter = single('createdAfter');
  const pageSize = single('pageSize');
  if (pageSize !== undefined && !/^[0-9]{1,10}$/.test(pageSize)) errors.push({ field: 'pageSize', message: 'must be a non-negative integer' });
  const fields = {
    namespace: single('namespace') || undefined,
    includeSubNamespaces: recursive === 'true',
    annotations: collect(() => parseAnnotationParams(raw.annotation)) ?? {},
    mediaType: single('mediaType') || undefined,
    creatorTrustDomain: single('creatorTrustDomain') || undefined,
    createdAfterMicros: createdAfter ? collect(() => createdAfterMicros(createdAfter)) : undefined,
    pageSize: pageSize === undefined || !/^[0-9]{1,10}$/.test(pageSize) ? undefined : Number(pageSize),
    pageToken: single('pageToken') || undefined,
  };
  if (errors.length > 0) throw new ValidationError('list records: invalid query', errors);
  try {
    return parseListQuery(fields, limits);
  } catch (err) {
    throw restError(err);
  }
}

/** `annotation=k=v` (repeatable) as a map; a key may appear once. */
function parseAnnotationParams(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  const items = Array.isArray(value) ? value : [value];
  const out: Record<string, string> = {};
  for (const item of items) {
    if (typeof item !== 'string') throw invalidParam('annotation', 'must be key=value');
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalidParam('annotation', 'must be key=value');
    const key = item.slice(0, eq);
    if (Object.prototype.hasOwnProperty.call(out, key)) throw invalidParam('annotation', `key "${key.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}" given more than once`);
    out[key] = item.slice(eq + 1);
  }
  return out;
}

/** Epoch microseconds of the createdAfter date-time (digits below a microsecond dropped). */
function createdAfterMicros(text: string): bigint {
  const micros = parseRfc3339Micros(text);
  if (micros === undefined) throw invalidParam('createdAfter', 'must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z');
  return micros;
}

function invalidParam(field: string, message: string): ValidationError {
  return new ValidationError('list records: invalid query', [{ field, message }]);
}

/** Rewrites an error of the store's List validation to name the REST parameter. */
function restError(err: unknown): unknown {
  if (!(err instanceof ParleyError) || err instanceof ValidationError) return err;
  const field = err.details.field;
  if (typeof field !== 'string') return err;
  const rest = REST_FIELD[field] ?? field;
  const why = err.message.replace(/^list: /, '').replace(`${field}: `, '');
  if (err.code === 'invalid_argument') return invalidParam(rest, why);
  return new ParleyError(err.code, `list records: ${rest}: ${why}`, { details: { field: rest }, cause: err });
}
