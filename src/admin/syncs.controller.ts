import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { SyncService } from '../sync';
import { PeerRegistry } from './peer-registry';
import { RequirePermission } from './permissions';
import { CreateSyncBodyDto, ListSyncsQueryDto, SyncDto, SyncPageDto, toSyncDto } from './syncs.dto';

const ID_PARAM = { name: 'id', description: 'sync id (a lowercase UUID)', example: '0b5c6f1e-3a52-4c8e-9d1b-7f2a4e6c8d10' };

/**
 * The syncs of this gateway for operators: the very jobs, validation, paging and errors of
 * parley.sync.v1.SyncService (one SyncService behind both). An admin may create a sync into
 * any namespace; on gRPC a workload may only where the policy lets it push.
 */
@ApiTags('syncs')
@Controller('v1/syncs')
export class SyncsController {
  constructor(
    @Inject(SyncService) private readonly syncs: SyncService,
    @Inject(PeerRegistry) private readonly peers: PeerRegistry,
  ) {}

  @Post()
  @RequirePermission('syncs:write')
  @ApiOperation({ summary: "Creates a sync from a partner's gateway or from an OCI registry repository (`source`): a worker of some replica claims it at once" })
  @ApiCreatedResponse({ type: SyncDto })
  @ApiBadRequestResponse({ description: 'an invalid request (problem+json names each field, e.g. `remoteAddress`, `namespaces[1]`)' })
  async create(@Body() body: CreateSyncBodyDto, @Req() req: Request): Promise<SyncDto> {
    const checked = this.syncs.check(body);
    return toSyncDto(await this.syncs.create(checked, this.by(req)));
  }

  @Get()
  @RequirePermission('syncs:read')
  @ApiOperation({ summary: 'Lists syncs, newest first, a page at a time' })
  @ApiOkResponse({ type: SyncPageDto })
  @ApiBadRequestResponse({ description: 'an invalid pageSize or pageToken' })
  async list(@Query() query: ListSyncsQueryDto): Promise<SyncPageDto> {
    const page = await this.syncs.list(query.pageSize, query.pageToken, 'pageToken');
    return { syncs: page.syncs.map(toSyncDto), nextPageToken: page.nextPageToken };
  }

  @Get(':id')
  @RequirePermission('syncs:read')
  @ApiOperation({ summary: 'One sync: status, failure reason, counters, attempts' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: SyncDto })
  @ApiBadRequestResponse({ description: 'not a sync id' })
  @ApiNotFoundResponse({ description: 'no such sync' })
  async get(@Param('id') id: string): Promise<SyncDto> {
    return toSyncDto(await this.syncs.get(id, 'id'));
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('syncs:write')
  @ApiOperation({ summary: 'Deletes a sync in any state: a running one stops at the next record (DELETE_PENDING until then); copied records stay' })
  @ApiParam(ID_PARAM)
  @ApiNoContentResponse({ description: 'deleted, or stopping' })
  @ApiBadRequestResponse({ description: 'not a sync id' })
  @ApiNotFoundResponse({ description: 'no such sync' })
  async remove(@Param('id') id: string, @Req() req: Request): Promise<void> {
    await this.syncs.delete(id, this.by(req), 'id');
  }

  private by(req: Request): string {
    return this.peers.get(req.socket)?.id.toString() ?? 'unknown';
  }
}
