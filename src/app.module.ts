import { type DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { ParleyConfig } from './config/schema';
import type { ReadinessRegistry } from './ops/domain/readiness';
import { METRICS_REGISTRY, PARLEY_CONFIG, READINESS, ROOT_LOGGER } from './tokens';

export interface AppModuleOptions {
  config: ParleyConfig;
  dataSource: DataSource;
  readiness: ReadinessRegistry;
  metrics: Registry;
  logger: Logger;
}

/** Wiring only: shared infrastructure made by the bootstrap, then one module per context. */
@Global()
@Module({})
export class AppModule {
  static register(options: AppModuleOptions): DynamicModule {
    const shared = [
      { provide: PARLEY_CONFIG, useValue: options.config },
      { provide: READINESS, useValue: options.readiness },
      { provide: METRICS_REGISTRY, useValue: options.metrics },
      { provide: ROOT_LOGGER, useValue: options.logger },
    ];
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...options.dataSource.options, autoLoadEntities: true, retryAttempts: 0 }),
          dataSourceFactory: async () => options.dataSource,
        }),
      ],
      providers: shared,
      exports: shared.map((p) => p.provide),
    };
  }
}
