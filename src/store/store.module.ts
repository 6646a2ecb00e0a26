import { Module } from '@nestjs/common';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { ShutdownSequence } from '../common';
import { Settings } from '../config';
import { ChangeFeed, Database, DatabaseModule } from '../database';
import { GrpcModule, SecureGrpcServer } from '../grpc';
import { RootLogger } from '../logging';
import { ReadinessRegistry } from '../ops';
import { ObjectPayloads } from './object-payloads';
import type { StoreLimits } from './domain/limits';
import { StoreCapacity } from './store-capacity';
import { storeLimitsFromConfig } from './store-config';
import { registerStoreService, type StoreServiceHandle } from './store.grpc-service';
import { STORE_RECORDS_CHANNEL, StoreRepository } from './store.repository';

/**
 * The store as the gateway serves it, to the gRPC service, the registry, sync and the admin
 * API alike: one repository (record cache, payload stream connections), one set of limits, and
 * one per-caller capacity, so a peer's gRPC Pulls and registry blob GETs share one allowance
 * and Store.Push, registry uploads and sync imports one upload buffer budget.
 */
export class StoreService {
  constructor(
    readonly repository: StoreRepository,
    readonly limits: StoreLimits,
    readonly capacity: StoreCapacity,
  ) {}
}

/**
 * The record cache follows deletes on every replica (the change feed; a lost feed clears it).
 * Pulls and Pushes stream over connections of their own (one pool each), so slow peers never starve other queries or each other.
 */
function openStore(settings: Settings, database: Database, changes: ChangeFeed, logger: RootLogger, shutdown: ShutdownSequence, deps: StoreDeps): StoreService {
  const { store, grpc } = settings.config;
  const objects = objectStoreOf(settings, deps, shutdown);
  const log = logger.child('store');
  const pool = (max: number, name: string) => {
    const p = new Pool({ connectionString: database.url, max, connectionTimeoutMillis: store.pullConnectionWait, application_name: `parley-${name}` });
    p.on('error', (err) => log.warn({ err }, `${name} connection failed`));
    shutdown.add(`${name} connections`, () => p.end());
    return p;
  };
  const pools = { reads: pool(store.pullConnections, 'payload-reads'), uploads: pool(store.pushConnections, 'payload-uploads') };
  const repository = new StoreRepository(database.dataSource, { recordCacheEntries: store.recordCacheEntries, pools, objects, payloads: store.payloads });
  const unsubscribe = changes.subscribe(STORE_RECORDS_CHANNEL, (e) => repository.forget(e.resync ? undefined : e.payload));
  shutdown.add('record cache feed', () => unsubscribe());
  const limits = storeLimitsFromConfig(store, grpc);
  return new StoreService(repository, limits, new StoreCapacity(limits, log, deps.metrics));
}

/** What the store takes from the ops context: readiness checks and the metrics registry. */
class StoreDeps {
  constructor(
    readonly readiness: ReadinessRegistry,
    readonly metrics: Registry,
  ) {}
}

/** The object store of store.s3 (when configured), its bucket's reachability part of /readyz. */
function objectStoreOf(settings: Settings, deps: StoreDeps, shutdown: ShutdownSequence): ObjectPayloads | undefined {
  const s3 = settings.config.store.s3;
  if (s3 === undefined) return undefined;
  const objects = ObjectPayloads.fromConfig(s3, deps.metrics);
  deps.readiness.register('object-store', async () => {
    await objects.ready();
    return { ok: true, reason: `bucket ${s3.bucket} reachable` };
  });
  shutdown.add('object store client', () => objects.close());
  return objects;
}

/** Registers parley.store.v1.StoreService; stopped after the endpoint drained its calls (discarding failed uploads). */
function serveStore(store: StoreService, endpoint: SecureGrpcServer, settings: Settings, logger: RootLogger, metrics: Registry, shutdown: ShutdownSequence): StoreGrpcService {
  const handle = registerStoreService(endpoint.server, {
    repository: store.repository,
    limits: store.limits,
    capacity: store.capacity,
    metrics,
    logger: logger.child('store'),
    sweepIntervalMs: settings.config.store.sweepInterval,
  });
  endpoint.addProtos(handle.packageDefinition);
  shutdown.add('store service', () => handle.close());
  return new StoreGrpcService(handle);
}

/** parley.store.v1.StoreService as registered on the gRPC endpoint (its janitor sweeps abandoned uploads). */
export class StoreGrpcService {
  constructor(readonly handle: StoreServiceHandle) {}
}

/** Records and their payloads in PostgreSQL, served over gRPC (and read by the admin API). */
@Module({
  imports: [DatabaseModule, GrpcModule],
  providers: [
    { provide: StoreDeps, inject: [ReadinessRegistry, Registry], useFactory: (readiness: ReadinessRegistry, metrics: Registry) => new StoreDeps(readiness, metrics) },
    { provide: StoreService, inject: [Settings, Database, ChangeFeed, RootLogger, ShutdownSequence, StoreDeps], useFactory: openStore },
    { provide: StoreGrpcService, inject: [StoreService, SecureGrpcServer, Settings, RootLogger, Registry, ShutdownSequence], useFactory: serveStore },
  ],
  exports: [StoreService],
})
export class StoreModule {}
