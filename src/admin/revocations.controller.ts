import { Body, Controller, Delete, Get, HttpCode, Inject, Logger, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { parseRfc3339 } from '../authz';
import { revocationValue, type NewRevocation, type RevocationKind, RevocationStore } from '../authz';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import { PeerRegistry } from './peer-registry';
import { RequirePermission } from './permissions';
import { CreateRevocationDto, RevocationDto, RevocationListDto, toRevocationDto } from './revocations.dto';

/** Longest reason kept with a revocation (characters). */
export const MAX_REVOCATION_REASON = 1000;

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
    const input = parseCreateRevocation(body as unknown, createdBy, Date.now());
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

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function isId(s: string): boolean {
  return /^[1-9][0-9]{0,17}$/.test(s);
}

const BODY_KEYS: ReadonlySet<string> = new Set(['spiffeId', 'fingerprint', 'reason', 'expiresAt']);

/**
 * Validates the body of `POST /v1/revocations` into a stored revocation (canonical value).
 * @throws ValidationError listing every invalid field
 */
export function parseCreateRevocation(body: unknown, createdBy: string, nowMs: number): NewRevocation {
  const fail = (errors: Array<{ field: string; message: string }>) => new ValidationError('revoke: invalid request', errors);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fail([{ field: '', message: 'body must be a JSON object' }]);
  const b = body as Record<string, unknown>;
  const errors: Array<{ field: string; message: string }> = [];
  for (const key of Object.keys(b)) if (!BODY_KEYS.has(key)) errors.push({ field: key, message: 'unknown field' });

  let kind: RevocationKind | undefined;
  let value = '';
  const given = (['spiffeId', 'fingerprint'] as const).filter((k) => b[k] !== undefined);
  if (given.length !== 1) {
    const message = given.length === 0 ? 'one of spiffeId and fingerprint is required' : 'give only one of spiffeId and fingerprint';
    errors.push({ field: given.length === 0 ? 'spiffeId' : 'fingerprint', message });
  } else {
    const field = given[0]!;
    kind = field === 'spiffeId' ? 'spiffe_id' : 'fingerprint';
    const parsed = revocationValue(kind, b[field]);
    if ('error' in parsed) errors.push({ field, message: parsed.error });
    else value = parsed.value;
  }

  let reason = '';
  if (b.reason !== undefined) {
    if (typeof b.reason !== 'string') errors.push({ field: 'reason', message: 'must be a string' });
    else if (b.reason.length > MAX_REVOCATION_REASON) errors.push({ field: 'reason', message: `at most ${MAX_REVOCATION_REASON} characters` });
    else if (hasControlCharacter(b.reason)) errors.push({ field: 'reason', message: 'must not contain control characters' });
    else reason = b.reason;
  }

  let expiresAt: Date | undefined;
  if (b.expiresAt !== undefined) {
    const parsed = typeof b.expiresAt === 'string' ? parseRfc3339(b.expiresAt) : undefined;
    if (parsed === undefined) errors.push({ field: 'expiresAt', message: 'must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z' });
    else if (parsed.getTime() <= nowMs) errors.push({ field: 'expiresAt', message: 'must be in the future' });
    else expiresAt = parsed;
  }

  if (errors.length > 0 || kind === undefined) throw fail(errors);
  return expiresAt === undefined ? { kind, value, reason, createdBy } : { kind, value, reason, createdBy, expiresAt };
}
