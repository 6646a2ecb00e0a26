import type { Logger } from 'pino';
import type { RecordImporter, StoreRepository } from '../store';
import { afterAttempt, type RetryPolicy, type SyncCounters } from './domain/sync-state';
import type { PartnerSession } from './partner-session';
import type { SyncSources } from './sync-source';
import { RunStopped, runSync, type RunResult } from './sync-run';
import { SYNC_CHANNEL, type ClaimedSync, type SyncRepository, type SyncRow } from './sync.repository';

export interface SyncWorkerOptions {
  repository: SyncRepository;
  store: StoreRepository;
  importer: RecordImporter;
  /** A connection to the sync's partner, with our SVID and pinned to its SPIFFE ID. */
  openSession(sync: SyncRow): PartnerSession;
  /** Adapters of sources other than a partner gateway (an OCI registry), by kind. */
  sources?: SyncSources;
  /** This worker's lease owner name (unique per replica process). */
  owner: string;
  /** Our gateway's SPIFFE ID and trust domain: the creator of synced records. */
  localId: string;
  localTrustDomain: string;
  /** Lease length; renewed every third of it. Default 30 s. */
  leaseMs?: number;
  /** How often runnable syncs are claimed. Default 2 s. */
  pollMs?: number;
  /** A transfer the partner sends nothing on for this long is cut (TIMEOUT, retried). Default 60 s. */
  idleMs?: number;
  /** How long `stop` lets running syncs reach a record boundary before it cuts their transfers. Default 10 s. */
  stopGraceMs?: number;
  /** Sync changes from every replica (a delete reaches the run at once; a create elsewhere is claimed at once). */
  changes?: { subscribe(channel: string, handler: (event: { payload?: string; resync: boolean }) => void): () => void };
  /** Syncs this worker runs at once. Default 2. */
  maxConcurrent?: number;
  /** Records one run copies at once. Default 2. */
  recordsInFlight?: number;
  /** Syncs of one partner running at once over all replicas. Default 2. */
  perPartner?: number;
  retry: RetryPolicy;
  logger: Logger;
  events?: SyncWorkerEvents;
  random?: () => number;
}

/** What the worker reports (metrics). */
export interface SyncWorkerEvents {
  takeover?(sync: SyncRow, previousOwner: string): void;
  finished?(sync: SyncRow, result: RunResult): void;
  bytes?(sync: SyncRow, n: number): void;
  /** A record's counters, as the run records them (transferred, skipped, failed, bytes). */
  progress?(sync: SyncRow, delta: Partial<SyncCounters>): void;
}

/**
 * Runs syncs on this replica: claims runnable ones (a lease in PostgreSQL, so each runs on
 * one replica at a time and a killed replica's syncs are taken over once its lease lapses),
 * renews the lease while a run lasts, stops a run at the next record boundary when the sync
 * is deleted or the lease is lost, and records the outcome: completed, retried with backoff,
 * or failed with its reason.
 */
interface RunningSync {
  readonly done: Promise<void>;
  readonly state: { lost: boolean; deleted: boolean };
  readonly abort: AbortController;
}

export class SyncWorker {
  private readonly running = new Map<string, RunningSync>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopping = false;
  private ticking: Promise<void> | undefined;
  private readonly leaseMs: number;

  constructor(private readonly o: SyncWorkerOptions) {
    this.leaseMs = o.leaseMs ?? 30_000;
  }

  start(): void {
    this.timer = setInterval(() => this.poke(), this.o.pollMs ?? 2000);
    this.timer.unref();
    this.unsubscribe = this.o.changes?.subscribe(SYNC_CHANNEL, (event) => this.changed(event.payload));
    this.poke();
  }

  /** A sync changed on some replica: `deleted:<id>` stops its run here at the next record boundary; `created:<id>` is claimed now. */
  private changed(payload: string | undefined): void {
    const [what, id] = (payload ?? '').split(':');
    if (what === 'deleted' && id !== undefined) {
      const run = this.running.get(id);
      if (run !== undefined) run.state.deleted = true;
    } else if (what === 'created') this.poke();
  }

  /** Claims now (a new sync was created here). */
  poke(): void {
    if (this.stopping || this.ticking !== undefined) return;
    this.ticking = this.tick()
      .catch((err: unknown) => this.o.logger.warn({ err }, 'sync: claiming runnable syncs failed'))
      .finally(() => {
        this.ticking = undefined;
      });
  }

