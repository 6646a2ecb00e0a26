/**
 * The part of the audit writer that uses the spool (audit-spool.ts): while the database is
 * away the queue is moved to disk; when it is back the spool is replayed in order, one batch
 * per INSERT, before anything newer, then truncated. A crash mid-replay loses nothing and
 * duplicates nothing: the next start replays the whole file again and the database skips the
 * entry ids it already holds. Past the spool's bound entries are dropped, counted and logged
 * at error.
 */
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { reasonOf } from '../../database';
import type { AuditSpool } from './audit-spool';
import { cleaned, type AuditQueue, type IdentifiedRecord } from './audit-rows';

export interface SpoolBacklogOptions {
  spool: AuditSpool;
  queue: AuditQueue;
  batchSize: number;
  /** Writes a batch to the database: true when it is done with (written, or refused as data). */
  insert(batch: readonly IdentifiedRecord[]): Promise<{ ok: boolean; inserted: number }>;
  /** Counts entries dropped because the spool is full. */
  dropFull(entries: number): void;
  logger: Logger;
  metrics: Registry;
  now: () => number;
  /** False once the writer has stopped logging (after shutdown). */
  logging: () => boolean;
}

export class SpoolBacklog {
  private readonly replayed: Counter;
  /** Where the replay stands in the spool (in memory: after a restart the file is replayed from its start). */
  private offset = 0;
  private replayedNow = 0;
  /** Entries dropped since the spool filled up (logged at error when it starts and when it empties). */
  private droppedWhileFull = 0;
  private writeFailing = false;

  constructor(private readonly o: SpoolBacklogOptions) {
    this.replayed = new Counter({ name: 'parley_authz_audit_replayed_total', help: 'Audit entries read back from the spool and written to the database', registers: [o.metrics] });
  }

  get path(): string {
    return this.o.spool.path;
  }

  /** True while the spool holds entries not yet known to be in the database. */
  get pending(): boolean {
    return this.o.spool.bytes > 0;
  }

  /**
   * Moves everything queued to the end of the spool (one fsync). What does not fit is dropped
   * and counted. When the file cannot be written the entries stay queued; false then.
   */
  async moveQueue(): Promise<boolean> {
    const { queue, spool, logger } = this.o;
    const batch = queue.peek(queue.size);
    if (batch.length === 0) return true;
    const now = this.o.now();
    let stored: number;
    try {
      stored = await spool.append(batch.map((e) => cleaned(e, now)));
    } catch (err) {
      if (!this.writeFailing && this.o.logging()) logger.error({ err: reasonOf(err), spool: spool.path, queued: batch.length }, 'audit spool: cannot write; entries stay in memory');
      this.writeFailing = true;
      return false;
    }
    this.writeFailing = false;
    queue.discard(batch.length);
    const dropped = batch.length - stored;
    if (dropped > 0) {
      this.o.dropFull(dropped);
      if (this.droppedWhileFull === 0 && this.o.logging()) {
        logger.error({ dropped, spool: spool.path, spoolBytes: spool.bytes, spoolMaxBytes: spool.maxBytes }, 'audit spool: full (authz.audit.spoolMaxBytes); new audit entries are dropped');
      }
      this.droppedWhileFull += dropped;
    }
    return true;
  }

  /**
   * Writes the spool to the database from where the replay stands, in order; entries queued
   * meanwhile go behind it when the queue is half full. True when the spool was emptied.
   */
  async replay(): Promise<boolean> {
    const { spool, queue, logger } = this.o;
    if (!this.pending) return true;
    for (;;) {
      if (queue.size >= queue.capacity / 2) await this.moveQueue();
      const read = await spool.read(this.offset, this.o.batchSize);
      if (read.entries.length > 0) {
        const result = await this.o.insert(read.entries);
        if (!result.ok) return false;
        this.replayed.inc(result.inserted);
        this.replayedNow += result.inserted;
      }
      this.offset = read.nextOffset;
      if (!read.atEnd) continue;
      // Empty it only if nothing was appended since the read (a shutdown may append meanwhile).
      if (!(await spool.clearIfSize(read.nextOffset))) continue;
      this.offset = 0;
      if (this.o.logging()) {
        logger.info({ spool: spool.path, replayed: this.replayedNow }, 'audit spool: replayed into the database');
        if (this.droppedWhileFull > 0) logger.error({ dropped: this.droppedWhileFull }, 'audit spool: entries were dropped while the spool was full');
      }
      this.replayedNow = 0;
      this.droppedWhileFull = 0;
      return true;
    }
  }

  /** At shutdown: whatever is still queued goes to the spool, then the file is closed. */
  async stop(): Promise<void> {
    await this.moveQueue();
    await this.o.spool.close();
  }
}
