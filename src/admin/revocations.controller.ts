import { Body, Controller, Delete, Get, HttpCode, Inject, Logger, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { parseRfc3339 } from '../authz';
import { revocationValue, type NewRevocation, RevocationStore } from '../authz';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import { PeerRegistry } from './peer-registry';
import { RequirePermission } from './permissions';
import { CreateRevocationDto, RevocationDto, RevocationListDto, toRevocationDto } from './revocations.dto';

@ApiTags('revocations')
@Controller('v1/revocations')
export class RevocationsController {
  private readonly logger = new Logger('admin');

  constructor(
    @Inject(RevocationStore) private readonly revocations: RevocationStore,
    @Inject(PeerRegistry) private readonly peers: PeerRegistry,
  ) {}

  @Get()
  @RequirePermission('revocations:read')
  @ApiOperation({ summary: 'Lists revoked SPIFFE IDs and certificate fingerprints, newest first' })
  @ApiOkResponse({ type: RevocationListDto })
  async list(): Promise<RevocationListDto> {
    const now = Date.now();
    return { revocations: (await this.revocations.list()).map((r) => toRevocationDto(r, now)) };
  }

  @Post()
  @RequirePermission('revocations:write')
  @ApiOperation({
    summary: 'Revokes a SPIFFE ID or one certificate; every replica refuses its calls and closes its open connections within about a second',
    description: 'Revoking a target again replaces its reason and expiry (200 instead of 201).',
  })
  @ApiCreatedResponse({ type: RevocationDto, description: 'revoked' })
  @ApiOkResponse({ type: RevocationDto, description: 'already revoked; reason and expiry replaced' })
  @ApiBadRequestResponse({ description: 'invalid body (problem+json names the field in `errors[].field`)' })
  async create(@Body() body: CreateRevocationDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<RevocationDto> {
    const createdBy = this.peers.get(req.socket)?.id.toString() ?? 'unknown';
    const input = newRevocation(body, createdBy);
    const { revocation, created } = await this.revocations.add(input);
    res.status(created ? 201 : 200);
    this.logger.log({ id: revocation.id, kind: revocation.kind, value: revocation.value, by: createdBy, expiresAt: revocation.expiresAt?.toISOString() }, created ? 'revoked' : 'revocation replaced');
    return toRevocationDto(revocation);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('revocations:write')
  @ApiOperation({ summary: 'Removes a revocation (the target may connect again)' })
  @ApiParam({ name: 'id', description: 'id from the list', example: '42' })
  @ApiNoContentResponse({ description: 'removed' })
  @ApiBadRequestResponse({ description: 'the id is not a revocation id' })
  @ApiNotFoundResponse({ description: 'no revocation has this id' })
  async remove(@Param('id') id: string, @Req() req: Request): Promise<void> {
    if (!isId(id)) throw new ValidationError('remove revocation: invalid id', [{ field: 'id', message: 'must be a revocation id (a positive integer)' }]);
    if (!(await this.revocations.remove(id))) throw new ParleyError('not_found', `revocation ${id} not found`);
    this.logger.log({ id, by: this.peers.get(req.socket)?.id.toString() }, 'revocation removed');
  }
}

function isId(s: string): boolean {
  return /^[1-9][0-9]{0,17}$/.test(s);
}

/** The stored revocation (canonical value) of a validated body. */
export function newRevocation(body: CreateRevocationDto, createdBy: string): NewRevocation {
  const kind = body.spiffeId !== undefined ? 'spiffe_id' : 'fingerprint';
  const target = revocationValue(kind, body.spiffeId ?? body.fingerprint);
  if ('error' in target) throw new ValidationError('revoke: invalid request', [{ field: body.spiffeId !== undefined ? 'spiffeId' : 'fingerprint', message: target.error }]);
  const expiresAt = body.expiresAt === undefined ? undefined : parseRfc3339(body.expiresAt);
  const revocation: NewRevocation = { kind, value: target.value, reason: body.reason ?? '', createdBy };
  return expiresAt === undefined ? revocation : { ...revocation, expiresAt };
}
