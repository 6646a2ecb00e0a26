import { Body, Controller, Delete, Get, HttpCode, Inject, Logger, Param, Put, Req, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ParleyError, ValidationError } from '../common';
import { ExportStore } from '../sync';
import { ExportBodyDto, ExportDto, ExportListDto, type ExportPartnerDto } from './exports.dto';
import { PeerRegistry } from './peer-registry';
import { RequirePermission } from './permissions';

const ID_PARAM = { name: 'id', description: 'export id: 1 to 63 of [a-z0-9._-], starting with a letter or digit', example: 'ml-shared' };

type StoredExport = Awaited<ReturnType<ExportStore['list']>>[number];

function toExportDto(e: StoredExport): ExportDto {
  const d = e.definition;
  return {
    id: d.id,
    partner: { ...d.partner } as ExportPartnerDto,
    namespaces: [...d.namespaces],
    ...(d.annotations === undefined ? {} : { annotations: { ...d.annotations } }),
    actions: [...d.actions],
    ...(d.description === undefined ? {} : { description: d.description }),
    createdBy: e.createdBy,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

const notFound = (id: string) => new ParleyError('not_found', `export ${JSON.stringify(id)} does not exist`);

/** What this gateway shares with partners for Sync (deny by default: nothing until an export names a partner). */
@ApiTags('exports')
@Controller('v1/exports')
export class ExportsController {
  private readonly logger = new Logger('admin');

  constructor(
    @Inject(ExportStore) private readonly exports: ExportStore,
    @Inject(PeerRegistry) private readonly peers: PeerRegistry,
  ) {}

  @Get()
  @RequirePermission('exports:read')
  @ApiOperation({ summary: 'Lists the exports, by id' })
  @ApiOkResponse({ type: ExportListDto })
  async list(): Promise<ExportListDto> {
    return { exports: (await this.exports.list()).map(toExportDto) };
  }

  @Get(':id')
  @RequirePermission('exports:read')
  @ApiOperation({ summary: 'One export' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: ExportDto })
  @ApiNotFoundResponse({ description: 'no such export' })
  async get(@Param('id') id: string): Promise<ExportDto> {
    const found = await this.exports.get(id);
    if (found === undefined) throw notFound(id);
    return toExportDto(found);
  }

  @Put(':id')
  @RequirePermission('exports:write')
  @ApiOperation({ summary: 'Creates or replaces an export; partners named get grants for it at once (every replica, within about a second)' })
  @ApiParam(ID_PARAM)
  @ApiCreatedResponse({ type: ExportDto, description: 'created' })
  @ApiOkResponse({ type: ExportDto, description: 'replaced' })
  @ApiBadRequestResponse({ description: 'an invalid definition (problem+json names each field, e.g. `namespaces[1]`, `partner`)' })
  async put(@Param('id') id: string, @Body() body: ExportBodyDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<ExportDto> {
    if (body.id !== undefined && body.id !== id) throw new ValidationError('export: invalid definition', [{ field: 'id', message: 'must be the export id of the path' }]);
    const by = this.peers.get(req.socket)?.id.toString() ?? 'unknown';
    const { stored, created } = await this.exports.put({ ...body, id }, by);
    res.status(created ? 201 : 200);
    this.logger.log({ export: id, by, created }, 'export set');
    return toExportDto(stored);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('exports:write')
  @ApiOperation({ summary: 'Removes an export: grants are no longer issued for it (grants issued before stay valid until they expire)' })
  @ApiParam(ID_PARAM)
  @ApiNoContentResponse({ description: 'removed' })
  @ApiNotFoundResponse({ description: 'no such export' })
  async remove(@Param('id') id: string, @Req() req: Request): Promise<void> {
    if (!(await this.exports.remove(id))) throw notFound(id);
    this.logger.log({ export: id, by: this.peers.get(req.socket)?.id.toString() }, 'export removed');
  }
}
