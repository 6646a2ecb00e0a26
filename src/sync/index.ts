/** Public API of the sync context. */
export type { WireSync, WireCreateSyncRequest } from './sync-wire';
export { SyncClient, dateOf, syncMethodNames, syncPackageDefinition, REQUEST_CREDENTIALS_METHOD, CREATE_SYNC_METHOD, SYNC_SERVICE } from './sync-wire';
export { ExportStore } from './export-store';
export { GrantService } from './grant-service';
export { SyncModule } from './sync.module';
export { SyncService, MAX_SYNC_PAGE, type SyncPage } from './sync-service';
export type { SyncRow } from './sync.repository';
export { SYNC_STATUSES, FAILURE_REASONS, type SyncStatus, type FailureReason } from './domain/sync-state';
export { MIN_INTERVAL_SECONDS } from './domain/sync-request';
export { shownOciSource, MASKED } from './domain/oci-source';
export type { OciSourceSpec } from './domain/oci-source';
export { SyncSources, type SourceRunContext, type SyncSourceAdapter } from './sync-source';
export { endsRun, failure as runFailure, PROVENANCE, RunStopped, type RunResult } from './sync-run';
export type { SyncCounters } from './domain/sync-state';
export type { OciSecret } from './domain/oci-source';
