import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, ValueProvider } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AdminGatekeeper, AdminPolicy } from './admin/admin-auth';
import { createAdminMetrics } from './admin/admin-metrics';
import { mountAdminMiddleware, startAdminListener } from './admin/admin-start';
import { CallAuthorizer } from './authz/call-authorizer';
import type { AdminListener } from './admin/admin-server';
import { mountOpenApi } from './admin/openapi';
import { PeerRegistry } from './admin/peer-registry';
import { ParleyError } from './common/errors';
import { createIdentitySource, gatewaySpiffeId } from './identity/create-source';
import type { IdentitySource } from './identity/domain/identity';
import { IdentityMonitor } from './identity/identity-monitor';
import { SpiffeId, TrustDomain } from './spiffe';
import { createGrpcEndpoint, startGrpcEndpoint } from './grpc/grpc-endpoint';
import { registerStoreService, storeMethodNames, STORE_RECORDS_CHANNEL, StoreRepository, storeLimitsFromConfig } from './store';
import type { SecureGrpcServer } from './grpc/secure-grpc-server';
import { TrustStore } from './tls/trust-store';
import type { Logger } from 'pino';
import { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import type { ParleyConfig } from './config/schema';
import { registerPoolMetrics, databaseReadinessCheck } from './database/database-health';
import { ChangeFeed } from './database/change-feed';
import { BundleEndpointServer, FederationService } from './federation';
import { ADMIN_GATEKEEPER, FEDERATION_SERVICE } from './tokens';
import { svidProviderFrom } from './tls';
import { connectDataSource, runMigrations } from './database/data-source';
import { EmbeddedPostgres } from './database/embedded-postgres';
import type { DatabaseState } from './database/database-monitor';
import { superviseDatabase } from './database/database-supervision';
import { createLogger, PinoNestLogger } from './logging/logger';
import { ReadinessRegistry } from './ops/domain/readiness';
import { createMetricsRegistry } from './ops/metrics';
import { OpsServer } from './ops/ops-server';
import { ALLOWLIST_STORE, AUDIT_WRITER, CHANGE_FEED, POLICY_STORE, REVOCATION_STORE } from './tokens';
import { MethodRegistry } from './authz/domain';
import { PolicyStore } from './authz/policy-store';
import { SERVED_METHODS } from './authz/served-methods';
import { AuditWriter, openGatewaySpool } from './authz/audit';
import { AllowlistStore } from './authz/allowlist-store';
import { RateLimiter } from './authz/rate-limiter';
import { RevocationStore } from './authz/revocation-store';
import { VERSION } from './version';

export interface Gateway {
  app: INestApplication;
  identity: IdentitySource;
  trustStore: TrustStore;
  /** The data-plane gRPC endpoint and where it really listens. */
  grpc?: { host: string; port: number; server: SecureGrpcServer };
  /** Where the admin HTTPS listener really listens, and the listener (same admission as gRPC). */
  admin?: { host: string; port: number; listener: AdminListener };
  dataSource: DataSource;
  /** Decides every gRPC call. */
  authorizer: CallAuthorizer;
  readiness: ReadinessRegistry;
  logger: Logger;
  /** Where the ops listener really listens (port 0 in config resolves here). */
  ops?: { host: string; port: number };
  /** The authorization audit trail (the AuditSink of the gRPC interceptor). */
  audit?: AuditWriter;
  /** The authorization policy in force (PolicySource), kept in PostgreSQL and hot-reloaded. */
  policies: PolicyStore;
  /** Revoked SPIFFE IDs and certificates (RevocationCheck; `onRevoked` closes open connections). */
  revocations: RevocationStore;
  /** Per-trust-domain source address allowlists (AllowlistCheck). */
  allowlists: AllowlistStore;
  /** Per SPIFFE ID and per trust domain call rate limits (RateLimitCheck). */
  rateLimiter: RateLimiter;
  /** Federation: partner relationships, the bundle poller, our published bundle. */
  federation: FederationService;
  /** Where the bundle endpoint really listens (federation.bundleEndpoint.enabled). */
  bundleEndpoint?: { host: string; port: number };
  /** Stops listeners, closes the pool, then stops the embedded database. Idempotent. */
  close(): Promise<void>;
}

/** Connection to the configured database, starting the embedded one when no URL is set. */
export async function openDatabase(config: ParleyConfig, logger: Logger): Promise<{ url: string; embedded?: EmbeddedPostgres }> {
  if (config.database.url) return { url: config.database.url };
  mkdirSync(config.dataDir, { recursive: true, mode: 0o711 });
  const embedded = new EmbeddedPostgres({
    dir: join(config.dataDir, 'postgres'),
    port: config.database.embedded.port,
    startTimeoutMs: config.database.embedded.startTimeoutMs,
    log: (line) => logger.debug({ component: 'embedded-postgres' }, line),
    notice: (line) => logger.warn({ component: 'embedded-postgres' }, line),
  });
  logger.info({ dataDir: config.dataDir }, 'starting embedded PostgreSQL');
  const url = await embedded.start();
  return { url, embedded };
}

export async function startGateway(config: ParleyConfig, logger: Logger = createLogger(config.log)): Promise<Gateway> {
  const started = performance.now();
  const cleanup: Array<() => Promise<void>> = [];
  const close = async () => {
    while (cleanup.length > 0) {
      const step = cleanup.pop();
      await step?.().catch((err: unknown) => logger.error({ err }, 'shutdown step failed'));
    }
  };
  try {
    const { url, embedded } = await openDatabase(config, logger);
    if (embedded) cleanup.push(() => embedded.stop());
    const dataSource = await connectDataSource(url, config.database);
    cleanup.push(async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
    });
    if (config.database.migrationsRun) {
      const applied = await runMigrations(dataSource);
      if (applied.length > 0) logger.info({ applied }, 'database migrations applied');
    }
    const readiness = new ReadinessRegistry();
    const metrics = createMetricsRegistry(VERSION);
    // The embedded server is restarted when it dies; Health and /readyz follow the database probe.
    const database = await superviseDatabase({ url, embedded, config: config.database, logger: logger.child({ component: 'database' }), metrics });
    cleanup.push(() => database.stop());
    readiness.register('database', databaseReadinessCheck(dataSource, database.monitor));
    registerPoolMetrics(dataSource, metrics);

    // Shared-state changes from other replicas (policies, revocations, federation).
    const changes = new ChangeFeed({ url, logger: logger.child({ component: 'change-feed' }) });
    await changes.start();
    cleanup.push(() => changes.stop());

    const identity = await startIdentity(config, logger);
    const ownTrustDomain = TrustDomain.parse(config.identity.trustDomain);
    cleanup.push(() => identity.stop());
    const trustStore = new TrustStore();
    const monitor = new IdentityMonitor(identity, trustStore, { expiryWarningMs: config.identity.expiryWarning, logger: logger.child({ component: 'identity' }), metrics });
    cleanup.push(async () => monitor.stop());
    readiness.register('identity', () => monitor.readiness());

    // Authorization and federation services: made here, before NestJS, so both the gRPC
    // interceptor and the admin controllers use the same instances (see `services`).
    const services: ValueProvider[] = [{ provide: CHANGE_FEED, useValue: changes }];

    // The authorization policy (PostgreSQL, hot-reloaded; config-declared rules written first).
    const methodRegistry = new MethodRegistry(SERVED_METHODS);
    const policies = new PolicyStore({
      dataSource,
      changes,
      registry: methodRegistry,
      ownTrustDomain: config.identity.trustDomain,
      configRules: config.authz.policy.rules,
      logger: logger.child({ component: 'policy' }),
    });
    await policies.start();
    cleanup.push(() => policies.stop());
    services.push({ provide: POLICY_STORE, useValue: policies });

    // Revocations and per-trust-domain IP allowlists (in memory, reloaded on every change) and rate limits.
    const revocations = new RevocationStore({ dataSource, changes, logger: logger.child({ component: 'revocations' }) });
    await revocations.start();
    cleanup.push(() => revocations.stop());
    const allowlists = new AllowlistStore({ dataSource, changes, logger: logger.child({ component: 'allowlists' }) });
    await allowlists.start();
    cleanup.push(() => allowlists.stop());
    const rateLimiter = RateLimiter.fromConfig(config.authz.rateLimit);
    services.push({ provide: REVOCATION_STORE, useValue: revocations }, { provide: ALLOWLIST_STORE, useValue: allowlists });

    // The audit trail: stopped (and flushed, or spooled) after the listeners, before the pool closes.
    // Its spool lives in the data directory, also with DATABASE_URL (README "Audit").
    const auditLogger = logger.child({ component: 'audit' });
    const auditSpool = await openGatewaySpool(config.authz.audit, config.dataDir, auditLogger, metrics);
    const audit = new AuditWriter({ db: dataSource, config: config.authz.audit, logger: auditLogger, metrics, spool: auditSpool });
    audit.start();
    cleanup.push(() => audit.stop());
    services.push({ provide: AUDIT_WRITER, useValue: audit });

    // Federation: every replica loads the stored partner bundles into the trust store; one polls.
    const federation = new FederationService({
      dataSource,
      databaseUrl: url,
      changes,
      trustStore,
      ownTrustDomain,
      logger: logger.child({ component: 'federation' }),
      metrics,
      relationships: config.federation.relationships,
      poll: { timeoutMs: config.federation.poll.timeout, maxBytes: config.federation.poll.maxBytes, minIntervalMs: config.federation.poll.minInterval, lockRetryMs: config.federation.poll.lockRetry },
      ownRefreshHintSeconds: Math.round(config.federation.bundleEndpoint.refreshHint / 1000),
    });
    cleanup.push(() => federation.stop());
    await federation.start();
    readiness.register('federation', () => federation.readiness());
    services.push({ provide: FEDERATION_SERVICE, useValue: federation });
    let bundleEndpoint: Gateway['bundleEndpoint'];
    if (config.federation.bundleEndpoint.enabled) {
      const endpointConfig = config.federation.bundleEndpoint;
      const server = new BundleEndpointServer({
        host: endpointConfig.host,
        port: endpointConfig.port,
        profile: endpointConfig.profile,
        identity: svidProviderFrom(identity),
        webCertFile: endpointConfig.webCertFile,
        webKeyFile: endpointConfig.webKeyFile,
        document: () => federation.ownBundleDocument(),
        logger: logger.child({ component: 'bundle-endpoint' }),
      });
      bundleEndpoint = await server.listen();
      cleanup.push(() => server.close());
    }

    // The admin API: NestJS serves the routes on a plain HTTP server fed by an MtlsListener (below).
    const peers = new PeerRegistry();
    const adminPolicy = new AdminPolicy(adminIds(config));
    const adminMetrics = createAdminMetrics(metrics);
    const gatekeeper = new AdminGatekeeper({ peers, policy: adminPolicy, revocations, onRefused: (reason) => adminMetrics.requestRefused(reason) });
    services.push({ provide: ADMIN_GATEKEEPER, useValue: gatekeeper });
    const app = await NestFactory.create<NestExpressApplication>(AppModule.register({ config, dataSource, readiness, metrics, logger, identity, trustStore, peers, adminPolicy, services }), {
      logger: new PinoNestLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
      bodyParser: false,
    });
    mountAdminMiddleware(app, gatekeeper, config.admin, adminMetrics);
    mountOpenApi(app);
    cleanup.push(() => app.close());
    await app.init();

    // Every gRPC call: revocation → IP allowlist → policy → rate limit, audited (src/authz).
    const authorizer = new CallAuthorizer({
      policy: policies,
      revocations,
      allowlists,
      rateLimits: rateLimiter.enabled ? rateLimiter : undefined,
      audit,
      namespacedMethods: new Set(storeMethodNames()),
      metrics,
    });

    let grpc: Gateway['grpc'];
    if (config.grpc.enabled) {
      // Record metadata cache: a delete anywhere evicts here (the change feed), a lost feed clears it.
      // Pulls stream from their own connections, so slow readers never starve other queries.
      const streamPool = new Pool({ connectionString: url, max: config.store.pullConnections, connectionTimeoutMillis: config.store.pullConnectionWait, application_name: 'parley-pull' });
      streamPool.on('error', (err) => logger.warn({ err }, 'pull connection failed'));
      cleanup.push(() => streamPool.end());
      const repository = new StoreRepository(dataSource, { recordCacheEntries: config.store.recordCacheEntries, streamPool });
      const unsubscribeRecords = changes.subscribe(STORE_RECORDS_CHANNEL, (e) => repository.forget(e.resync ? undefined : e.payload));
      cleanup.push(async () => unsubscribeRecords());
      const endpoint = createGrpcEndpoint({
        grpc: config.grpc,
        tls: config.tls,
        identity,
        trustStore,
        ownTrustDomain,
        authorize: authorizer.authorize,
        logger: logger.child({ component: 'grpc' }),
        metrics,
        // A partner's peer signed by an authority we do not hold yet: fetch its bundle early (rate-limited).
        onUnheldAuthority: (td) => federation.requestEarlyRefresh(td.name),
      });
      const store = registerStoreService(endpoint.server, {
        repository,
        peerOf: (call) => endpoint.peerOf(call),
        namespaces: authorizer,
        metrics,
        limits: storeLimitsFromConfig(config.store, config.grpc),
        logger: logger.child({ component: 'store' }),
        sweepIntervalMs: config.store.sweepInterval,
      });
      endpoint.addProtos(store.packageDefinition);
      requireAuthorizationRules(endpoint.servedMethods(), methodRegistry);
      // NOT_SERVING while the database is down, so balancers move traffic elsewhere.
      const followDatabase = (state: DatabaseState) => endpoint.health.setStatus('', state.up ? 'SERVING' : 'NOT_SERVING');
      followDatabase(database.monitor.state);
      const unfollowDatabase = database.monitor.onChange(followDatabase);
      cleanup.push(async () => unfollowDatabase());
      // A revocation closes the open connections it covers, on every replica.
      const unhookRevocations = revocations.onRevoked((isRevoked) => {
        const closed = endpoint.closeConnections(isRevoked, 'revoked');
        if (closed > 0) logger.warn({ closed }, 'closed connections of revoked identities');
      });
      cleanup.push(async () => unhookRevocations());
      // Shutdown order: stop the endpoint (drains calls), then the store (discards failed uploads), then the pool.
      cleanup.push(() => store.close());
      grpc = { ...(await startGrpcEndpoint(endpoint, config.grpc)), server: endpoint };
      cleanup.push(() => endpoint.stop());
    }

    let admin: Gateway['admin'];
    if (config.admin.enabled) {
      const started = await startAdminListener({ config, httpServer: app.getHttpServer(), identity, trustStore, peers, revocations, metrics: adminMetrics, logger: logger.child({ component: 'admin' }) });
      cleanup.push(() => started.close());
      admin = { host: started.host, port: started.port, listener: started.listener };
    }

    let ops: Gateway['ops'];
    if (config.ops.enabled) {
      const server = new OpsServer({ ...config.ops, readiness, metrics, logger: logger.child({ component: 'ops' }) });
      ops = await server.listen();
      cleanup.push(() => server.close());
    }
    const installationId = await readInstallationId(dataSource);
    logger.info(
      {
        version: VERSION,
        installationId,
        spiffeId: identity.current()?.svid.id.toString(),
        grpc: grpc ? `${grpc.host}:${grpc.port}` : 'disabled',
        admin: admin ? `https://${admin.host}:${admin.port}` : 'disabled',
        ops: ops ? `http://${ops.host}:${ops.port}` : 'disabled',
        startupMs: Math.round(performance.now() - started),
      },
      'parley gateway started',
    );
    return { app, dataSource, authorizer, readiness, logger, identity, trustStore, ops, admin, grpc, audit, policies, revocations, allowlists, rateLimiter, federation, bundleEndpoint, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function startIdentity(config: ParleyConfig, logger: Logger): Promise<IdentitySource> {
  const source = await createIdentitySource(config.identity, config.dataDir, logger);
  const snapshot = await source.start();
  const expected = gatewaySpiffeId(config.identity);
  if (config.identity.source !== 'dev-ca' && config.identity.spiffeId && !snapshot.svid.id.equals(expected)) {
    await source.stop();
    throw new ParleyError('config_invalid', `identity.spiffeId: the ${config.identity.source} source delivered ${snapshot.svid.id.toString()}, not ${expected.toString()}`);
  }
  return source;
}

function adminIds(config: ParleyConfig): SpiffeId[] {
  return (config.admin.admins ?? [`spiffe://${config.identity.trustDomain}/parley/admin`]).map((s) => SpiffeId.parse(s));
}

async function readInstallationId(ds: DataSource): Promise<string | undefined> {
  const rows: Array<{ value: string }> = await ds.query("SELECT value #>> '{}' AS value FROM parley_meta WHERE key = 'installation_id'").catch(() => []);
  return rows[0]?.value;
}

/**
 * Fail closed: every method the gRPC server serves must be known to the policy engine
 * (src/authz/served-methods.ts), or the gateway refuses to start.
 */
export function requireAuthorizationRules(served: readonly string[], registry: MethodRegistry): void {
  const unknown = served.filter((m) => !registry.has(m));
  if (unknown.length > 0) {
    throw new ParleyError('internal', `grpc: served methods unknown to the authorization method registry (add them to src/authz/served-methods.ts): ${unknown.join(', ')}`);
  }
}
