import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ProblemFilter } from '../common/problem.filter';
import { PermissionGuard } from './admin-auth';
import { IdentityController } from './identity.controller';

/** The admin REST API (HTTPS + mTLS). Every route declares its permission (RequirePermission). */
@Module({
  controllers: [IdentityController],
  providers: [
    { provide: APP_GUARD, useClass: PermissionGuard },
    { provide: APP_FILTER, useClass: ProblemFilter },
  ],
})
export class AdminModule {}
