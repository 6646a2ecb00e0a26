/** Sync metrics for /metrics: syncs by status and last successes (read from PostgreSQL on scrape), transfers, grants, lease takeovers. */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { GrantVerifier, PresentedGrant } from '../authz';
import { SpiffeId } from '../spiffe';
import { SYNC_STATUSES, type SyncCounters } from './domain/sync-state';
import type { GrantEvents } from './grant-service';
import type { SyncRepository, SyncRow } from './sync.repository';
import type { SyncWorkerEvents } from './sync-worker';

export type GrantResult = 'issued' | 'refused' | 'used' | 'rejected';

/** The trust domain of a partner gateway's SPIFFE ID (the ID itself when it does not parse). */
export function partnerTrustDomain(spiffeId: string): string {
  try {
    return SpiffeId.parse(spiffeId).trustDomain.name;
  } catch {
    return spiffeId;
  }
}

/** Latest success per trust domain (epoch seconds) from the latest success per partner gateway (epoch ms). */
export function lastSuccessByTrustDomain(byPartner: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, ms] of byPartner) {
    const domain = partnerTrustDomain(id);
    out.set(domain, Math.max(out.get(domain) ?? 0, ms / 1000));
  }
  return out;
}

export class SyncMetrics {
  private readonly records: Counter<'partner_trust_domain'>;
  private readonly bytes: Counter<'partner_trust_domain'>;
  private readonly grants: Counter<'result'>;
  private readonly takeovers: Counter;
  /** The last values read from PostgreSQL: kept when a scrape's query fails. */
  private byStatus = new Map<string, number>(SYNC_STATUSES.map((s) => [s, 0]));
  private lastSuccess = new Map<string, number>();
  private repository: SyncRepository | undefined;
  private logger: Logger | undefined;
  private reading: Promise<void> | undefined;

  constructor(registry: Registry) {
    const label = ['partner_trust_domain'] as const;
    this.records = new Counter({ name: 'parley_sync_records_transferred_total', help: 'Records a sync copied from a partner (new here)', labelNames: label, registers: [registry] });
    this.bytes = new Counter({ name: 'parley_sync_bytes_transferred_total', help: 'Payload bytes syncs fetched from a partner', labelNames: label, registers: [registry] });
    this.grants = new Counter({ name: 'parley_sync_grants_total', help: 'Grants issued and refused (RequestRegistryCredentials), and presented grants used or rejected', labelNames: ['result'] as const, registers: [registry] });
    this.takeovers = new Counter({ name: 'parley_sync_lease_takeovers_total', help: 'Syncs this replica claimed whose previous lease (another worker) had lapsed', registers: [registry] });
    const statuses = async (): Promise<Map<string, number>> => (await this.read(), this.byStatus);
    const lastSuccess = async (): Promise<Map<string, number>> => (await this.read(), this.lastSuccess);
    new Gauge({
      name: 'parley_sync_syncs',
      help: 'Syncs by status (all replicas, read from PostgreSQL)',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        const byStatus = await statuses();
        this.reset();
        for (const [status, n] of byStatus) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'parley_sync_last_success_timestamp_seconds',
      help: 'When a sync with a partner trust domain last completed (all replicas, read from PostgreSQL)',
      labelNames: label,
      registers: [registry],
      async collect() {
        const byDomain = await lastSuccess();
        this.reset();
        for (const [domain, seconds] of byDomain) this.set({ partner_trust_domain: domain }, seconds);
      },
    });
  }

  /** Where the gauges are read from on scrape. */
  readFrom(repository: SyncRepository, logger: Logger): void {
    this.repository = repository;
    this.logger = logger;
  }

  /** One read per scrape: both gauges collect at once and share the query in flight. */
  private read(): Promise<void> {
    this.reading ??= this.refresh().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async refresh(): Promise<void> {
    if (this.repository === undefined) return;
    try {
      const snapshot = await this.repository.metricsSnapshot();
      this.byStatus = new Map([...SYNC_STATUSES.map((s): [string, number] => [s, 0]), ...snapshot.byStatus]);
      this.lastSuccess = lastSuccessByTrustDomain(snapshot.lastSuccess);
    } catch (err) {
      this.logger?.debug({ err }, 'sync metrics: reading syncs failed; keeping the last values');
    }
  }

  grant(result: GrantResult): void {
    this.grants.inc({ result });
  }

  /** The worker's events: records and bytes by partner, lease takeovers. */
  workerEvents(): SyncWorkerEvents {
    return {
      takeover: () => this.takeovers.inc(),
      progress: (sync: SyncRow, delta: Partial<SyncCounters>) => {
        const labels = { partner_trust_domain: partnerTrustDomain(sync.remoteSpiffeId) };
        if (delta.transferred) this.records.inc(labels, delta.transferred);
        if (delta.bytes) this.bytes.inc(labels, delta.bytes);
      },
    };
  }

  /** The grant service's events: issued, refused. */
  grantEvents(): GrantEvents {
    return { issued: () => this.grant('issued'), refused: () => this.grant('refused') };
  }

  /** The call authorizer's verifier, counting the grants it finds valid (used) and refuses (rejected). */
  counted(verifier: GrantVerifier): GrantVerifier {
    return {
      verify: (token, peer, nowMs): PresentedGrant => {
        let grant: PresentedGrant;
        try {
          grant = verifier.verify(token, peer, nowMs);
        } catch (err) {
          this.grant('rejected');
          throw err;
        }
        this.grant('used');
        return grant;
      },
    };
  }
}
