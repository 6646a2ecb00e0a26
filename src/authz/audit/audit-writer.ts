/**
 * The audit sink of the authorization pipeline. `record()` runs on the request path: it gives
 * the decision its entry id, logs it (per `authz.audit.log`) and pushes it into a bounded
 * in-memory queue, O(1), never awaiting and never throwing. A background loop writes the
 * queue to `authz_audit` with one multi-row INSERT per batch that skips entry ids already
 * stored. When the database fails, writing is retried with capped exponential backoff; with
 * a spool (audit-backlog.ts) the queue goes to disk meanwhile and is replayed in order when
 * the database is back, and at stop what cannot be written is spooled. Without one, the
 * queue bound holds (overflow is dropped and counted). One warning is logged per outage and
 * one info line when writing resumes. A periodic sweep deletes rows older than the retention.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuthzConfig } from '../../config';
import { reasonOf } from '../../database';
import type { AuditRecord, AuditSink } from '../ports';
import { AuditQueue, isDataError, type IdentifiedRecord } from './audit-rows';
import { AuditRepository, type AuditDatabase } from './audit.repository';
import { SpoolBacklog } from './audit-backlog';
import type { AuditSpool } from './audit-spool';
import { AuditSweep } from './audit-sweep';
import { beforeDeadline, sleep } from './deadline';
import { logDecision } from './decision-log';
import { writerMetrics, type DropReason, type WriterMetrics } from './audit-metrics';

/** `authz.audit` without the spool's keys (the spool is opened by the caller: `openGatewaySpool`). */
export type AuditSettings = Omit<AuthzConfig['audit'], 'spoolDir' | 'spoolMaxBytes'>;

/**
 * Where rows go: an AuditRepository, or the database to make one from (the gateway's
 * DataSource, anything with its `query`); `repository` wins when both are given.
 */
export type AuditStorage = { repository: AuditRepository; db?: AuditDatabase } | { repository?: undefined; db: AuditDatabase };

export type AuditWriterOptions = AuditStorage & AuditWriterSettings;

export interface AuditWriterSettings {
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
  /** Clock for the retention cutoff and new entry ids (ms since the epoch). */
  now?: () => number;
  /** Where entries go while the database is away (AuditSpool.open); none: they wait in the queue only. The writer closes it at stop. */
  spool?: AuditSpool;
}

