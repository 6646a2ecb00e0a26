import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import type { FederationStatus } from '../federation';
import { FEDERATION_PROFILES, normalizeAuthorityRef, readHttpsUrl, RELATIONSHIP_LIMITS } from '../federation';
import { SpiffeId, TrustDomain } from '../spiffe';
import { JsonBody, Text, TextList } from './admin-fields';

const TD = 'partner.example';
const FINGERPRINT = '3f1d0c9e8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const { maxEndpointUrls, maxDeniedAuthorities } = RELATIONSHIP_LIMITS;
const URLS_REQUIRED = `required: 1 to ${maxEndpointUrls} https URLs`;

/** A partner trust domain name (`spiffe://` in front is accepted, a path is not), or why not. */
function partnerNameError(text: string): string | undefined {
  const name = text.startsWith('spiffe://') ? text.slice('spiffe://'.length) : text;
  try {
    return TrustDomain.parse(name).name === name ? undefined : 'must be a trust domain name without a path';
  } catch (err) {
    return err instanceof Error ? err.message : 'not a trust domain name';
  }
}

function endpointIdError(text: string): string | undefined {
  const id = SpiffeId.tryParse(text);
  if (id === undefined) return 'must be a valid SPIFFE ID';
  return id.path === '' ? 'must be a SPIFFE ID with a path' : undefined;
}

const fetched = (dto: Record<string, unknown>) => dto.profile === 'https_spiffe' || dto.profile === 'https_web';

// What each field must look like, and which profile requires it; what the profile forbids,
// our own trust domain, duplicate URLs and the bundle documents are the relationship
// validator's (validateRelationship, shared with federation.relationships in the config).

/** Body of `POST /v1/federations`. */
@JsonBody('federation: invalid relationship')
export class RelationshipDto {
  @Text({ doc: { description: 'partner trust domain name (not our own)', example: TD }, message: 'required: a trust domain name', check: partnerNameError }) trustDomain!: string;
  @Text({ doc: { description: 'how the bundle is obtained; never inferred, never mixed' }, enum: FEDERATION_PROFILES, message: `required: one of ${FEDERATION_PROFILES.join(', ')}` }) profile!: string;
  @TextList({
    doc: { description: `https_spiffe / https_web: 1 to ${maxEndpointUrls} https URLs of the bundle endpoint, tried in order`, example: ['https://bundle.partner.example:8446/'] },
    optional: 'or-null',
    requiredWhen: fetched,
    message: URLS_REQUIRED,
    maxItems: { max: maxEndpointUrls, message: URLS_REQUIRED },
    itemMessage: 'must be an https URL',
    item: (text) => {
      const read = readHttpsUrl(text);
      return 'error' in read ? read.error : undefined;
    },
  })
  endpointUrls?: string[];
  @Text({
    doc: { description: 'https_spiffe: the SPIFFE ID the endpoint server must present', example: 'spiffe://partner.example/spire/server' },
    optional: 'or-null',
    requiredWhen: (dto) => dto.profile === 'https_spiffe',
    message: 'required for profile https_spiffe: the SPIFFE ID of the bundle endpoint server',
    check: endpointIdError,
  })
  endpointSpiffeId?: string;
  @Text({ doc: { description: "https_spiffe: bundle of the endpoint ID's trust domain (SPIFFE JSON or PEM) for the first fetch" }, optional: 'or-null', message: 'must be a SPIFFE bundle (JSON) or PEM certificates' })
  bootstrapBundle?: string;
  @Text({ doc: { description: 'https_web: PEM roots to verify the endpoint with instead of the web PKI' }, optional: 'or-null', message: 'must be PEM certificates' }) caRootsPem?: string;
  @TextList({
    doc: { description: 'authorities never trusted even when published: SHA-256 fingerprints (hex, colons allowed) or ski:HEX', example: [FINGERPRINT] },
    optional: 'or-null',
    message: `must be a list of at most ${maxDeniedAuthorities} fingerprints or ski: ids`,
    maxItems: { max: maxDeniedAuthorities, message: `must be a list of at most ${maxDeniedAuthorities} fingerprints or ski: ids` },
    itemMessage: 'must be a SHA-256 fingerprint (64 hex digits, colons allowed) or ski:<hex>',
    item: (text) => (normalizeAuthorityRef(text) === undefined ? 'must be a SHA-256 fingerprint (64 hex digits, colons allowed) or ski:<hex>' : undefined),
  })
  deniedAuthorities?: string[];
}

/** Body of `PUT /v1/federations/{trustDomain}`: `trustDomain` may be left out (it must be the path's). */
@JsonBody('federation: invalid relationship')
export class ReplaceRelationshipDto extends OmitType(RelationshipDto, ['trustDomain'] as const) {
  @Text({ doc: { description: 'the trust domain of the path, if given', example: TD }, optional: true, message: 'required: a trust domain name' }) trustDomain?: string;
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
