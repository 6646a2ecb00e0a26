/** Injection tokens for what the bootstrap creates before NestJS starts. */
export const PARLEY_CONFIG = Symbol('PARLEY_CONFIG');
export const READINESS = Symbol('READINESS');
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
export const IDENTITY_SOURCE = Symbol('IDENTITY_SOURCE');
export const TRUST_STORE = Symbol('TRUST_STORE');
export const PEER_REGISTRY = Symbol('PEER_REGISTRY');
export const ADMIN_POLICY = Symbol('ADMIN_POLICY');
export const CHANGE_FEED = Symbol('CHANGE_FEED');
/** Authorization services (src/authz), made by the bootstrap and used by admin controllers. */
export const POLICY_STORE = Symbol('POLICY_STORE');
export const REVOCATION_STORE = Symbol('REVOCATION_STORE');
export const ALLOWLIST_STORE = Symbol('ALLOWLIST_STORE');
export const AUDIT_WRITER = Symbol('AUDIT_WRITER');
/** Federation services (src/federation). */
export const FEDERATION_SERVICE = Symbol('FEDERATION_SERVICE');
/** The admin decision (peer, revocation, admin policy) shared by the admin gate and the route guard. */
export const ADMIN_GATEKEEPER = Symbol('ADMIN_GATEKEEPER');