export class AuditWriter implements AuditSink {
  private readonly queue: AuditQueue;
  private readonly backlog: SpoolBacklog | undefined;
  private readonly batchSize: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly now: () => number;
  private readonly counters: WriterMetrics;
  private readonly retention: AuditSweep;
  private readonly repository: AuditRepository;
  private retryMs: number;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<boolean> | undefined;
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
    this.queue = new AuditQueue(o.config.queueSize);
    this.batchSize = o.config.batchSize;
    this.retryMinMs = o.retryMinMs ?? 250;
    this.retryMaxMs = Math.max(this.retryMinMs, o.retryMaxMs ?? 5000);
    this.retryMs = this.retryMinMs;
    this.now = o.now ?? Date.now;
    this.counters = writerMetrics(o.metrics, this.queue);
    this.repository = o.repository !== undefined ? o.repository : new AuditRepository(o.db);
    this.retention = new AuditSweep({
      repository: this.repository,
      retentionMs: o.config.retention,
      intervalMs: o.config.sweepInterval,
      batchSize: o.sweepBatchSize ?? 5000,
      logger: o.logger,
      metrics: o.metrics,
      now: this.now,
      databaseAway: () => this.outage !== undefined,
    });
    if (o.spool !== undefined) {
      this.backlog = new SpoolBacklog({
        spool: o.spool,
        queue: this.queue,
        batchSize: this.batchSize,
        insert: (batch) => this.insert(batch),
        dropFull: (n) => this.drop('spool_full', n),
        logger: o.logger,
        metrics: o.metrics,
        now: this.now,
        logging: () => !this.finished,
      });
    }
  }

  /** Decisions waiting in memory to be written. */
  get queued(): number {
    return this.queue.size;
  }

  /** True while the spool holds entries not yet written to the database. */
  get spooling(): boolean {
    return this.backlog?.pending ?? false;
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
      else if (!this.queue.push(entry)) this.counters.dropped.inc({ reason: 'queue_full' });
      else if (this.started && !this.kicked && this.flushing === undefined && this.queue.size >= this.kickAt()) {
        this.kicked = true;
        this.scheduleFlush(0);
      }
    } catch {
      // the request path never fails because of the audit trail
    }
    try {
      // Allowed calls are logged only with authz.audit.log all, or at debug level.
      const mode = this.o.config.log;
      if (mode === 'all' || (mode === 'deny' && (entry.decision !== 'allow' || this.o.logger.isLevelEnabled('debug')))) logDecision(this.o.logger, mode, entry);
    } catch {
      // nor because of logging
    }
  }

  /** Starts the background writer (which first replays a spool left from before) and the retention sweep. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.scheduleFlush(this.backlog?.pending === true ? 0 : this.o.config.flushInterval);
    this.retention.start(Math.min(this.o.config.sweepInterval, 30_000));
  }

  /**
   * Stops the timers and writes what is queued, for at most `stopTimeoutMs`: retrying failures
   * without a spool, once with one (what is left then is spooled). What remains is counted as
   * dropped (reason shutdown). Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Writes everything spooled and queued now (tests, shutdown). True when both were emptied. */
  async flush(): Promise<boolean> {
    if (this.flushing !== undefined) await this.flushing;
    return this.runDrain();
  }

  /** Deletes rows older than the retention (oldest first, in batches). Returns how many. */
  sweep(): Promise<number> {
    return this.retention.run();
  }

  /** Queue size that starts a write at once: a full batch; during an outage (with a spool), half the queue, to move it to disk. */
  private kickAt(): number {
    if (this.outage === undefined) return this.batchSize;
    return this.backlog === undefined ? Number.POSITIVE_INFINITY : Math.max(1, this.queue.capacity / 2);
  }

  private drop(reason: Exclude<DropReason, 'queue_full'>, n: number): void {
    this.lost += n;
    this.counters.dropped.inc({ reason }, n);
  }

  private scheduleFlush(ms: number): void {
    if (this.closed) return;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => void this.tick(), ms);
    this.flushTimer.unref();
  }

  private async tick(): Promise<void> {
    this.flushTimer = undefined;
    const kicked = this.kicked;
    this.kicked = false;
    if (this.closed) return;
    // A kick during an outage only moves the queue to the spool; the retry keeps its backoff.
    if (kicked && this.outage !== undefined && this.backlog !== undefined) {
      const backlog = this.backlog;
      this.flushing ??= backlog.moveQueue().then(() => false).finally(() => (this.flushing = undefined));
      await this.flushing;
      this.scheduleFlush(this.retryMs);
      return;
    }
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

  /** One drain at a time; the promise says whether the spool and the queue were emptied. */
  private runDrain(): Promise<boolean> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** The spool first (older), then the queue; on failure the queue goes to the spool. */
  private async drain(): Promise<boolean> {
    const backlog = this.backlog;
    if (backlog !== undefined && (backlog.pending || this.outage !== undefined)) {
      await backlog.moveQueue();
      if (!(await backlog.replay())) return false;
    }
    while (this.queue.size > 0) {
      const batch = this.queue.peek(this.batchSize);
      if (!(await this.insert(batch)).ok) {
        if (backlog !== undefined) await backlog.moveQueue();
        return false;
      }
      this.queue.discard(batch.length);
    }
    return true;
  }

  /** One INSERT; `ok` false when it should be retried later (the database is away). */
  private async insert(batch: readonly IdentifiedRecord[]): Promise<{ ok: boolean; inserted: number }> {
    let inserted: number;
    try {
      inserted = await this.repository.insert(batch, this.now());
    } catch (err) {
      this.counters.failures.inc();
      if (isDataError(err)) {
        // The rows themselves are refused: retrying would block the trail forever.
        this.drop('rejected', batch.length);
        if (!this.finished) this.o.logger.error({ err: reasonOf(err), entries: batch.length }, 'audit: the database refused a batch of entries; they are dropped');
        return { ok: true, inserted: 0 };
      }
      this.beginOutage(err);
      return { ok: false, inserted: 0 };
    }
    this.counters.written.inc(inserted);
    this.counters.duplicates.inc(batch.length - inserted);
    this.endOutage();
    return { ok: true, inserted };
  }

  private beginOutage(err: unknown): void {
    if (this.outage !== undefined) return;
    this.outage = { since: this.now(), droppedAtStart: this.droppedCount };
    if (this.finished) return;
    const where = this.backlog === undefined ? 'in memory (new ones are dropped when the queue is full)' : `in the spool ${this.backlog.path}`;
    this.o.logger.warn({ err: reasonOf(err), queued: this.queue.size, queueSize: this.queue.capacity }, `audit: cannot write to the database; keeping entries ${where} and retrying`);
  }

  private endOutage(): void {
    if (this.outage === undefined) return;
    const { since, droppedAtStart } = this.outage;
    this.outage = undefined;
    if (!this.finished) {
      this.o.logger.info({ outageMs: this.now() - since, dropped: this.droppedCount - droppedAtStart, queued: this.queue.size }, 'audit: writing to the database again');
    }
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    const deadline = Date.now() + (this.o.stopTimeoutMs ?? 5000);
    try {
      await beforeDeadline(this.retention.stop(), deadline);
      if (this.backlog === undefined) await this.writeUntil(deadline);
      else {
        // One attempt at the database unless it is known to be away; what is left waits on disk for the next start.
        if (this.outage === undefined) await beforeDeadline(this.runDrain(), deadline);
        else if (this.flushing !== undefined) await beforeDeadline(this.flushing, deadline);
        await this.backlog.stop();
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

  /** Without a spool: writes the queue, retrying failures, until it is empty or the deadline passes. */
  private async writeUntil(deadline: number): Promise<void> {
    let delay = this.retryMinMs;
    while (this.queue.size > 0 && Date.now() < deadline) {
      const emptied = await beforeDeadline(this.runDrain(), deadline);
      if (emptied === true) break;
      await beforeDeadline(sleep(delay), deadline);
      delay = Math.min(delay * 2, this.retryMaxMs);
    }
  }
}
