import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { ShutdownSequence } from '../common';
import { Settings } from '../config';
import { RootLogger } from '../logging';
import { ReadinessRegistry } from '../ops';
import { TrustModule, TrustStore } from '../trust';
import { IdentitySource } from './domain/identity';
import { IdentityMonitor } from './identity-monitor';
import { monitorIdentity, startIdentity } from './identity-start';

/** The gateway's own X509-SVID (dev CA, files or Workload API), rotated by its source. */
@Module({
  imports: [TrustModule],
  providers: [
    {
      provide: IdentitySource,
      inject: [Settings, RootLogger, ShutdownSequence],
      useFactory: (settings: Settings, logger: RootLogger, shutdown: ShutdownSequence) => startIdentity(settings.config, logger.logger, shutdown),
    },
    {
      provide: IdentityMonitor,
      inject: [IdentitySource, TrustStore, Settings, RootLogger, Registry, ReadinessRegistry, ShutdownSequence],
      useFactory: (source: IdentitySource, trustStore: TrustStore, settings: Settings, logger: RootLogger, metrics: Registry, readiness: ReadinessRegistry, shutdown: ShutdownSequence) =>
        monitorIdentity({ source, trustStore, config: settings.config, logger: logger.child('identity'), metrics, readiness }, shutdown),
    },
  ],
  exports: [IdentitySource, IdentityMonitor],
})
export class IdentityModule {}
