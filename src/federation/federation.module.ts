import { Injectable, Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { GatewayListener, ListenAddress } from '../common';
import { ShutdownSequence } from '../common';
import { Settings } from '../config';
import { Database, DatabaseModule, ChangeFeed } from '../database';
import { IdentityModule, IdentitySource } from '../identity';
import { svidProviderFrom } from '../tls';
import { RootLogger } from '../logging';
import { ReadinessRegistry } from '../ops';
import { TrustDomain } from '../spiffe';
import { TrustModule, TrustStore } from '../trust';
import { BundleEndpointServer } from './bundle-endpoint-server';
import { FederationService } from './federation.service';

/** Every replica loads the stored partner bundles into the trust store; one polls them. */
async function startFederation(d: {
  settings: Settings;
  database: Database;
  changes: ChangeFeed;
  trustStore: TrustStore;
  logger: RootLogger;
  metrics: Registry;
  readiness: ReadinessRegistry;
  shutdown: ShutdownSequence;
}): Promise<FederationService> {
  const { config } = d.settings;
  const { poll, bundleEndpoint } = config.federation;
  const federation = new FederationService({
    dataSource: d.database.dataSource,
    databaseUrl: d.database.url,
    changes: d.changes,
    trustStore: d.trustStore,
    ownTrustDomain: TrustDomain.parse(config.identity.trustDomain),
    logger: d.logger.child('federation'),
    metrics: d.metrics,
    relationships: config.federation.relationships,
    poll: { timeoutMs: poll.timeout, maxBytes: poll.maxBytes, minIntervalMs: poll.minInterval, lockRetryMs: poll.lockRetry },
    ownRefreshHintSeconds: Math.round(bundleEndpoint.refreshHint / 1000),
  });
  d.shutdown.add('federation', () => federation.stop());
  await federation.start();
  // Reported for each partner, never failing the gateway: a partner's outage is not ours.
  d.readiness.register('federation', () => federation.readiness(), { critical: false });
  return federation;
}

/** Our SPIFFE bundle endpoint (federation.bundleEndpoint), serving the own trust domain's bundle. */
@Injectable()
export class BundleEndpointListener implements GatewayListener {
  readonly name = 'bundleEndpoint';
  readonly enabled: boolean;
  private readonly server: BundleEndpointServer;

  constructor(settings: Settings, identity: IdentitySource, federation: FederationService, logger: RootLogger) {
    const config = settings.config.federation.bundleEndpoint;
    this.enabled = config.enabled;
    this.server = new BundleEndpointServer({
      host: config.host,
      port: config.port,
      profile: config.profile,
      identity: svidProviderFrom(identity),
      webCertFile: config.webCertFile,
      webKeyFile: config.webKeyFile,
      document: () => federation.ownBundleDocument(),
      logger: logger.child('bundle-endpoint'),
    });
  }

  listen(): Promise<ListenAddress> {
    return this.server.listen();
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** Federation: partner relationships, the bundle poller, our published bundle and its endpoint. */
@Module({
  imports: [DatabaseModule, TrustModule, IdentityModule],
  providers: [
    {
      provide: FederationService,
      inject: [Settings, Database, ChangeFeed, TrustStore, RootLogger, Registry, ReadinessRegistry, ShutdownSequence],
      useFactory: (settings: Settings, database: Database, changes: ChangeFeed, trustStore: TrustStore, logger: RootLogger, metrics: Registry, readiness: ReadinessRegistry, shutdown: ShutdownSequence) =>
        startFederation({ settings, database, changes, trustStore, logger, metrics, readiness, shutdown }),
    },
    BundleEndpointListener,
  ],
  exports: [FederationService, BundleEndpointListener],
})
export class FederationModule {}
