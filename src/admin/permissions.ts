import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiForbiddenResponse, ApiSecurity } from '@nestjs/swagger';

/** Every admin permission. Admins hold all of them; finer roles can map to subsets later. */
export const ADMIN_PERMISSIONS = ['identity:read', 'docs:read', 'records:read', 'records:delete', 'revocations:read', 'revocations:write', 'allowlists:read', 'allowlists:write', 'audit:read', 'policies:read', 'policies:write', 'federations:read', 'federations:write', 'bundles:read', 'exports:read', 'exports:write', 'syncs:read', 'syncs:write'] as const;
export type AdminPermission = (typeof ADMIN_PERMISSIONS)[number];

export const PERMISSION_KEY = 'parley:admin-permission';
export const MTLS_SECURITY_SCHEME = 'spiffe-mtls';

/**
 * The one declaration an admin route needs: it sets the permission the guard enforces and
 * documents the route's security in OpenAPI. A route without it is refused (fail closed).
 */
export function RequirePermission(permission: AdminPermission): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(PERMISSION_KEY, permission),
    ApiSecurity(MTLS_SECURITY_SCHEME, [permission]),
    ApiForbiddenResponse({ description: `the caller's SPIFFE ID lacks ${permission}` }),
  );
}
