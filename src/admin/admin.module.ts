import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ProblemFilter } from '../common/problem.filter';
import type { ParleyConfig } from '../config/schema';
import { StoreRepository, storeLimitsFromConfig } from '../store';
import { PARLEY_CONFIG } from '../tokens';
import { PermissionGuard } from './admin-auth';
import { IdentityController } from './identity.controller';
import { ADMIN_STORE, type AdminStore, RecordsController } from './records.controller';

/** The admin REST API (HTTPS + mTLS). Every route declares its permission (RequirePermission). */
@Module({
  controllers: [IdentityController, RecordsController],
  providers: [
    { provide: APP_GUARD, useClass: PermissionGuard },
    { provide: APP_FILTER, useClass: ProblemFilter },
    {
      provide: ADMIN_STORE,
      inject: [DataSource, PARLEY_CONFIG],
      useFactory: (dataSource: DataSource, config: ParleyConfig): AdminStore => ({
        repository: new StoreRepository(dataSource),
        limits: storeLimitsFromConfig(config.store),
      }),
    },
  ],
})
export class AdminModule {}
