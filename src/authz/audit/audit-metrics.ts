/** The audit writer's Prometheus metrics (the spool adds its own in audit-spool.ts and audit-backlog.ts). */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BoundedQueue } from './domain/bounded-queue';

export const DROP_REASONS = ['queue_full', 'spool_full', 'rejected', 'shutdown'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface WriterMetrics {
  written: Counter;
  duplicates: Counter;
  dropped: Counter<'reason'>;
  failures: Counter;
}

export function writerMetrics(metrics: Registry, queue: BoundedQueue<unknown>): WriterMetrics {
  const registers = [metrics];
  new Gauge({
    name: 'parley_authz_audit_queue_depth',
    help: 'Authorization decisions waiting to be written to the audit trail',
    registers,
    collect() {
      this.set(queue.size);
    },
  });
  new Gauge({ name: 'parley_authz_audit_queue_capacity', help: 'Capacity of the audit queue (authz.audit.queueSize)', registers }).set(queue.capacity);
  const dropped = new Counter({
    name: 'parley_authz_audit_dropped_total',
    help:
      'Audit entries lost: queue_full (the in-memory queue was full: no spool, or decisions faster than it is moved to disk), spool_full (authz.audit.spoolMaxBytes reached), ' +
      'rejected (refused by the database), shutdown (not written or spooled at stop)',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of DROP_REASONS) dropped.inc({ reason }, 0);
  return {
    written: new Counter({ name: 'parley_authz_audit_written_total', help: 'Audit entries written to the database', registers }),
    duplicates: new Counter({ name: 'parley_authz_audit_duplicates_total', help: 'Audit entries the database already held (a spool replayed again after a crash, a retried batch)', registers }),
    dropped,
    failures: new Counter({ name: 'parley_authz_audit_write_failures_total', help: 'Failed audit batch writes (each retry counts)', registers }),
  };
}
