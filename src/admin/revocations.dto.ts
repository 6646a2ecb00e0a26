import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Revocation } from '../authz';

const FINGERPRINT_EXAMPLE = '5f2b1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c';

/** Body of `POST /v1/revocations`: exactly one of spiffeId and fingerprint. */
export class CreateRevocationDto {
  @ApiPropertyOptional({ description: 'SPIFFE ID to revoke (every certificate naming it)', example: 'spiffe://partner.example/ns/ml/sa/puller' }) spiffeId?: string;
  @ApiPropertyOptional({
    description: 'SHA-256 fingerprint of one leaf certificate: 64 hex digits, colons between bytes allowed, any case',
    example: FINGERPRINT_EXAMPLE,
  })
  fingerprint?: string;
  @ApiPropertyOptional({ description: 'why (kept for operators and the audit trail, never sent to the peer)', maxLength: 1000, example: 'key leaked in CI logs' }) reason?: string;
  @ApiPropertyOptional({ description: 'when the revocation stops applying (RFC 3339, in the future); absent = never', format: 'date-time' }) expiresAt?: string;
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
