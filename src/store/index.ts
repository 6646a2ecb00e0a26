/** Public API of the store context. */
export { registerStoreService } from './store.grpc-service';
export type { StoreServiceDeps, StoreServiceHandle } from './store.grpc-service';
export { StoreRepository } from './store.repository';
export type { StoredRecord } from './store.repository';
export { BlobRepository } from './blob.repository';
export { ReferrerRepository } from './referrer.repository';
export { StoreJanitor } from './store-janitor';
export { StoreClient, storeChannelOptions } from './store-client';
export type { PushOptions, StoreChannelTuning } from './store-client';
export { storePackageDefinition, STORE_PROTO, STORE_SERVICE } from './store-wire';
export type { WireRecord, WirePushHeader, WireListRequest, WireListResponse, WireReferrer } from './store-wire';
export { DEFAULT_STORE_LIMITS, storeLimits } from './domain/limits';
export type { StoreLimits } from './domain/limits';
export { ContentId } from './domain/content-id';
export { storeLimitsFromConfig } from './store-config';
