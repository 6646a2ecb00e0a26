import { Controller, Get, Inject, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ParleyError } from '../common';
import { IdentitySource } from '../identity';
import { AdminGatekeeper } from './admin-auth';
import { ADMIN_ROLES } from './domain/roles';
import { ADMIN_PERMISSIONS, RequirePermission } from './permissions';

class BundleAuthorityDto {
  @ApiProperty({ example: 'AB:CD:…' }) fingerprint256!: string;
  @ApiProperty() subject!: string;
  @ApiProperty({ format: 'date-time' }) notAfter!: string;
}

class CallerDto {
  @ApiProperty({ example: 'spiffe://acme.example/ops/alice' }) spiffeId!: string;
  @ApiProperty({ enum: ADMIN_ROLES, isArray: true, description: 'the admin roles the caller holds (admin.admins, admin.roles)' }) roles!: string[];
  @ApiProperty({ enum: ADMIN_PERMISSIONS, isArray: true, description: 'every permission those roles grant' }) permissions!: string[];
}

class IdentityDto {
  @ApiProperty({ example: 'spiffe://acme.example/parley/gateway' }) spiffeId!: string;
  @ApiProperty({ example: 'acme.example' }) trustDomain!: string;
  @ApiProperty({ description: 'serial number of the leaf certificate (hex)' }) serial!: string;
  @ApiProperty({ format: 'date-time' }) notAfter!: string;
  @ApiProperty({ enum: ['dev-ca', 'files', 'workload-api'] }) source!: string;
  @ApiProperty({ format: 'date-time' }) receivedAt!: string;
  @ApiProperty({ type: [BundleAuthorityDto], description: 'X.509 authorities of the own trust domain' }) bundleAuthorities!: BundleAuthorityDto[];
  @ApiProperty({ required: false, description: 'last renewal error, if renewal is failing' }) lastError?: string;
  @ApiProperty({ type: CallerDto, description: 'who is asking: its SPIFFE ID, admin roles and permissions' }) caller!: CallerDto;
}

@ApiTags('identity')
@Controller('v1/identity')
export class IdentityController {
  constructor(
    @Inject(IdentitySource) private readonly source: IdentitySource,
    @Inject(AdminGatekeeper) private readonly gatekeeper: AdminGatekeeper,
  ) {}

  @Get()
  @RequirePermission('identity:read')
  @ApiOperation({ summary: "The gateway's current X509-SVID and its trust domain's authorities, and the caller's roles and permissions" })
  @ApiOkResponse({ type: IdentityDto })
  get(@Req() req: Request): IdentityDto {
    const peer = this.gatekeeper.peerOf(req.socket);
    if (!peer) throw new ParleyError('permission_denied', 'no verified peer identity on the connection');
    const s = this.source.current();
    if (!s) throw new ParleyError('unavailable', `no X509-SVID yet from ${this.source.kind}`);
    const authorities = s.bundles.getX509Authorities(s.trustDomain) ?? [];
    return {
      spiffeId: s.svid.id.toString(),
      trustDomain: s.trustDomain.name,
      serial: s.svid.leaf.serialNumber,
      notAfter: s.svid.notAfter.toISOString(),
      source: s.source,
      receivedAt: s.receivedAt.toISOString(),
      bundleAuthorities: authorities.map((c) => ({ fingerprint256: c.fingerprint256, subject: c.subject, notAfter: new Date(c.validTo).toISOString() })),
      lastError: this.source.lastError(),
      caller: { spiffeId: peer.spiffeId, ...this.gatekeeper.describe(peer) },
    };
  }
}
