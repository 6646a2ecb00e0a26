/**
 * The audit trail's retention: every `sweepInterval` the rows older than `retention` are
 * deleted, oldest first, in bounded batches (AuditRepository.deleteOlderThan). Concurrent
 * sweeps (other replicas) skip each other's locked rows.
 */
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { reasonOf } from '../../database';
import type { AuditRepository } from './audit.repository';

/** A sweep deletes at most this many batches, then waits for the next interval. */
const MAX_SWEEP_BATCHES = 200;

export interface AuditSweepOptions {
  repository: AuditRepository;
  retentionMs: number;
  intervalMs: number;
  /** Rows per DELETE. */
  batchSize: number;
  logger: Logger;
  metrics: Registry;
  now: () => number;
  /** While true, a failed sweep is logged at debug only (the writer already warned about the outage). */
  databaseAway: () => boolean;
}

export class AuditSweep {
  private readonly swept: Counter;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private stopped = false;

  constructor(private readonly o: AuditSweepOptions) {
    this.swept = new Counter({ name: 'parley_authz_audit_swept_total', help: 'Audit entries deleted by the retention sweep', registers: [o.metrics] });
  }

  /** The first sweep after `firstMs`, then one per interval. */
  start(firstMs: number): void {
    this.schedule(firstMs);
  }

  /** No more sweeps; resolves when the running one (if any) ended, or at once. */
  stop(): Promise<number> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return this.sweeping?.catch(() => 0) ?? Promise.resolve(0);
  }

  /** Deletes rows older than the retention. Returns how many. */
  run(): Promise<number> {
    this.sweeping ??= this.deleteOld().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async deleteOld(): Promise<number> {
    const cutoff = new Date(this.o.now() - this.o.retentionMs);
    const limit = this.o.batchSize;
    let total = 0;
    for (let i = 0; i < MAX_SWEEP_BATCHES && !this.stopped; i++) {
      const n = await this.o.repository.deleteOlderThan(cutoff, limit);
      total += n;
      if (n < limit) break;
    }
    if (total > 0) {
      this.swept.inc(total);
      this.o.logger.info({ deleted: total, retentionMs: this.o.retentionMs }, 'audit: old entries deleted');
    }
    return total;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.run()
        .catch((err: unknown) => {
          const level = this.o.databaseAway() ? 'debug' : 'warn';
          if (!this.stopped) this.o.logger[level]({ err: reasonOf(err) }, 'audit: retention sweep failed; trying again at the next interval');
        })
        .finally(() => this.schedule(this.o.intervalMs));
    }, ms);
    this.timer.unref();
  }
}
