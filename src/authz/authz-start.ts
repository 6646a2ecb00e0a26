import { Injectable } from '@nestjs/common';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { ShutdownSequence } from '../common';
import { Settings } from '../config';
import { ChangeFeed } from '../database';
import { RootLogger } from '../logging';
import { AuditWriter, openGatewaySpool } from './audit';
import { AllowlistStore } from './allowlist-store';
import type { MethodRegistry } from './domain';
import { PolicyStore } from './policy-store';
import { RevocationStore } from './revocation-store';

/** Starts the authorization stores; each registers its stop once it runs. */
@Injectable()
export class AuthzStarter {
  constructor(
    private readonly settings: Settings,
    private readonly dataSource: DataSource,
    private readonly changes: ChangeFeed,
    private readonly logger: RootLogger,
    private readonly shutdown: ShutdownSequence,
  ) {}

  /** The authorization policy: PostgreSQL, hot-reloaded; the config-declared rules are written first. */
  async policyStore(registry: MethodRegistry): Promise<PolicyStore> {
    const { config } = this.settings;
    const policies = new PolicyStore({
      dataSource: this.dataSource,
      changes: this.changes,
      registry,
      ownTrustDomain: config.identity.trustDomain,
      configRules: config.authz.policy.rules,
      logger: this.logger.child('policy'),
    });
    await policies.start();
    this.shutdown.add('policy store', () => policies.stop());
    return policies;
  }

  /** Revoked SPIFFE IDs and certificates, in memory and reloaded on every change. */
  async revocationStore(): Promise<RevocationStore> {
    const revocations = new RevocationStore({ dataSource: this.dataSource, changes: this.changes, logger: this.logger.child('revocations') });
    await revocations.start();
    this.shutdown.add('revocation store', () => revocations.stop());
    return revocations;
  }

  /** Per-trust-domain source address allowlists, in memory and reloaded on every change. */
  async allowlistStore(): Promise<AllowlistStore> {
    const allowlists = new AllowlistStore({ dataSource: this.dataSource, changes: this.changes, logger: this.logger.child('allowlists') });
    await allowlists.start();
    this.shutdown.add('allowlist store', () => allowlists.stop());
    return allowlists;
  }

  /**
   * The audit trail. Started before the listeners, so it is stopped (flushed, or spooled)
   * after they stopped and before the pool closes. Its spool lives in the data directory,
   * also with DATABASE_URL (README "Audit").
   */
  async auditWriter(metrics: Registry): Promise<AuditWriter> {
    const { config } = this.settings;
    const logger = this.logger.child('audit');
    const spool = await openGatewaySpool(config.authz.audit, config.dataDir, logger, metrics);
    const audit = new AuditWriter({ db: this.dataSource, config: config.authz.audit, logger, metrics, spool });
    audit.start();
    this.shutdown.add('audit writer', () => audit.stop());
    return audit;
  }
}
