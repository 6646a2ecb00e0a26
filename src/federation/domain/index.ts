/** Pure federation logic: relationships, poll timing, state. */
export { applyDenyList, FEDERATION_PROFILES, parseBootstrapBundle, readHttpsUrl, RELATIONSHIP_LIMITS, validateRelationship } from './relationship';
export type { FederationProfile, FederationRelationship, FieldError } from './relationship';
export { authorityIds, fingerprintOf, normalizeAuthorityRef, subjectKeyIdentifier } from './authority-ids';
export { nextPollDelayMs, POLL, refreshIntervalMs } from './schedule';
export { FEDERATION_STATES, federationState } from './status';
export type { FederationState } from './status';
