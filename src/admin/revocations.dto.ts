import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { parseRfc3339 } from '../authz';
import { revocationValue, type Revocation, type RevocationKind } from '../authz';
import { hasControlCharacter, RFC3339_MESSAGE } from './admin-checks';
import { JsonBody, Text } from './admin-fields';

const FINGERPRINT_EXAMPLE = '5f2b1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c';

/** Longest reason kept with a revocation (characters). */
export const MAX_REVOCATION_REASON = 1000;

/** Why `text` is not a revocation target of `kind` (the store's canonical form), or undefined. */
function targetError(kind: RevocationKind, text: string): string | undefined {
  const parsed = revocationValue(kind, text);
  return 'error' in parsed ? parsed.error : undefined;
}

function expiryError(text: string): string | undefined {
  const at = parseRfc3339(text);
  if (at === undefined) return RFC3339_MESSAGE;
  return at.getTime() <= Date.now() ? 'must be in the future' : undefined;
}

/** Body of `POST /v1/revocations`: exactly one of spiffeId and fingerprint. */
@JsonBody('revoke: invalid request')
export class CreateRevocationDto {
  @Text({
    doc: { description: 'SPIFFE ID to revoke (every certificate naming it)', example: 'spiffe://partner.example/ns/ml/sa/puller' },
    optional: true,
    requiredWhen: (dto) => dto.fingerprint === undefined,
    missing: 'one of spiffeId and fingerprint is required',
    message: 'must be a string',
    check: (text) => targetError('spiffe_id', text),
  })
  spiffeId?: string;
  @Text({
    doc: { description: 'SHA-256 fingerprint of one leaf certificate: 64 hex digits, colons between bytes allowed, any case', example: FINGERPRINT_EXAMPLE },
    optional: true,
    message: 'must be a string',
    check: (text, dto) => (dto.spiffeId !== undefined ? 'give only one of spiffeId and fingerprint' : targetError('fingerprint', text)),
  })
  fingerprint?: string;
  @Text({
    doc: { description: 'why (kept for operators and the audit trail, never sent to the peer)', example: 'key leaked in CI logs' },
    optional: true,
    message: 'must be a string',
    maxLength: { max: MAX_REVOCATION_REASON, message: `at most ${MAX_REVOCATION_REASON} characters` },
    check: (text) => (hasControlCharacter(text) ? 'must not contain control characters' : undefined),
  })
  reason?: string;
  @Text({ doc: { description: 'when the revocation stops applying (RFC 3339, in the future); absent = never', format: 'date-time' }, optional: true, message: RFC3339_MESSAGE, check: expiryError })
  expiresAt?: string;
}

export class RevocationDto {
  @ApiProperty({ description: 'identifier for DELETE', example: '42' }) id!: string;
  @ApiProperty({ enum: ['spiffe_id', 'fingerprint'] }) kind!: 'spiffe_id' | 'fingerprint';
  @ApiProperty({ description: 'canonical SPIFFE ID, or the fingerprint as 64 lowercase hex digits', example: 'spiffe://partner.example/ns/ml/sa/puller' }) value!: string;
  @ApiProperty({ example: 'key leaked in CI logs' }) reason!: string;
  @ApiProperty({ description: 'SPIFFE ID of the operator who revoked', example: 'spiffe://acme.example/parley/admin' }) createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'absent = never expires' }) expiresAt?: string;
  @ApiProperty({ description: 'whether it applies now (false once expired)' }) active!: boolean;
}

export class RevocationListDto {
  @ApiProperty({ type: [RevocationDto], description: 'newest first, expired ones included' }) revocations!: RevocationDto[];
}

export function toRevocationDto(r: Revocation, nowMs = Date.now()): RevocationDto {
  const dto: RevocationDto = {
    id: r.id,
    kind: r.kind,
    value: r.value,
    reason: r.reason,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    active: r.expiresAt === undefined || r.expiresAt.getTime() > nowMs,
  };
  if (r.expiresAt !== undefined) dto.expiresAt = r.expiresAt.toISOString();
  return dto;
}
