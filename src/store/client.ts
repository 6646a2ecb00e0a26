/**
 * The store's client side, for callers outside the gateway process (the CLI): the gRPC client,
 * its wire types and content IDs, without the NestJS service, the repositories or TypeORM that
 * index.ts brings. The gateway's own code uses index.ts.
 */
export { StoreClient, storeChannelOptions } from './store-client';
export type { WireRecord, WirePushHeader, WireListRequest, WireListResponse, WireReferrer } from './store-wire';
export { ContentId } from './domain/content-id';
