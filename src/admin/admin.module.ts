import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ProblemFilter } from '../common/problem.filter';
import type { ParleyConfig } from '../config/schema';
import { StoreRepository, storeLimitsFromConfig } from '../store';
import { PARLEY_CONFIG } from '../tokens';
import { PermissionGuard } from './admin-auth';
import { AdminValidationPipe } from './admin-validation.pipe';
import { AllowlistsController } from './allowlists.controller';
import { AuditController } from './audit.controller';
import { BundlesController } from './bundles.controller';
import { FederationsController } from './federations.controller';
import { IdentityController } from './identity.controller';
import { PoliciesController } from './policies.controller';
import { ADMIN_STORE, type AdminStore, RecordsController } from './records.controller';
import { RevocationsController } from './revocations.controller';

/** The admin REST API (HTTPS + mTLS). Every route declares its permission (RequirePermission). */
@Module({
  controllers: [IdentityController, RecordsController, AuditController, RevocationsController, AllowlistsController, PoliciesController, FederationsController, BundlesController],
  providers: [
    { provide: APP_GUARD, useClass: PermissionGuard },
    { provide: APP_FILTER, useClass: ProblemFilter },
    { provide: APP_PIPE, useClass: AdminValidationPipe },
    {
      provide: ADMIN_STORE,
      inject: [DataSource, PARLEY_CONFIG],
      useFactory: (dataSource: DataSource, config: ParleyConfig): AdminStore => ({
        repository: new StoreRepository(dataSource),
        limits: storeLimitsFromConfig(config.store, config.grpc),
      }),
    },
  ],
})
export class AdminModule {}
