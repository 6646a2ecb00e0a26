/**
 * Admin roles (pure): which permissions each role holds, which SPIFFE IDs hold which roles
 * (`admin.admins` and `admin.roles` of the configuration), and the decision "may this ID do
 * this". IDs match as policy subjects do: exactly, or by path prefix on `/` boundaries within
 * the prefix's trust domain (the SPIFFE core's authorizers), never by substring or pattern.
 */
import { authorizeEither, authorizeOneOf, authorizePathPrefix, SpiffeId, type Authorizer } from '../../spiffe';

/** Every admin permission; a route declares exactly one (RequirePermission). */
export const ADMIN_PERMISSIONS = [
  'identity:read',
  'docs:read',
  'records:read',
  'records:delete',
  'revocations:read',
  'revocations:write',
  'allowlists:read',
  'allowlists:write',
  'audit:read',
  'policies:read',
  'policies:write',
  'federations:read',
  'federations:write',
  'bundles:read',
  'exports:read',
  'exports:write',
  'syncs:read',
  'syncs:write',
] as const;
export type AdminPermission = (typeof ADMIN_PERMISSIONS)[number];

/** The roles, least privileged first (the order roles are reported in). */
export const ADMIN_ROLES = ['viewer', 'operator', 'security', 'admin'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

const READ_PERMISSIONS: readonly AdminPermission[] = ADMIN_PERMISSIONS.filter((p) => p.endsWith(':read'));

/** What each role may do: viewer reads everything; operator and security add their writes; admin holds all. */
export const ROLE_PERMISSIONS: Readonly<Record<AdminRole, readonly AdminPermission[]>> = Object.freeze({
  viewer: Object.freeze([...READ_PERMISSIONS]),
  operator: Object.freeze([...READ_PERMISSIONS, 'federations:write', 'syncs:write', 'exports:write', 'records:delete'] as AdminPermission[]),
  security: Object.freeze([...READ_PERMISSIONS, 'policies:write', 'revocations:write', 'allowlists:write'] as AdminPermission[]),
  admin: Object.freeze([...ADMIN_PERMISSIONS]),
});

export function isAdminRole(value: unknown): value is AdminRole {
  return typeof value === 'string' && (ADMIN_ROLES as readonly string[]).includes(value);
}

/** The admin slice of the configuration, as far as roles go (already validated by the config schema). */
export interface AdminRolesConfig {
  readonly admins?: readonly string[];
  readonly roles?: ReadonlyArray<{ readonly role: string; readonly spiffeIds?: readonly string[]; readonly spiffeIdPrefixes?: readonly string[] }>;
}

/** Who holds one role, and which configuration key says so. */
export interface RoleBinding {
  readonly role: AdminRole;
  readonly spiffeIds: readonly string[];
  readonly spiffeIdPrefixes: readonly string[];
  /** `admin.admins`, `admin.roles[2]` or `default`. */
  readonly source: string;
}

/**
 * The role bindings the configuration means: `admin.admins` are role `admin`, each entry of
 * `admin.roles` binds its IDs and prefixes; when neither key is set, the default
 * `spiffe://<trust domain>/parley/admin` holds role `admin`.
 * @throws TypeError for a role name the configuration schema should have refused
 */
export function roleBindingsOf(config: AdminRolesConfig, trustDomain: string): RoleBinding[] {
  const bindings: RoleBinding[] = [];
  if (config.admins !== undefined) bindings.push({ role: 'admin', spiffeIds: [...config.admins], spiffeIdPrefixes: [], source: 'admin.admins' });
  (config.roles ?? []).forEach((r, i) => {
    if (!isAdminRole(r.role)) throw new TypeError(`admin.roles[${i}].role: unknown role ${JSON.stringify(r.role)}`);
    bindings.push({ role: r.role, spiffeIds: [...(r.spiffeIds ?? [])], spiffeIdPrefixes: [...(r.spiffeIdPrefixes ?? [])], source: `admin.roles[${i}]` });
  });
  if (config.admins === undefined && config.roles === undefined) {
    bindings.push({ role: 'admin', spiffeIds: [`spiffe://${trustDomain}/parley/admin`], spiffeIdPrefixes: [], source: 'default' });
  }
  return bindings;
}

/** One line per binding, for `parley config print`: `admin: spiffe://…/parley/admin, spiffe://…/ops/… (admin.admins)`. */
export function describeBinding(b: RoleBinding): string {
  const who = [...b.spiffeIds, ...b.spiffeIdPrefixes.map((p) => `${p}/… (prefix)`)];
  return `${b.role}: ${who.length > 0 ? who.join(', ') : 'nobody'} (${b.source})`;
}

/** "role viewer", "roles viewer, operator", "no admin role". */
export function describeRoles(roles: readonly AdminRole[]): string {
  if (roles.length === 0) return 'no admin role';
  return `${roles.length === 1 ? 'role' : 'roles'} ${roles.join(', ')}`;
}

/** The outcome of one permission check. */
export interface RoleDecision {
  readonly allowed: boolean;
  /** Every role the ID holds, least privileged first. */
  readonly roles: readonly AdminRole[];
  /** The least privileged held role that grants the permission (when allowed). */
  readonly grantedBy?: AdminRole;
}

/** Role bindings compiled into one matcher per role. */
export class AdminRoles {
  private constructor(private readonly matchers: ReadonlyArray<readonly [AdminRole, Authorizer]>) {}

  /**
   * Compiles bindings; every ID and prefix is parsed by the SPIFFE core.
   * @throws SpiffeError for a malformed ID or prefix
   */
  static compile(bindings: readonly RoleBinding[]): AdminRoles {
    const byRole = new Map<AdminRole, Authorizer[]>();
    for (const b of bindings) {
      const list = byRole.get(b.role) ?? [];
      if (b.spiffeIds.length > 0) list.push(authorizeOneOf(...b.spiffeIds.map((s) => SpiffeId.parse(s))));
      for (const text of b.spiffeIdPrefixes) {
        const prefix = SpiffeId.parse(text);
        list.push(authorizePathPrefix(prefix.trustDomain, prefix.path));
      }
      byRole.set(b.role, list);
    }
    const matchers = ADMIN_ROLES.filter((r) => byRole.has(r)).map((r) => [r, authorizeEither(...byRole.get(r)!)] as const);
    return new AdminRoles(matchers);
  }

  /** The roles `id` holds, least privileged first. */
  rolesOf(id: SpiffeId): AdminRole[] {
    return this.matchers.filter(([, matches]) => matches(id)).map(([role]) => role);
  }

  /** Every permission `id` holds, in ADMIN_PERMISSIONS order. */
  permissionsOf(id: SpiffeId): AdminPermission[] {
    const roles = this.rolesOf(id);
    return ADMIN_PERMISSIONS.filter((p) => roles.some((r) => ROLE_PERMISSIONS[r].includes(p)));
  }

  /** May `id` use `permission`? Unknown permissions are refused (fail closed). */
  decide(id: SpiffeId, permission: AdminPermission): RoleDecision {
    const roles = this.rolesOf(id);
    const grantedBy = roles.find((r) => ROLE_PERMISSIONS[r].includes(permission));
    return grantedBy === undefined ? { allowed: false, roles } : { allowed: true, roles, grantedBy };
  }
}
