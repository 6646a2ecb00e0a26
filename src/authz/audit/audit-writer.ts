/**
 * The audit sink of the authorization pipeline. `record()` runs on the request path: it logs
 * the decision (per `authz.audit.log`) and pushes it into a bounded in-memory queue, O(1),
 * never awaiting and never throwing. A background loop writes the queue to `authz_audit`
 * with one multi-row INSERT per batch. When the database fails, the batch stays at the head
 * of the queue and is retried with capped exponential backoff; the queue bound still holds
 * (overflow is dropped and counted), one warning is logged per outage and one info line when
 * writing resumes. A periodic sweep deletes rows older than the retention, in bounded batches.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuthzConfig } from '../../config/schema';
import { reasonOf } from '../../database/data-source';
import type { AuditRecord, AuditSink } from '../ports';
import { BoundedQueue } from './domain/bounded-queue';
import type { AuditDatabase } from './audit-query';

export type AuditSettings = AuthzConfig['audit'];

export interface AuditWriterOptions {
  /** Where rows go: the gateway's DataSource (anything with its `query`). */
  db: AuditDatabase;
  /** `authz.audit` of the configuration. */
  config: AuditSettings;
  logger: Logger;
  /** The gateway's Prometheus registry (src/ops/metrics.ts). */
  metrics: Registry;
  /** First delay after a failed write (default 250 ms); doubles per failure up to `retryMaxMs` (default 5 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How long `stop()` may spend writing what is still queued (default 5 s). */
  stopTimeoutMs?: number;
  /** Rows per retention DELETE (default 5000). */
  sweepBatchSize?: number;
  /** Clock for the retention cutoff (ms since the epoch). */
  now?: () => number;
}

/** Longest text kept per column (longer values are cut); rule ids per row. */
const MAX_TEXT = 4096;
const MAX_DRY_RUN_RULES = 64;
/** A sweep deletes at most this many batches, then waits for the next interval. */
const MAX_SWEEP_BATCHES = 200;
/** SQLSTATE classes of errors caused by the rows themselves: retrying cannot help. */
const DATA_ERROR_CLASSES: ReadonlySet<string> = new Set(['22', '23']);

const INSERT_SQL = `INSERT INTO authz_audit (at, spiffe_id, trust_domain, source_address, method, namespace, decision, rule, reason, dry_run_denied)
SELECT u.at, u.spiffe_id, u.trust_domain, u.source_address, u.method, u.namespace, u.decision, u.rule, u.reason,
       CASE WHEN u.dry IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(u.dry::jsonb)) END
FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
  AS u(at, spiffe_id, trust_domain, source_address, method, namespace, decision, rule, reason, dry)`;

const SWEEP_SQL = `WITH doomed AS (
  SELECT id FROM authz_audit WHERE at < $1::timestamptz ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM authz_audit a USING doomed d WHERE a.id = d.id RETURNING 1
)
SELECT count(*)::int AS n FROM gone`;

export class AuditWriter implements AuditSink {
  private readonly queue: BoundedQueue<AuditRecord>;
  private readonly batchSize: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly now: () => number;
  private readonly written: Counter;
  private readonly dropped: Counter<'reason'>;
  private readonly failures: Counter;
  private readonly swept: Counter;
  private retryMs: number;
  private flushTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<boolean> | undefined;
  private sweeping: Promise<number> | undefined;
  private kicked = false;
  /** Entries dropped after leaving the queue or after stop (the queue counts its own overflow). */
  private lost = 0;
  private started = false;
  private closed = false;
  private finished = false;
  private stopping: Promise<void> | undefined;
  /** Set while writes fail: when the outage began and how many were dropped since. */
  private outage: { since: number; droppedAtStart: number } | undefined;

  constructor(private readonly o: AuditWriterOptions) {
    this.queue = new BoundedQueue(o.config.queueSize);
    this.batchSize = o.config.batchSize;
    this.retryMinMs = o.retryMinMs ?? 250;
    this.retryMaxMs = Math.max(this.retryMinMs, o.retryMaxMs ?? 5000);
    this.retryMs = this.retryMinMs;
    this.now = o.now ?? Date.now;
    const registers = [o.metrics];
    const queue = this.queue;
    new Gauge({
      name: 'parley_authz_audit_queue_depth',
      help: 'Authorization decisions waiting to be written to the audit trail',
      registers,
      collect() {
        this.set(queue.size);
      },
    });
    new Gauge({ name: 'parley_authz_audit_queue_capacity', help: 'Capacity of the audit queue (authz.audit.queueSize)', registers }).set(o.config.queueSize);
    this.written = new Counter({ name: 'parley_authz_audit_written_total', help: 'Audit entries written to the database', registers });
    this.dropped = new Counter({
      name: 'parley_authz_audit_dropped_total',
      help: 'Audit entries lost: queue_full (database too slow or down), rejected (refused by the database), shutdown (not written in time at stop)',
      labelNames: ['reason'],
      registers,
    });
    this.failures = new Counter({ name: 'parley_authz_audit_write_failures_total', help: 'Failed audit batch writes (each retry counts)', registers });
    this.swept = new Counter({ name: 'parley_authz_audit_swept_total', help: 'Audit entries deleted by the retention sweep', registers });
    for (const reason of ['queue_full', 'rejected', 'shutdown']) this.dropped.inc({ reason }, 0);
  }

