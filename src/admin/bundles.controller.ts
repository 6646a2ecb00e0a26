import { Controller, Get, Headers, Inject, Param, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import { FederationService } from '../federation';
import { TrustDomain } from '../spiffe';
import { HeldBundleListDto } from './federations.dto';
import { RequirePermission } from './permissions';

export const PEM_MEDIA_TYPE = 'application/x-pem-file';

@ApiTags('bundles')
@Controller('v1/bundles')
export class BundlesController {
  constructor(@Inject(FederationService) private readonly federation: FederationService) {}

  @Get()
  @RequirePermission('bundles:read')
  @ApiOperation({ summary: 'Lists the trust domains whose bundles this replica holds (our own, partners)' })
  @ApiOkResponse({ type: HeldBundleListDto })
  list(): HeldBundleListDto {
    return { bundles: this.federation.heldTrustDomains() };
  }

  @Get(':trustDomain')
  @RequirePermission('bundles:read')
  @ApiOperation({ summary: 'The bundle held for a trust domain (ours or a partner’s, after its deny list) as SPIFFE JSON, or PEM with Accept: application/x-pem-file' })
  @ApiParam({ name: 'trustDomain', description: 'trust domain name, without spiffe://', example: 'partner.example' })
  @ApiHeader({ name: 'accept', required: false, description: `application/json (default) or ${PEM_MEDIA_TYPE}` })
  @ApiProduces('application/json', PEM_MEDIA_TYPE)
  @ApiOkResponse({ description: 'the SPIFFE bundle document (keys, spiffe_sequence, spiffe_refresh_hint) or PEM certificates' })
  @ApiBadRequestResponse({ description: 'not a trust domain name' })
  @ApiNotFoundResponse({ description: 'no bundle is held for this trust domain' })
  get(@Param('trustDomain') td: string, @Headers('accept') accept: string | undefined, @Res({ passthrough: true }) res: Response): string {
    if (!isTrustDomainName(td)) throw new ValidationError('bundle: invalid trust domain', [{ field: 'trustDomain', message: 'must be a trust domain name (a-z 0-9 . - _), without spiffe://' }]);
    const bundle = this.federation.heldBundle(td);
    if (bundle === undefined) throw new ParleyError('not_found', `bundle ${td}: no bundle is held for this trust domain`);
    if (wantsPem(accept)) {
      res.type(PEM_MEDIA_TYPE);
      return bundle.x509Bundle().toPem();
    }
    res.type('application/json');
    return bundle.serialize();
  }
}

/** PEM only when asked for explicitly (JSON stays the default, also for * / *). */
function wantsPem(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((part) => part.split(';')[0].trim().toLowerCase() === PEM_MEDIA_TYPE);
}

function isTrustDomainName(td: string): boolean {
  try {
    return TrustDomain.parse(td).name === td;
  } catch {
    return false;
  }
}
