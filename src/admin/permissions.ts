import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiForbiddenResponse, ApiSecurity } from '@nestjs/swagger';
import type { AdminPermission } from './domain/roles';

export { ADMIN_PERMISSIONS, type AdminPermission } from './domain/roles';

export const PERMISSION_KEY = 'parley:admin-permission';
export const MTLS_SECURITY_SCHEME = 'spiffe-mtls';

/**
 * The one declaration an admin route needs: it sets the permission the guard enforces and
 * documents the route's security in OpenAPI. A route without it is refused (fail closed).
 * Which roles hold which permission: domain/roles.ts.
 */
export function RequirePermission(permission: AdminPermission): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(PERMISSION_KEY, permission),
    ApiSecurity(MTLS_SECURITY_SCHEME, [permission]),
    ApiForbiddenResponse({ description: `the caller's SPIFFE ID lacks ${permission} (no role it holds grants it)` }),
  );
}