  /** Decisions waiting to be written. */
  get queued(): number {
    return this.queue.size;
  }

  /** Entries lost so far, all reasons together. */
  get droppedCount(): number {
    return this.queue.overflowed + this.lost;
  }

  /** True while writes fail (between the outage warning and the "resumed" line). */
  get failing(): boolean {
    return this.outage !== undefined;
  }

  /** O(1); never throws, never awaits. */
  record(entry: AuditRecord): void {
    try {
      if (entry === null || typeof entry !== 'object') {
        this.drop('rejected', 1);
        return;
      }
      if (this.closed) this.drop('shutdown', 1);
      else if (!this.queue.push(entry)) this.dropped.inc({ reason: 'queue_full' });
      else if (this.started && !this.kicked && this.flushing === undefined && this.outage === undefined && this.queue.size >= this.batchSize) {
        this.kicked = true;
        this.scheduleFlush(0);
      }
    } catch {
      // the request path never fails because of the audit trail
    }
    try {
      this.log(entry);
    } catch {
      // nor because of logging
    }
  }


  /** Starts the background writer and the retention sweep. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.scheduleFlush(this.o.config.flushInterval);
    this.scheduleSweep(Math.min(this.o.config.sweepInterval, 30_000));
  }

  /**
   * Stops the timers and writes what is queued, retrying failures, for at most
   * `stopTimeoutMs`; what remains is counted as dropped (reason shutdown). Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Writes everything queued now (tests, shutdown). True when the queue was emptied. */
  async flush(): Promise<boolean> {
    if (this.flushing !== undefined) await this.flushing;
    return this.runDrain();
  }

  /**
   * Deletes rows older than the retention (oldest first, in batches). Returns how many.
   * Concurrent sweeps (other replicas) skip each other's locked rows.
   */
  async sweep(): Promise<number> {
    if (this.sweeping !== undefined) return this.sweeping;
    this.sweeping = (async () => {
      const cutoff = new Date(this.now() - this.o.config.retention).toISOString();
      const limit = this.o.sweepBatchSize ?? 5000;
      let total = 0;
      for (let i = 0; i < MAX_SWEEP_BATCHES && !this.closed; i++) {
        const rows = (await this.o.db.query(SWEEP_SQL, [cutoff, limit])) as Array<{ n: number }>;
        const n = Number(rows[0]?.n ?? 0);
        total += n;
        if (n < limit) break;
      }
      if (total > 0) {
        this.swept.inc(total);
        this.o.logger.info({ deleted: total, retentionMs: this.o.config.retention }, 'audit: old entries deleted');
      }
      return total;
    })().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private log(e: AuditRecord): void {
    const mode = this.o.config.log;
    if (mode === 'none') return;
    const level = e.decision !== 'allow' || mode === 'all' ? 'info' : 'debug';
    if (!this.o.logger.isLevelEnabled(level)) return;
    this.o.logger[level](
      {
        spiffeId: e.spiffeId,
        trustDomain: e.trustDomain,
        sourceAddress: e.sourceAddress,
        method: e.method,
        namespace: e.namespace,
        decision: e.decision,
        rule: e.rule,
        reason: e.reason,
        dryRunDenied: e.dryRunDenied !== undefined && e.dryRunDenied.length > 0 ? e.dryRunDenied : undefined,
      },
      e.decision === 'allow' ? 'authorization allowed' : 'authorization denied',
    );
  }

  private drop(reason: 'rejected' | 'shutdown', n: number): void {
    this.lost += n;
    this.dropped.inc({ reason }, n);
  }

  private scheduleFlush(ms: number): void {
    if (this.closed) return;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => void this.tick(), ms);
    this.flushTimer.unref();
  }

  private async tick(): Promise<void> {
    this.flushTimer = undefined;
    this.kicked = false;
    if (this.closed) return;
    const emptied = await this.runDrain();
    if (this.closed) return;
    if (emptied) {
      this.retryMs = this.retryMinMs;
      this.scheduleFlush(this.o.config.flushInterval);
    } else {
      this.scheduleFlush(this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, this.retryMaxMs);
    }
  }

