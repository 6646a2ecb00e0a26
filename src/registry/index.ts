/** Public API of the registry context (the OCI Distribution face over the store). */
export { RegistryHttpsListener, RegistryModule, requireRouteRules } from './registry.module';
export { recordManifest, referrerManifest, PARLEY_RECORD_ARTIFACT_TYPE, OCI_MANIFEST } from './domain/oci-mapping';
export type { RecordFacts, ReferrerFacts, RenderedManifest } from './domain/oci-mapping';
