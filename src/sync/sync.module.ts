import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { AuthzModule, CallAuthorizer, PolicyStore } from '../authz';
import { ShutdownSequence } from '../common';
import { Settings } from '../config';
import { ChangeFeed, DatabaseModule } from '../database';
import { GrpcModule, SecureGrpcServer } from '../grpc';
import { gatewaySpiffeId, IdentityModule, IdentitySource } from '../identity';
import { RootLogger } from '../logging';
import { SpiffeId } from '../spiffe';
import { RecordImporter, StoreModule, StoreService } from '../store';
import { svidProviderFrom } from '../tls';
import { TrustModule, TrustStore } from '../trust';
import { ExportStore } from './export-store';
import { ExportRepository } from './export.repository';
import { GrantKeys } from './grant-keys';
import { GrantService, grantVerifierOf } from './grant-service';
import { SyncSources } from './sync-source';
import { PartnerSession } from './partner-session';
import { SigningKeyRepository } from './signing-key.repository';
import { registerSyncService } from './sync.grpc-service';
import { SyncMetrics } from './sync-metrics';
import { SyncService } from './sync-service';
import { SyncRepository } from './sync.repository';
import { SyncWorker } from './sync-worker';

async function openExports(settings: Settings, dataSource: DataSource, changes: ChangeFeed, logger: RootLogger, shutdown: ShutdownSequence): Promise<ExportStore> {
  const exports = new ExportStore({ repository: new ExportRepository(dataSource), ownTrustDomain: settings.config.identity.trustDomain, changes, logger: logger.child('sync') });
  return shutdown.step('sync exports', async () => (await exports.start(), exports), (started) => started.stop());
}

/** The grant signing keys: one published in PostgreSQL before it signs, rotated by any replica. */
async function openGrantKeys(dataSource: DataSource, changes: ChangeFeed, logger: RootLogger, shutdown: ShutdownSequence): Promise<GrantKeys> {
  const keys = new GrantKeys({ repository: new SigningKeyRepository(dataSource), changes, logger: logger.child('sync') });
  return shutdown.step('sync grant keys', async () => (await keys.start(), keys), (started) => started.stop());
}

/** Issues grants, and checks them for the call authorizer (Store.List, Lookup, Pull, PullReferrer with `authorization: Bearer`). */
function grantService(settings: Settings, exports: ExportStore, keys: GrantKeys, authorizer: CallAuthorizer, metrics: SyncMetrics): GrantService {
  const grants = new GrantService({ exports, keys, gatewayId: gatewaySpiffeId(settings.config.identity), ttlMs: settings.config.sync.grantTtl, events: metrics.grantEvents() });
  authorizer.useGrants(metrics.counted(grantVerifierOf(grants)));
  return grants;
}

/** Runs syncs on this replica; stopped before the pool (its runs give their leases back). */
function startWorker(settings: Settings, dataSource: DataSource, store: StoreService, identity: IdentitySource, trust: TrustStore, logger: RootLogger, shutdown: ShutdownSequence, metrics: SyncMetrics, changes: ChangeFeed, sources: SyncSources): SyncWorker {
  const { identity: identityConfig, sync: config } = settings.config;
  const svid = svidProviderFrom(identity);
  const worker = new SyncWorker({
    repository: new SyncRepository(dataSource),
    store: store.repository,
    importer: new RecordImporter(store.repository, store.limits.maxRecordBytes, store.limits.chunkBytes, { capacity: store.capacity }),
    openSession: (sync) => new PartnerSession({ address: sync.remoteAddress, remoteId: SpiffeId.parse(sync.remoteSpiffeId), svid, trust }),
    sources,
    owner: `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`,
    localId: gatewaySpiffeId(identityConfig).toString(),
    localTrustDomain: identityConfig.trustDomain,
    retry: { initialMs: config.retry.initialBackoff, maxMs: config.retry.maxBackoff, maxAttempts: config.retry.maxAttempts },
    maxConcurrent: config.maxConcurrent,
    recordsInFlight: config.recordsInFlight,
    perPartner: config.perPartner,
    leaseMs: config.lease,
    pollMs: config.pollInterval,
    idleMs: config.idleTimeout,
    stopGraceMs: config.stopGrace,
    changes,
    logger: logger.child('sync'),
    events: metrics.workerEvents(),
  });
  worker.start();
  shutdown.add('sync worker', () => worker.stop());
  return worker;
}

/** The sync metrics, on the ops listener's registry; syncs by status and last successes are read from PostgreSQL on scrape. */
function syncMetrics(registry: Registry, dataSource: DataSource, logger: RootLogger): SyncMetrics {
  const metrics = new SyncMetrics(registry);
  metrics.readFrom(new SyncRepository(dataSource), logger.child('sync'));
  return metrics;
}

/** parley.sync.v1.SyncService as registered on the gRPC endpoint. */
export class SyncGrpcService {}

/** The Push method: a sync writes where its creator may push. */
const PUSH_METHOD = '/parley.store.v1.StoreService/Push';

/** The sync jobs both faces serve (gRPC SyncService and the admin API's /v1/syncs); a new one is claimed by this replica's worker at once. */
function syncService(settings: Settings, dataSource: DataSource, worker: SyncWorker, logger: RootLogger): SyncService {
  return new SyncService({ repository: new SyncRepository(dataSource), ownTrustDomain: settings.config.identity.trustDomain, onCreated: () => worker.poke(), logger: logger.child('sync') });
}

function serveSync(syncs: SyncService, grants: GrantService, endpoint: SecureGrpcServer, policy: PolicyStore, logger: RootLogger): SyncGrpcService {
  const handle = registerSyncService(endpoint.server, {
    syncs,
    grants,
    mayWrite: (peer, namespace) => policy.compiled.decide({ id: peer.id, method: PUSH_METHOD, namespace, sourceIp: peer.remoteAddress }),
    logger: logger.child('sync'),
  });
  endpoint.addProtos(handle.packageDefinition);
  return new SyncGrpcService();
}

/** Exports, grants (RequestRegistryCredentials and their check), the sync worker, the sync jobs and parley.sync.v1.SyncService. */
@Module({
  imports: [DatabaseModule, AuthzModule, GrpcModule, IdentityModule, TrustModule, StoreModule],
  providers: [
    { provide: SyncMetrics, inject: [Registry, DataSource, RootLogger], useFactory: syncMetrics },
    { provide: ExportStore, inject: [Settings, DataSource, ChangeFeed, RootLogger, ShutdownSequence], useFactory: openExports },
    { provide: GrantKeys, inject: [DataSource, ChangeFeed, RootLogger, ShutdownSequence], useFactory: openGrantKeys },
    { provide: GrantService, inject: [Settings, ExportStore, GrantKeys, CallAuthorizer, SyncMetrics], useFactory: grantService },
    { provide: SyncSources, useFactory: () => new SyncSources() },
    { provide: SyncWorker, inject: [Settings, DataSource, StoreService, IdentitySource, TrustStore, RootLogger, ShutdownSequence, SyncMetrics, ChangeFeed, SyncSources], useFactory: startWorker },
    { provide: SyncService, inject: [Settings, DataSource, SyncWorker, RootLogger], useFactory: syncService },
    { provide: SyncGrpcService, inject: [SyncService, GrantService, SecureGrpcServer, PolicyStore, RootLogger], useFactory: serveSync },
  ],
  exports: [ExportStore, GrantService, SyncService, SyncSources],
})
export class SyncModule {}
