/** Public API of the sync context. */
export type { WireSync } from './sync-wire';
export { SyncClient, dateOf, syncMethodNames, syncPackageDefinition, REQUEST_CREDENTIALS_METHOD, CREATE_SYNC_METHOD, SYNC_SERVICE } from './sync-wire';
export { ExportStore } from './export-store';
export { GrantService } from './grant-service';
export { SyncModule } from './sync.module';
