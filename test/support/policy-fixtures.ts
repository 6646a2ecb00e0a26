/** Method names the authorization policy tests decide on (the gateway's store, health and sync methods). */
export const STORE = '/parley.store.v1.StoreService/';
export const STORE_METHODS = ['Push', 'Pull', 'Lookup', 'Delete', 'List', 'PushReferrer', 'PullReferrer', 'DeleteReferrer'].map((m) => STORE + m);
export const CHECK = '/grpc.health.v1.Health/Check';
export const SYNC = '/parley.sync.v1.SyncService/RequestRegistryCredentials';
export const METHODS = [...STORE_METHODS, CHECK, SYNC];
export const OWN = 'example.org';
