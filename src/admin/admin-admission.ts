/** The outcome of the admin decision on one request (admin-auth.ts), as the audit trail reads it. */
import type { AdminRole } from './domain/roles';
import type { AdminPeer } from './peer-registry';

/** Why an admin request was refused (label of parley_admin_requests_refused_total). */
export type AdminRefusal = 'no_peer' | 'revoked' | 'not_admin' | 'no_permission' | 'body_too_large' | 'json_too_deep' | 'json_invalid' | 'text_invalid';

export type AdminAdmission =
  | { ok: true; peer: AdminPeer; roles: readonly AdminRole[]; grantedBy: AdminRole }
  /** `publicDetail`: what the caller may be told (only to a caller holding a role: the permission it lacks and its roles). */
  | { ok: false; reason: AdminRefusal; detail: string; publicDetail?: string; peer?: AdminPeer; roles?: readonly AdminRole[] };
