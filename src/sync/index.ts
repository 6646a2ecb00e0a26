/** Public API of the sync context. */
export type { WireSync } from './sync-wire';
export { SyncClient, dateOf } from './sync-wire';
