/**
 * The sync context's client side, for callers outside the gateway process (the CLI): the gRPC
 * client and its wire types, without the workers, repositories or NestJS that index.ts brings.
 */
export type { WireSync, WireCreateSyncRequest } from './sync-wire';
export { SyncClient, dateOf } from './sync-wire';
export { MASKED } from './domain/oci-source';
