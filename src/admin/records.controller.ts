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
import { annotationParams, ListRecordsQueryDto, RecordDetailDto, RecordPageDto, toRecordDto, toReferrerSummaryDto } from './records.dto';

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
    const parsed = listQueryOf(query, this.store.limits);
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

/**
 * The validated query of `GET /v1/records` as the store's ListQuery (the very validation,
 * limits and page tokens of the gRPC List), its errors named by REST parameter.
 * @throws ValidationError (400, naming the parameter) | ParleyError resource_exhausted
 */
export function listQueryOf(query: ListRecordsQueryDto, limits: StoreLimits): ListQuery {
  const fields = {
    namespace: query.namespace || undefined,
    includeSubNamespaces: query.recursive === true,
    annotations: annotationParams(query.annotation),
    mediaType: query.mediaType || undefined,
    creatorTrustDomain: query.creatorTrustDomain || undefined,
    createdAfterMicros: query.createdAfter ? parseRfc3339Micros(query.createdAfter) : undefined,
    pageSize: query.pageSize,
    pageToken: query.pageToken || undefined,
  };
  try {
    return parseListQuery(fields, limits);
  } catch (err) {
    throw restError(err);
  }
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
