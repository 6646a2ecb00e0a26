/** Public API of federation: relationships, the partner poller, our bundle endpoint, status. */
export { FederationService, EARLY_REFRESH_INTERVAL_MS } from './federation.service';
export type { FederationServiceOptions } from './federation.service';
export type { AuthoritySummary, FederationStatus } from './federation-status';
export type { FetchFn } from './federation-poller';
export { FEDERATION_CHANNEL, FEDERATION_REFRESH_CHANNEL } from './federation.repository';
export type { RelationshipSource } from './federation.repository';
export { fetchBundle } from './bundle-fetcher';
export type { FetchFailure, FetchOptions, FetchOutcome } from './bundle-fetcher';
export { BundleEndpointServer } from './bundle-endpoint-server';
export type { BundleEndpointServerOptions } from './bundle-endpoint-server';
export { applyDenyList, federationState, parseBootstrapBundle, validateRelationship } from './domain';
export type { FederationProfile, FederationRelationship, FederationState, FieldError } from './domain';
export { BundleEndpointListener, FederationModule } from './federation.module';
export { FEDERATION_PROFILES, RELATIONSHIP_LIMITS, normalizeAuthorityRef, readHttpsUrl } from './domain';
