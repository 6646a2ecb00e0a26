import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { ShutdownSequence } from '../common';
import { Settings } from '../config';
import { RootLogger } from '../logging';
import { ReadinessRegistry } from '../ops';
import { ChangeFeed } from './change-feed';
import { Database, startDatabase } from './database';

/** PostgreSQL: the pool (DataSource), its supervision, and the change feed of other replicas' writes. */
@Module({
  providers: [
    {
      provide: Database,
      inject: [Settings, RootLogger, Registry, ReadinessRegistry, ShutdownSequence],
      useFactory: (settings: Settings, logger: RootLogger, metrics: Registry, readiness: ReadinessRegistry, shutdown: ShutdownSequence) =>
        startDatabase({ config: settings.config, logger: logger.logger, metrics, readiness, shutdown }),
    },
    { provide: DataSource, inject: [Database], useFactory: (db: Database) => db.dataSource },
    {
      provide: ChangeFeed,
      inject: [Database, RootLogger, ShutdownSequence],
      // Shared-state changes from other replicas (policies, revocations, federation, records).
      useFactory: async (db: Database, logger: RootLogger, shutdown: ShutdownSequence) => {
        const changes = new ChangeFeed({ url: db.url, logger: logger.child('change-feed') });
        await changes.start();
        shutdown.add('change feed', () => changes.stop());
        return changes;
      },
    },
  ],
  exports: [Database, DataSource, ChangeFeed],
})
export class DatabaseModule {}
