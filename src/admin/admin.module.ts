import { Injectable, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE, HttpAdapterHost } from '@nestjs/core';
import type { Server as HttpServer } from 'node:http';
import { Registry } from 'prom-client';
import { AuditWriter, AuthzModule, RevocationStore } from '../authz';
import { type GatewayListener, type ListenAddress } from '../common';
import { ProblemFilter } from './problem.filter';
import { Settings } from '../config';
import { DatabaseModule } from '../database';
import { FederationModule } from '../federation';
import { IdentityModule, IdentitySource } from '../identity';
import { RootLogger } from '../logging';
import { StoreModule } from '../store';
import { SyncModule } from '../sync';
import { TrustModule, TrustStore } from '../trust';
import { AdminAuditTrail } from './admin-audit';
import { AdminGatekeeper, AdminPolicy, PermissionGuard } from './admin-auth';
import { AdminMetrics, createAdminMetrics } from './admin-metrics';
import { AdminValidationPipe } from './admin-validation.pipe';
import { adminPolicyFrom, startAdminListener, type StartedAdmin } from './admin-start';
import { AllowlistsController } from './allowlists.controller';
import { AuditController } from './audit.controller';
import { BundlesController } from './bundles.controller';
import { ExportsController } from './exports.controller';
import { FederationsController } from './federations.controller';
import { IdentityController } from './identity.controller';
import { PeerRegistry } from './peer-registry';
import { PoliciesController } from './policies.controller';
import { RecordsController } from './records.controller';
import { RevocationsController } from './revocations.controller';
import { SyncsController } from './syncs.controller';

/** The admin HTTPS listener (admin.*): the MtlsListener feeding Nest's HTTP server, which never listens itself. */
@Injectable()
export class AdminHttpsListener implements GatewayListener {
  readonly name = 'admin';
  readonly enabled: boolean;
  private started: StartedAdmin | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly http: HttpAdapterHost,
    private readonly identity: IdentitySource,
    private readonly trustStore: TrustStore,
    private readonly peers: PeerRegistry,
    private readonly revocations: RevocationStore,
    private readonly metrics: AdminMetrics,
    private readonly logger: RootLogger,
  ) {
    this.enabled = settings.config.admin.enabled;
  }

  /** The listener of the running admin API (tests: its connections). */
  get listener(): StartedAdmin['listener'] | undefined {
    return this.started?.listener;
  }

  async listen(): Promise<ListenAddress> {
    this.started = await startAdminListener({
      config: this.settings.config,
      httpServer: this.http.httpAdapter.getHttpServer() as HttpServer,
      identity: this.identity,
      trustStore: this.trustStore,
      peers: this.peers,
      revocations: this.revocations,
      metrics: this.metrics,
      logger: this.logger.child('admin'),
    });
    return { host: this.started.host, port: this.started.port };
  }

  async close(): Promise<void> {
    await this.started?.close();
  }
}

/** The admin REST API (HTTPS + mTLS). Every route declares its permission (RequirePermission). */
@Module({
  imports: [AuthzModule, DatabaseModule, FederationModule, IdentityModule, StoreModule, SyncModule, TrustModule],
  controllers: [IdentityController, RecordsController, AuditController, RevocationsController, AllowlistsController, PoliciesController, FederationsController, BundlesController, ExportsController, SyncsController],
  providers: [
    { provide: APP_GUARD, useClass: PermissionGuard },
    { provide: APP_FILTER, useClass: ProblemFilter },
    { provide: APP_PIPE, useClass: AdminValidationPipe },
    PeerRegistry,
    { provide: AdminPolicy, inject: [Settings], useFactory: (settings: Settings) => adminPolicyFrom(settings.config) },
    { provide: AdminMetrics, inject: [Registry], useFactory: (metrics: Registry) => createAdminMetrics(metrics) },
    {
      provide: AdminGatekeeper,
      inject: [PeerRegistry, AdminPolicy, RevocationStore, AdminMetrics, AuditWriter],
      useFactory: (peers: PeerRegistry, policy: AdminPolicy, revocations: RevocationStore, metrics: AdminMetrics, audit: AuditWriter) =>
        new AdminGatekeeper({ peers, policy, revocations, onRefused: (reason) => metrics.requestRefused(reason), audit: new AdminAuditTrail(audit) }),
    },
    AdminHttpsListener,
  ],
  exports: [AdminGatekeeper, AdminMetrics, AdminHttpsListener],
})
export class AdminModule {}
