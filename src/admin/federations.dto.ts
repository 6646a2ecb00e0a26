import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { FederationStatus } from '../federation';

const TD = 'partner.example';
const FINGERPRINT = '3f1d0c9e8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';

/** Body of `POST /v1/federations` (and of `PUT /v1/federations/{trustDomain}`, where trustDomain may be left out). */
export class RelationshipDto {
  @ApiProperty({ description: 'partner trust domain name (not our own)', example: TD }) trustDomain!: string;
  @ApiProperty({ enum: ['https_spiffe', 'https_web', 'static'], description: 'how the bundle is obtained; never inferred, never mixed' }) profile!: string;
  @ApiPropertyOptional({ type: [String], description: 'https_spiffe / https_web: 1 to 8 https URLs of the bundle endpoint, tried in order', example: ['https://bundle.partner.example:8446/'] })
  endpointUrls?: string[];
  @ApiPropertyOptional({ description: 'https_spiffe: the SPIFFE ID the endpoint server must present', example: 'spiffe://partner.example/spire/server' }) endpointSpiffeId?: string;
  @ApiPropertyOptional({ description: "https_spiffe: bundle of the endpoint ID's trust domain (SPIFFE JSON or PEM) for the first fetch" }) bootstrapBundle?: string;
  @ApiPropertyOptional({ description: 'https_web: PEM roots to verify the endpoint with instead of the web PKI' }) caRootsPem?: string;
  @ApiPropertyOptional({ type: [String], description: 'authorities never trusted even when published: SHA-256 fingerprints (hex, colons allowed) or ski:HEX', example: [FINGERPRINT] })
  deniedAuthorities?: string[];
}

export class AuthorityDto {
  @ApiProperty({ description: 'SHA-256 fingerprint, 64 lowercase hex digits', example: FINGERPRINT }) fingerprint!: string;
  @ApiPropertyOptional({ description: 'subject key identifier', example: 'ski:6f1a2b3c4d5e6f708192a3b4c5d6e7f809112233' }) ski?: string;
  @ApiProperty({ example: 'O=partner.example' }) subject!: string;
  @ApiProperty({ format: 'date-time' }) notAfter!: string;
}

export class LastErrorDto {
  @ApiProperty({ description: 'connect | tls | endpoint_identity | http_status | timeout | too_large | invalid_bundle | wrong_content | redirect', example: 'timeout' })
  reason!: string;
  @ApiProperty({ example: 'no answer within 10000 ms' }) detail!: string;
  @ApiPropertyOptional({ format: 'date-time' }) at?: string;
}

export class SkippedEntryDto {
  @ApiProperty({ description: 'position in the document\'s keys array' }) index!: number;
  @ApiProperty({ example: 'unknown use "x509-foo"' }) reason!: string;
}

export class FederationStatusDto extends RelationshipDto {
  @ApiProperty({ enum: ['api', 'config'], description: 'api: made through this API; config: declared in federation.relationships' }) source!: string;
  @ApiProperty({ enum: ['pending', 'ready', 'stale', 'failing'] }) state!: string;
  @ApiProperty({ description: 'fetches so far (uploads for static)' }) polls!: number;
  @ApiProperty() consecutiveFailures!: number;
  @ApiPropertyOptional({ format: 'date-time' }) lastSuccessAt?: string;
  @ApiPropertyOptional({ type: LastErrorDto, description: 'the latest failed poll (compare at with lastSuccessAt)' }) lastError?: LastErrorDto;
  @ApiPropertyOptional({ description: 'spiffe_sequence of the held bundle (decimal, 64-bit)', example: '42' }) sequence?: string;
  @ApiPropertyOptional({ description: 'spiffe_refresh_hint of the held bundle (seconds)', example: 300 }) refreshHint?: number;
  @ApiPropertyOptional({ format: 'date-time', description: 'when the polling replica fetches next' }) nextPollAt?: string;
  @ApiPropertyOptional({ description: 'replica that polled last' }) polledBy?: string;
  @ApiPropertyOptional({ description: 'reported although the last poll succeeded, e.g. a decreasing sequence' }) warning?: string;
  @ApiProperty({ type: [AuthorityDto], description: 'X.509 authorities trusted for the partner (after the deny list)' }) authorities!: AuthorityDto[];
  @ApiProperty({ type: [String], description: 'fingerprints of published authorities removed by the deny list' }) deniedInBundle!: string[];
  @ApiProperty({ type: [String], description: 'kid of each JWT authority' }) jwtKeyIds!: string[];
  @ApiProperty({ type: [SkippedEntryDto], description: 'entries of the last document that were skipped, and why' }) skipped!: SkippedEntryDto[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class FederationListDto {
  @ApiProperty({ type: [FederationStatusDto], description: 'by trust domain name' }) federations!: FederationStatusDto[];
}

export class HeldBundleDto {
  @ApiProperty({ example: TD }) trustDomain!: string;
  @ApiProperty({ description: 'our own trust domain' }) own!: boolean;
  @ApiProperty({ description: 'a federation relationship feeds it' }) relationship!: boolean;
  @ApiProperty({ description: 'X.509 authorities held' }) authorities!: number;
}

export class HeldBundleListDto {
  @ApiProperty({ type: [HeldBundleDto], description: 'by trust domain name' }) bundles!: HeldBundleDto[];
}

/** JSON body of `PUT /v1/federations/{trustDomain}/bundle` (or send the SPIFFE JSON / PEM itself). */
export class UploadBundleDto {
  @ApiProperty({ description: 'the SPIFFE bundle (JSON) or PEM certificates' }) bundle!: string;
}

export function toFederationStatusDto(s: FederationStatus): FederationStatusDto {
  return {
    ...s,
    endpointUrls: [...s.endpointUrls],
    deniedAuthorities: [...s.deniedAuthorities],
    authorities: s.authorities.map((a) => ({ ...a })),
    deniedInBundle: [...s.deniedInBundle],
    jwtKeyIds: [...s.jwtKeyIds],
    skipped: s.skipped.map((k) => ({ index: k.index, reason: k.reason })),
    ...(s.lastError === undefined ? {} : { lastError: { ...s.lastError } }),
  };
}
