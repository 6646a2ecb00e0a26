import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { Settings } from '../config';
import { DatabaseModule } from '../database';
import { AuditWriter } from './audit';
import { AllowlistStore } from './allowlist-store';
import { AuthzStarter } from './authz-start';
import { CallAuthorizer } from './call-authorizer';
import { PolicyStore } from './policy-store';
import { RateLimiter } from './rate-limiter';
import { RevocationStore } from './revocation-store';
import { ServedMethods } from './served-methods';

/**
 * Per-call authorization: revocation → IP allowlist → policy → rate limit, audited. The
 * methods rules may name are the served ones (`ServedMethods`, handed in by the wiring).
 */
@Module({
  imports: [DatabaseModule],
  providers: [
    AuthzStarter,
    { provide: PolicyStore, inject: [AuthzStarter, ServedMethods], useFactory: (starter: AuthzStarter, served: ServedMethods) => starter.policyStore(served.registry) },
    { provide: RevocationStore, inject: [AuthzStarter], useFactory: (starter: AuthzStarter) => starter.revocationStore() },
    { provide: AllowlistStore, inject: [AuthzStarter], useFactory: (starter: AuthzStarter) => starter.allowlistStore() },
    { provide: AuditWriter, inject: [AuthzStarter, Registry], useFactory: (starter: AuthzStarter, metrics: Registry) => starter.auditWriter(metrics) },
    { provide: RateLimiter, inject: [Settings], useFactory: (settings: Settings) => RateLimiter.fromConfig(settings.config.authz.rateLimit) },
    {
      provide: CallAuthorizer,
      inject: [PolicyStore, RevocationStore, AllowlistStore, RateLimiter, AuditWriter, ServedMethods, Registry],
      useFactory: (policy: PolicyStore, revocations: RevocationStore, allowlists: AllowlistStore, limiter: RateLimiter, audit: AuditWriter, served: ServedMethods, metrics: Registry) =>
        new CallAuthorizer({ policy, revocations, allowlists, rateLimits: limiter.enabled ? limiter : undefined, audit, namespacedMethods: served.namespaced, handlerAuditedMethods: served.handlerAudited, metrics }),
    },
  ],
  exports: [PolicyStore, RevocationStore, AllowlistStore, AuditWriter, RateLimiter, CallAuthorizer],
})
export class AuthzModule {}
