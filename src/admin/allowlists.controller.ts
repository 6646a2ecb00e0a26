import { Body, Controller, Delete, Get, HttpCode, Inject, Logger, Param, Put, Req, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { allowlistErrors, AllowlistStore } from '../authz';
import { trustDomainNameError } from '../authz';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import { AllowlistDto, AllowlistListDto, SetAllowlistDto, toAllowlistDto } from './allowlists.dto';
import { PeerRegistry } from './peer-registry';
import { RequirePermission } from './permissions';

const TD_PARAM = { name: 'trustDomain', description: 'trust domain name, without spiffe://', example: 'partner.example' };

@ApiTags('allowlists')
@Controller('v1/allowlists')
export class AllowlistsController {
  private readonly logger = new Logger('admin');

  constructor(
    @Inject(AllowlistStore) private readonly allowlists: AllowlistStore,
    @Inject(PeerRegistry) private readonly peers: PeerRegistry,
  ) {}

  @Get()
  @RequirePermission('allowlists:read')
  @ApiOperation({ summary: 'Lists the source-address allowlists of every restricted trust domain' })
  @ApiOkResponse({ type: AllowlistListDto })
  async list(): Promise<AllowlistListDto> {
    return { allowlists: (await this.allowlists.list()).map(toAllowlistDto) };
  }

  @Get(':trustDomain')
  @RequirePermission('allowlists:read')
  @ApiOperation({ summary: "A trust domain's source-address allowlist" })
  @ApiParam(TD_PARAM)
  @ApiOkResponse({ type: AllowlistDto })
  @ApiBadRequestResponse({ description: 'not a trust domain name' })
  @ApiNotFoundResponse({ description: 'the trust domain has no allowlist (it is not restricted by address)' })
  async get(@Param('trustDomain') trustDomain: string): Promise<AllowlistDto> {
    checkTrustDomain(trustDomain);
    const found = await this.allowlists.get(trustDomain);
    if (found === undefined) throw notFound(trustDomain);
    return toAllowlistDto(found);
  }

  @Put(':trustDomain')
  @RequirePermission('allowlists:write')
  @ApiOperation({ summary: "Sets a trust domain's allowlist: its workloads may then connect only from these blocks (every replica, within about a second)" })
  @ApiParam(TD_PARAM)
  @ApiCreatedResponse({ type: AllowlistDto, description: 'the trust domain had no list' })
  @ApiOkResponse({ type: AllowlistDto, description: 'the list was replaced' })
  @ApiBadRequestResponse({ description: 'invalid trust domain or CIDR block (problem+json names it, e.g. `cidrs[1]`)' })
  async set(@Param('trustDomain') trustDomain: string, @Body() body: SetAllowlistDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<AllowlistDto> {
    const cidrs = allowedBlocks(trustDomain, body);
    const by = this.peers.get(req.socket)?.id.toString() ?? 'unknown';
    const { allowlist, created } = await this.allowlists.set(trustDomain, cidrs, by);
    res.status(created ? 201 : 200);
    this.logger.log({ trustDomain, cidrs: allowlist.cidrs.length, by }, 'allowlist set');
    return toAllowlistDto(allowlist);
  }

  @Delete(':trustDomain')
  @HttpCode(204)
  @RequirePermission('allowlists:write')
  @ApiOperation({ summary: "Removes a trust domain's allowlist (its workloads may connect from any address again)" })
  @ApiParam(TD_PARAM)
  @ApiNoContentResponse({ description: 'removed' })
  @ApiBadRequestResponse({ description: 'not a trust domain name' })
  @ApiNotFoundResponse({ description: 'the trust domain has no allowlist' })
  async remove(@Param('trustDomain') trustDomain: string, @Req() req: Request): Promise<void> {
    checkTrustDomain(trustDomain);
    if (!(await this.allowlists.remove(trustDomain))) throw notFound(trustDomain);
    this.logger.log({ trustDomain, by: this.peers.get(req.socket)?.id.toString() }, 'allowlist removed');
  }
}

function checkTrustDomain(trustDomain: string): void {
  const why = trustDomainNameError(trustDomain);
  if (why !== undefined) throw new ValidationError('allowlist: invalid trust domain', [{ field: 'trustDomain', message: why }]);
}

function notFound(trustDomain: string): ParleyError {
  return new ParleyError('not_found', `trust domain ${trustDomain} has no allowlist`);
}

/**
 * The trust domain of the path and the blocks of a validated body, parsed together so both
 * are reported at once. @throws ValidationError naming every invalid field (`trustDomain`, `cidrs[i]`)
 */
function allowedBlocks(trustDomain: string, body: SetAllowlistDto): string[] {
  const errors = allowlistErrors(trustDomain, body.cidrs);
  if (errors.length > 0) throw new ValidationError('allowlist: invalid request', errors);
  return [...body.cidrs];
}
