import { ApiProperty } from '@nestjs/swagger';
import { MAX_ALLOWLIST_CIDRS, type Allowlist } from '../authz';
import { JsonBody, TextList } from './admin-fields';

/** Body of `PUT /v1/allowlists/{trustDomain}` (the blocks themselves are parsed with the trust domain, by allowlistErrors). */
@JsonBody('allowlist: invalid request')
export class SetAllowlistDto {
  @TextList({
    doc: {
      description: 'CIDR blocks (IPv4 or IPv6; a bare address is one host) the trust domain may connect from; host bits must be zero. An empty list refuses every address.',
      example: ['192.0.2.0/24', '2001:db8::/32'],
    },
    message: 'must be an array of CIDR blocks such as 192.0.2.0/24 or 2001:db8::/32',
    maxItems: { max: MAX_ALLOWLIST_CIDRS, message: `at most ${MAX_ALLOWLIST_CIDRS} blocks` },
  })
  cidrs!: string[];
}

export class AllowlistDto {
  @ApiProperty({ example: 'partner.example' }) trustDomain!: string;
  @ApiProperty({ type: [String], example: ['192.0.2.0/24', '2001:db8::/32'] }) cidrs!: string[];
  @ApiProperty({ description: 'SPIFFE ID of the operator who last set the list', example: 'spiffe://acme.example/parley/admin' }) updatedBy!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class AllowlistListDto {
  @ApiProperty({ type: [AllowlistDto], description: 'by trust domain name; trust domains not listed are not restricted by address' }) allowlists!: AllowlistDto[];
}

export function toAllowlistDto(a: Allowlist): AllowlistDto {
  return { trustDomain: a.trustDomain, cidrs: [...a.cidrs], updatedBy: a.updatedBy, updatedAt: a.updatedAt.toISOString() };
}