  /** One drain at a time; the promise says whether the queue was emptied. */
  private runDrain(): Promise<boolean> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<boolean> {
    while (this.queue.size > 0) {
      const batch = this.queue.peek(this.batchSize);
      try {
        await this.o.db.query(INSERT_SQL, columns(batch, this.now()));
      } catch (err) {
        this.failures.inc();
        if (isDataError(err)) {
          // The rows themselves are refused: retrying would block the trail forever.
          this.queue.discard(batch.length);
          this.drop('rejected', batch.length);
          if (!this.finished) this.o.logger.error({ err: reasonOf(err), entries: batch.length }, 'audit: the database refused a batch of entries; they are dropped');
          continue;
        }
        if (this.outage === undefined) {
          this.outage = { since: this.now(), droppedAtStart: this.droppedCount };
          if (!this.finished) {
            this.o.logger.warn(
              { err: reasonOf(err), queued: this.queue.size, queueSize: this.queue.capacity },
              'audit: cannot write to the database; keeping entries in memory (new ones are dropped when the queue is full) and retrying',
            );
          }
        }
        return false;
      }
      this.queue.discard(batch.length);
      this.written.inc(batch.length);
      if (this.outage !== undefined) {
        const { since, droppedAtStart } = this.outage;
        this.outage = undefined;
        if (!this.finished) {
          this.o.logger.info({ outageMs: this.now() - since, dropped: this.droppedCount - droppedAtStart, queued: this.queue.size }, 'audit: writing to the database again');
        }
      }
    }
    return true;
  }

  private scheduleSweep(ms: number): void {
    if (this.closed) return;
    this.sweepTimer = setTimeout(() => {
      this.sweep()
        .catch((err: unknown) => {
          const level = this.outage === undefined ? 'warn' : 'debug';
          if (!this.finished) this.o.logger[level]({ err: reasonOf(err) }, 'audit: retention sweep failed; trying again at the next interval');
        })
        .finally(() => this.scheduleSweep(this.o.config.sweepInterval));
    }, ms);
    this.sweepTimer.unref();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
    const deadline = Date.now() + (this.o.stopTimeoutMs ?? 5000);
    let delay = this.retryMinMs;
    try {
      if (this.sweeping !== undefined) await beforeDeadline(this.sweeping.catch(() => 0), deadline);
      while (this.queue.size > 0 && Date.now() < deadline) {
        const emptied = await beforeDeadline(this.runDrain(), deadline);
        if (emptied === true) break;
        await beforeDeadline(sleep(delay), deadline);
        delay = Math.min(delay * 2, this.retryMaxMs);
      }
    } finally {
      this.finished = true;
      const left = this.queue.discard(this.queue.size);
      if (left > 0) {
        this.drop('shutdown', left);
        this.o.logger.warn({ entries: left }, 'audit: entries not written before shutdown; they are dropped');
      }
    }
  }
}

/** The batch as the ten column arrays of INSERT_SQL, cleaned so PostgreSQL accepts every row. */
function columns(batch: readonly AuditRecord[], nowMs: number): unknown[][] {
  const at: string[] = [];
  const spiffeId: string[] = [];
  const trustDomain: string[] = [];
  const source: string[] = [];
  const method: string[] = [];
  const namespace: Array<string | null> = [];
  const decision: string[] = [];
  const rule: Array<string | null> = [];
  const reason: string[] = [];
  const dry: Array<string | null> = [];
  for (const e of batch) {
    const time = e.at instanceof Date && Number.isFinite(e.at.getTime()) ? e.at : new Date(nowMs);
    at.push(time.toISOString());
    spiffeId.push(text(e.spiffeId));
    trustDomain.push(text(e.trustDomain));
    source.push(text(e.sourceAddress));
    method.push(text(e.method));
    namespace.push(optionalText(e.namespace));
    decision.push(e.decision === 'allow' ? 'allow' : 'deny');
    rule.push(optionalText(e.rule));
    reason.push(text(e.reason));
    const rules = Array.isArray(e.dryRunDenied) ? e.dryRunDenied.slice(0, MAX_DRY_RUN_RULES).map(text) : [];
    dry.push(rules.length > 0 ? JSON.stringify(rules) : null);
  }
  return [at, spiffeId, trustDomain, source, method, namespace, decision, rule, reason, dry];
}

/** PostgreSQL text holds no NUL; very long values are cut. */
function text(v: unknown): string {
  const s = typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
  return (s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s).replaceAll('\u0000', '\uFFFD');
}

function optionalText(v: unknown): string | null {
  return v === undefined || v === null || v === '' ? null : text(v);
}

function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && DATA_ERROR_CLASSES.has(code.slice(0, 2));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The promise's value, or undefined once the deadline passes (the promise keeps running). */
function beforeDeadline<T>(p: Promise<T>, deadline: number): Promise<T | undefined> {
  const left = deadline - Date.now();
  if (left <= 0) return Promise.resolve(undefined);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), left);
    timer.unref();
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
