import { type DynamicModule, Global, Module, type ValueProvider } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { ParleyConfig } from './config/schema';
import type { ReadinessRegistry } from './ops/domain/readiness';
import { AdminModule } from './admin/admin.module';
import type { AdminPolicy } from './admin/admin-auth';
import type { PeerRegistry } from './admin/peer-registry';
import type { IdentitySource } from './identity/domain/identity';
import type { TrustStore } from './tls/trust-store';
import { ADMIN_POLICY, IDENTITY_SOURCE, METRICS_REGISTRY, PARLEY_CONFIG, PEER_REGISTRY, READINESS, ROOT_LOGGER, TRUST_STORE } from './tokens';

export interface AppModuleOptions {
  config: ParleyConfig;
  dataSource: DataSource;
  readiness: ReadinessRegistry;
  metrics: Registry;
  logger: Logger;
  identity: IdentitySource;
  trustStore: TrustStore;
  peers: PeerRegistry;
  adminPolicy: AdminPolicy;
  /** Further services the bootstrap made (authz stores, federation, …), keyed by the tokens in tokens.ts. */
  services?: ValueProvider[];
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
      { provide: IDENTITY_SOURCE, useValue: options.identity },
      { provide: TRUST_STORE, useValue: options.trustStore },
      { provide: PEER_REGISTRY, useValue: options.peers },
      { provide: ADMIN_POLICY, useValue: options.adminPolicy },
      ...(options.services ?? []),
    ];
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...options.dataSource.options, autoLoadEntities: true, retryAttempts: 0 }),
          dataSourceFactory: async () => options.dataSource,
        }),
        AdminModule,
      ],
      providers: shared,
      exports: shared.map((p) => p.provide),
    };
  }
}
