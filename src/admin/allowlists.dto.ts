import { ApiProperty } from '@nestjs/swagger';
import type { Allowlist } from '../authz';

/** Body of `PUT /v1/allowlists/{trustDomain}`. */
export class SetAllowlistDto {
  @ApiProperty({
    description: 'CIDR blocks (IPv4 or IPv6; a bare address is one host) the trust domain may connect from; host bits must be zero. An empty list refuses every address.',
    type: [String],
    example: ['192.0.2.0/24', '2001:db8::/32'],
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