  /**
   * Stops claiming; running syncs stop at their next record boundary and give their lease
   * back. A run still copying after the grace period has its transfer cut; it resumes from
   * the staged bytes on whichever replica claims the sync next.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.ticking;
    const runs = [...this.running.values()];
    let grace: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'cut'>((resolve) => (grace = setTimeout(() => resolve('cut'), this.o.stopGraceMs ?? 10_000)));
    const ended = await Promise.race([Promise.allSettled(runs.map((r) => r.done)), graceOver]);
    clearTimeout(grace);
    if (ended === 'cut') {
      this.o.logger.warn({ runs: this.running.size }, 'sync: runs still copying after the stop grace; cutting their transfers (they resume later)');
      for (const run of this.running.values()) run.abort.abort();
      await Promise.allSettled(runs.map((r) => r.done));
    }
  }

  get activeRuns(): number {
    return this.running.size;
  }

  private async tick(): Promise<void> {
    const free = (this.o.maxConcurrent ?? 2) - this.running.size;
    if (free <= 0) return;
    const claimed = await this.o.repository.claim({ owner: this.o.owner, leaseMs: this.leaseMs, max: free, perPartner: this.o.perPartner ?? 2 });
    for (const sync of claimed) {
      if (sync.previousOwner !== undefined) {
        this.o.logger.warn({ syncId: sync.id, previousOwner: sync.previousOwner }, 'sync: took over a lapsed lease');
        this.o.events?.takeover?.(sync, sync.previousOwner);
      }
      const running: RunningSync = { state: { lost: false, deleted: sync.status === 'DELETE_PENDING' }, abort: new AbortController(), done: Promise.resolve() };
      this.running.set(sync.id, { ...running, done: this.run(sync, running).finally(() => this.running.delete(sync.id)) });
    }
  }

  private async run(sync: ClaimedSync, { state, abort }: RunningSync): Promise<void> {
    const { repository, logger } = this.o;
    const heartbeat = setInterval(() => {
      repository.heartbeat(sync.id, this.o.owner, this.leaseMs).then(
        (status) => {
          if (status === undefined) state.lost = true;
          else if (status === 'DELETE_PENDING') state.deleted = true;
        },
        (err: unknown) => logger.warn({ err, syncId: sync.id }, 'sync: lease renewal failed'),
      );
    }, Math.max(100, Math.floor(this.leaseMs / 3)));
    const checkpoint = () => {
      if (state.lost || this.stopping) throw new RunStopped('lease_lost');
      if (state.deleted) throw new RunStopped('deleted');
    };
    let session: PartnerSession | undefined;
    try {
      if (!state.deleted) await repository.startRun(sync.id, this.o.owner);
      checkpoint();
      const base = { sync, owner: this.o.owner, repository, store: this.o.store, importer: this.o.importer, localId: this.o.localId, localTrustDomain: this.o.localTrustDomain, checkpoint, idleMs: this.o.idleMs ?? 60_000, recordsInFlight: this.o.recordsInFlight ?? 2, signal: abort.signal, onBytes: (n: number) => this.o.events?.bytes?.(sync, n), onProgress: (delta: Partial<SyncCounters>) => this.o.events?.progress?.(sync, delta) };
      let result: RunResult;
      if (sync.source !== undefined) {
        const adapter = this.o.sources?.get(sync.source.kind);
        if (adapter === undefined) throw new Error(`sync: no adapter for sources of kind ${sync.source.kind}`);
        const secret = await repository.sourceSecret(sync.id);
        result = await adapter.run({ ...base, ...(secret === undefined ? {} : { secret }) });
      } else {
        session = this.o.openSession(sync);
        result = await runSync({ ...base, session });
      }
      // Cut short by a shutdown: not an attempt that failed; the lease is given back and the record resumes later.
      if (!result.ok && this.stopping) throw new RunStopped('lease_lost');
      await this.record(sync, result);
    } catch (err) {
      await this.stopped(sync, err, state.deleted);
    } finally {
      clearInterval(heartbeat);
      session?.close();
    }
  }

  private async record(sync: SyncRow, result: RunResult): Promise<void> {
    const attempt = result.ok ? 0 : sync.attempt + 1;
    const outcome = afterAttempt(result, attempt, this.o.retry, { nowMs: Date.now(), ...(sync.continuous && sync.intervalMs !== undefined ? { intervalMs: sync.intervalMs } : {}), random: this.o.random ?? Math.random });
    const written = await this.o.repository.finish(sync.id, this.o.owner, outcome, attempt);
    this.o.events?.finished?.(sync, result);
    const fields = { syncId: sync.id, partner: sync.remoteSpiffeId || `${sync.remoteAddress}/${sync.source?.repository ?? ''}`, status: outcome.status, ...(result.ok ? { counters: result.counters } : { reason: result.reason, message: result.message }), written };
    if (result.ok) this.o.logger.info(fields, 'sync: run completed');
    else this.o.logger.warn(fields, outcome.status === 'FAILED' ? 'sync: failed' : 'sync: attempt failed; will retry');
  }

  /** A run that stopped early: deleted (DELETED now), shutting down (lease given back at once) or lease lost (nothing to write). */
  private async stopped(sync: SyncRow, err: unknown, deleted: boolean): Promise<void> {
    if (!(err instanceof RunStopped)) {
      this.o.logger.error({ err, syncId: sync.id }, 'sync: run failed unexpectedly');
      await this.record(sync, { ok: false, reason: 'INTERNAL', message: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (deleted) {
      await this.o.repository.finish(sync.id, this.o.owner, { status: 'FAILED', reason: 'UNSPECIFIED', message: 'deleted' }, sync.attempt);
      this.o.logger.info({ syncId: sync.id }, 'sync: deleted while running; stopped');
    } else if (this.stopping) {
      await this.o.repository.finish(sync.id, this.o.owner, { status: 'PENDING', nextRunAtMs: Date.now(), reason: 'UNSPECIFIED', message: 'interrupted by a gateway shutdown; resuming' }, sync.attempt);
    } else {
      this.o.logger.warn({ syncId: sync.id }, 'sync: lease lost (another replica took over); stopped');
    }
  }
}
