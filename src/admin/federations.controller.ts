import { Body, Controller, Delete, Get, HttpCode, Inject, Logger, Param, Post, Put, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExcludeEndpoint,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPreconditionFailedResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { ValidationError } from '../common';
import { FederationService } from '../federation';
import { FederationListDto, FederationStatusDto, RelationshipDto, ReplaceRelationshipDto, toFederationStatusDto, UploadBundleDto } from './federations.dto';
import { PeerRegistry } from './peer-registry';
import { RequirePermission } from './permissions';

const TD_PARAM = { name: 'trustDomain', description: 'partner trust domain name, without spiffe://', example: 'partner.example' };
/** Largest uploaded bundle (bytes). */
const MAX_UPLOAD_BYTES = 1024 * 1024;

@ApiTags('federations')
@Controller('v1/federations')
export class FederationsController {
  private readonly logger = new Logger('admin');

  constructor(
    @Inject(FederationService) private readonly federation: FederationService,
    @Inject(PeerRegistry) private readonly peers: PeerRegistry,
  ) {}

  @Get()
  @RequirePermission('federations:read')
  @ApiOperation({ summary: 'Lists every federation relationship with its state, held bundle and last poll' })
  @ApiOkResponse({ type: FederationListDto })
  async list(): Promise<FederationListDto> {
    return { federations: (await this.federation.list()).map(toFederationStatusDto) };
  }

  @Get(':trustDomain')
  @RequirePermission('federations:read')
  @ApiOperation({ summary: 'One relationship: declaration, state, held authorities, skipped entries, last error' })
  @ApiParam(TD_PARAM)
  @ApiOkResponse({ type: FederationStatusDto })
  @ApiNotFoundResponse({ description: 'no relationship with this trust domain' })
  async get(@Param('trustDomain') td: string): Promise<FederationStatusDto> {
    return toFederationStatusDto(await this.federation.status(td));
  }

  @Post()
  @RequirePermission('federations:write')
  @ApiOperation({ summary: 'Creates a relationship; the polling replica fetches its bundle at once (static: upload it with PUT …/bundle)' })
  @ApiCreatedResponse({ type: FederationStatusDto })
  @ApiBadRequestResponse({ description: 'invalid relationship (problem+json names each field in `errors[].field`)' })
  @ApiConflictResponse({ description: 'the trust domain already has a relationship' })
  async create(@Body() body: RelationshipDto, @Req() req: Request): Promise<FederationStatusDto> {
    const status = await this.federation.create({ ...body });
    this.logger.log({ trustDomain: status.trustDomain, profile: status.profile, by: this.caller(req) }, 'federation relationship created');
    return toFederationStatusDto(status);
  }

  @Post(':trustDomain/refresh')
  @HttpCode(200)
  @RequirePermission('federations:write')
  @ApiOperation({ summary: 'Fetches the partner bundle now and returns the resulting status (also served as POST /v1/federations/{trustDomain}:refresh)' })
  @ApiParam(TD_PARAM)
  @ApiOkResponse({ type: FederationStatusDto })
  @ApiNotFoundResponse({ description: 'no relationship with this trust domain' })
  @ApiPreconditionFailedResponse({ description: 'a static relationship has nothing to fetch' })
  async refresh(@Param('trustDomain') td: string, @Req() req: Request): Promise<FederationStatusDto> {
    const status = await this.federation.refreshNow(td);
    this.logger.log({ trustDomain: td, state: status.state, by: this.caller(req) }, 'federation refresh requested');
    return toFederationStatusDto(status);
  }

  /**
   * The custom-method spelling of refresh, `POST /v1/federations/{trustDomain}:refresh` (a
   * trust domain name never contains a colon). Left out of the OpenAPI document: a template
   * sharing its path segment with a literal is one many client generators mishandle, and
   * documenting both spellings would give clients two methods for one action.
   */
  @Post(':trustDomain\\:refresh')
  @HttpCode(200)
  @RequirePermission('federations:write')
  @ApiExcludeEndpoint()
  refreshCustomMethod(@Param('trustDomain') td: string, @Req() req: Request): Promise<FederationStatusDto> {
    return this.refresh(td, req);
  }

  @Put(':trustDomain')
  @RequirePermission('federations:write')
  @ApiOperation({ summary: 'Replaces a relationship (e.g. new URLs or deny list); every replica applies it within about a second' })
  @ApiParam(TD_PARAM)
  @ApiOkResponse({ type: FederationStatusDto })
  @ApiBadRequestResponse({ description: 'invalid relationship' })
  @ApiNotFoundResponse({ description: 'no relationship with this trust domain' })
  async replace(@Param('trustDomain') td: string, @Body() body: ReplaceRelationshipDto, @Req() req: Request): Promise<FederationStatusDto> {
    const status = await this.federation.update(td, { ...body });
    this.logger.log({ trustDomain: td, profile: status.profile, denied: status.deniedAuthorities.length, by: this.caller(req) }, 'federation relationship replaced');
    return toFederationStatusDto(status);
  }

  @Delete(':trustDomain')
  @HttpCode(204)
  @RequirePermission('federations:write')
  @ApiOperation({ summary: "Deletes a relationship: every replica drops the partner's bundle and closes its connections" })
  @ApiParam(TD_PARAM)
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiNotFoundResponse({ description: 'no relationship with this trust domain' })
  async remove(@Param('trustDomain') td: string, @Req() req: Request): Promise<void> {
    await this.federation.remove(td);
    this.logger.log({ trustDomain: td, by: this.caller(req) }, 'federation relationship deleted');
  }

  @Put(':trustDomain/bundle')
  @RequirePermission('federations:write')
  @ApiOperation({ summary: 'Sets the bundle of a static relationship: the SPIFFE bundle JSON, PEM certificates (application/x-pem-file), or {"bundle": "…"}' })
  @ApiParam(TD_PARAM)
  @ApiConsumes('application/json', 'application/x-pem-file', 'text/plain')
  @ApiBody({ type: UploadBundleDto, required: true })
  @ApiOkResponse({ type: FederationStatusDto })
  @ApiBadRequestResponse({ description: 'the bundle does not parse (field `bundle`)' })
  @ApiNotFoundResponse({ description: 'no relationship with this trust domain' })
  @ApiPreconditionFailedResponse({ description: 'the relationship is not static' })
  async upload(@Param('trustDomain') td: string, @Req() req: Request): Promise<FederationStatusDto> {
    const text = await uploadedBundle(req);
    const status = await this.federation.uploadBundle(td, text);
    this.logger.log({ trustDomain: td, sequence: status.sequence, authorities: status.authorities.length, by: this.caller(req) }, 'federation static bundle uploaded');
    return toFederationStatusDto(status);
  }

  private caller(req: Request): string {
    return this.peers.get(req.socket)?.id.toString() ?? 'unknown';
  }
}

/** The uploaded document: a parsed JSON body (the SPIFFE bundle itself or {"bundle": "…"}), else the raw text. */
async function uploadedBundle(req: Request): Promise<string> {
  const body: unknown = req.body;
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length > 0) {
    const b = body as Record<string, unknown>;
    if (Object.hasOwn(b, 'keys')) return JSON.stringify(b);
    if (typeof b.bundle === 'string') return b.bundle;
    throw invalid('send the SPIFFE bundle JSON, PEM certificates, or {"bundle": "…"}');
  }
  if (!req.readable) throw invalid('required: the SPIFFE bundle JSON or PEM certificates');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > MAX_UPLOAD_BYTES) throw invalid('is larger than 1 MiB');
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim().length === 0) throw invalid('required: the SPIFFE bundle JSON or PEM certificates');
  return text;
}

function invalid(message: string): ValidationError {
  return new ValidationError('federation: invalid bundle upload', [{ field: 'bundle', message }]);
}
