/**
 * The partner poller. It runs only while this replica holds the poll lock: one timer per
 * relationship, at most one fetch in flight per partner (so a slow answer never overwrites
 * a newer one), the next poll timed by the refresh hint or the failure backoff. A success
 * stores the document and status in one transaction; a failure keeps the last good bundle
 * and records why. Every replica then applies what was stored (FederationService).
 */
import type { Logger } from 'pino';
import { ParleyError } from '../common';
import type { X509BundleSource } from '../spiffe';
import { nextPollDelayMs, POLL, refreshIntervalMs, type FederationRelationship } from './domain';
import type { FetchOptions, FetchOutcome } from './bundle-fetcher';
import type { BundleRow, FederationRepository, StoredRelationship } from './federation.repository';
import { PollLock } from './poll-lock';

export type FetchFn = (rel: FederationRelationship, endpointTrust: X509BundleSource | undefined, options: FetchOptions) => Promise<FetchOutcome>;

export interface PollerOptions {
  databaseUrl: string;
  repository: FederationRepository;
  logger: Logger;
  replicaId: string;
  fetch: FetchFn;
  timeoutMs: number;
  maxBytes: number;
  minIntervalMs: number;
  lockRetryMs: number;
  random?: () => number;
  /** The relationship as this replica knows it (reloaded on every change). */
  relationship(td: string): StoredRelationship | undefined;
  relationships(): Iterable<StoredRelationship>;
  /** Last known status row of a partner. */
  row(td: string): BundleRow | undefined;
  /** The bundles to verify an https_spiffe endpoint with. */
  endpointTrust(rel: FederationRelationship): X509BundleSource | undefined;
  /** Called after each fetch (metrics). */
  onFetched(td: string, outcome: FetchOutcome): void;
}

export class FederationPoller {
  private readonly lock: PollLock;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** A fetch queued behind the one in flight (fresh requests), not started yet. */
  private readonly queued = new Map<string, Promise<void>>();
  private readonly seen = new Map<string, number>();
  private readonly aborts = new Set<AbortController>();
  /** When each timer fires (epoch ms). */
  private readonly due = new Map<string, number>();
  private stopped = false;

  constructor(private readonly o: PollerOptions) {
    this.lock = new PollLock({
      url: o.databaseUrl,
      logger: o.logger,
      retryMs: o.lockRetryMs,
      onAcquired: () => this.scheduleAll(),
      onLost: () => this.idle(),
    });
  }

  get holding(): boolean {
    return this.lock.held;
  }

  start(): Promise<void> {
    this.stopped = false;
    return this.lock.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.idle();
    await Promise.allSettled([...this.inFlight.values()]);
    await this.lock.stop();
  }

  /** When the next poll of `td` is due (this replica's timers only). */
  nextPollAt(td: string): Date | undefined {
    const at = this.due.get(td);
    return at === undefined ? undefined : new Date(at);
  }

  /**
   * Fetches `td` now. A fetch in flight is joined, unless `fresh`: then one more fetch runs
   * after it (a refresh request must be answered by a fetch that started after it).
   * Only meaningful while holding the lock.
   */
  pollNow(td: string, fresh = false): Promise<void> {
    if (!this.holding) return Promise.resolve();
    const running = this.inFlight.get(td);
    if (running === undefined) return this.begin(td);
    if (!fresh) return running;
    let next = this.queued.get(td);
    if (next === undefined) {
      next = running.catch(() => undefined).then(() => {
        this.queued.delete(td);
        return this.begin(td);
      });
      this.queued.set(td, next);
    }
    return next;
  }

  private begin(td: string): Promise<void> {
    const existing = this.inFlight.get(td);
    if (existing !== undefined) return existing;
    this.clearTimer(td);
    const running = this.poll(td).finally(() => this.inFlight.delete(td));
    this.inFlight.set(td, running);
    return running;
  }

  /** The relationship of `td` was (re)loaded: poll at once when it is new or its declaration changed. */
  changed(td: string): void {
    const rel = this.o.relationship(td);
    const stamp = rel?.updatedAt.getTime();
    const before = this.seen.get(td);
    if (rel === undefined || rel.relationship.profile === 'static') {
      this.seen.delete(td);
      this.clearTimer(td);
      return;
    }
    this.seen.set(td, stamp as number);
    if (this.holding && before !== stamp) void this.pollNow(td);
  }

  private scheduleAll(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const rel of this.o.relationships()) {
      const td = rel.relationship.trustDomain;
      this.seen.set(td, rel.updatedAt.getTime());
      if (rel.relationship.profile === 'static') continue;
      const row = this.o.row(td);
      const next = row?.nextPollAt?.getTime();
      const refreshPending = row !== undefined && row.refreshRequested > row.refreshDone;
      const delay = next === undefined || refreshPending ? 0 : Math.min(Math.max(0, next - now), POLL.maxMs);
      this.schedule(td, delay);
    }
  }

  private idle(): void {
    for (const td of [...this.timers.keys()]) this.clearTimer(td);
    for (const a of this.aborts) a.abort();
  }

  private schedule(td: string, delayMs: number): void {
    this.clearTimer(td);
    if (this.stopped || !this.holding) return;
    const timer = setTimeout(() => {
      this.timers.delete(td);
      void this.pollNow(td);
    }, delayMs);
    timer.unref();
    this.timers.set(td, timer);
    this.due.set(td, Date.now() + delayMs);
  }

  private clearTimer(td: string): void {
    clearTimeout(this.timers.get(td));
    this.timers.delete(td);
    this.due.delete(td);
  }

  private async poll(td: string): Promise<void> {
    const rel = this.o.relationship(td);
    if (rel === undefined || rel.relationship.profile === 'static') return;
    let refreshDone: number | undefined;
    try {
      // Refresh requests made so far: this fetch, started now, answers them.
      refreshDone = (await this.o.repository.findBundle(td))?.refreshRequested;
    } catch (err) {
      this.dbUnavailable(td, err);
      return;
    }
    const abort = new AbortController();
    this.aborts.add(abort);
    let outcome: FetchOutcome;
    try {
      const trust = rel.relationship.profile === 'https_spiffe' ? this.o.endpointTrust(rel.relationship) : undefined;
      outcome = await this.o.fetch(rel.relationship, trust, { timeoutMs: this.o.timeoutMs, maxBytes: this.o.maxBytes, signal: abort.signal });
    } catch (err) {
      outcome = { ok: false, reason: 'connect', detail: `fetch failed: ${err instanceof Error ? err.message : String(err)}` };
    } finally {
      this.aborts.delete(abort);
    }
    if (!this.holding || this.stopped) return; // lost the lock meanwhile: the next holder polls
    this.o.onFetched(td, outcome);
    const previous = this.o.row(td);
    try {
      if (outcome.ok) await this.recordSuccess(td, outcome, previous, refreshDone);
      else await this.recordFailure(td, outcome, previous, refreshDone);
    } catch (err) {
      this.dbUnavailable(td, err);
    }
  }

  /** The database is unreachable: try again soon; every replica keeps what it holds. */
  private dbUnavailable(td: string, err: unknown): void {
    this.o.logger.warn({ trustDomain: td, reason: err instanceof Error ? err.message : String(err) }, 'federation: cannot read or store the poll state');
    this.schedule(td, POLL.firstBackoffMs);
  }

  private async recordSuccess(td: string, outcome: Extract<FetchOutcome, { ok: true }>, previous: BundleRow | undefined, refreshDone: number | undefined): Promise<void> {
    const b = outcome.bundle;
    let warning: string | undefined;
    if (previous?.sequence !== undefined && b.sequence !== undefined && b.sequence < previous.sequence) {
      warning = `spiffe_sequence decreased from ${previous.sequence} to ${b.sequence} (${new Date().toISOString()})`;
      this.o.logger.warn({ trustDomain: td, url: outcome.url, previous: previous.sequence.toString(), sequence: b.sequence.toString() }, 'federation: partner bundle sequence decreased');
    }
    const delay = this.delay(true, b.refreshHint, 0);
    const document = b.withMetadata({ sequence: b.sequence ?? 0n, refreshHint: b.refreshHint ?? 0 }).serialize();
    const stored = await this.o.repository.recordSuccess(td, {
      document,
      sequence: b.sequence,
      refreshHint: b.refreshHint,
      skipped: outcome.skipped,
      warning,
      polledBy: this.o.replicaId,
      nextPollAt: new Date(Date.now() + delay),
      refreshDone,
    });
    if (previous?.document !== document) {
      this.o.logger.info({ trustDomain: td, url: outcome.url, sequence: b.sequence?.toString(), authorities: b.x509Authorities.length, skipped: outcome.skipped.length }, 'federation: partner bundle updated');
    }
    if (stored) this.schedule(td, delay);
  }

  private async recordFailure(td: string, outcome: Extract<FetchOutcome, { ok: false }>, previous: BundleRow | undefined, refreshDone: number | undefined): Promise<void> {
    const failures = (previous?.consecutiveFailures ?? 0) + 1;
    const delay = this.delay(false, previous?.refreshHint, failures);
    this.o.logger.warn(
      { trustDomain: td, reason: outcome.reason, detail: outcome.detail, url: outcome.url, consecutiveFailures: failures, retryInMs: delay, keptBundle: previous?.document !== undefined },
      'federation: partner bundle fetch failed',
    );
    const stored = await this.o.repository.recordFailure(td, { reason: outcome.reason, detail: outcome.detail, polledBy: this.o.replicaId, nextPollAt: new Date(Date.now() + delay), refreshDone });
    if (stored) this.schedule(td, delay);
  }

  private delay(succeeded: boolean, hintSeconds: number | undefined, failures: number): number {
    return pollDelayMs(this.o.minIntervalMs, { succeeded, refreshHintSeconds: hintSeconds, consecutiveFailures: failures, random: this.o.random });
  }
}

/**
 * nextPollDelayMs with federation.poll.minInterval as the floor of the regular interval
 * instead of 30 s (same jitter); failure backoff is unchanged.
 */
export function pollDelayMs(minIntervalMs: number, o: { succeeded: boolean; refreshHintSeconds?: number; consecutiveFailures: number; random?: () => number }): number {
  const d = nextPollDelayMs(o);
  if (!o.succeeded || minIntervalMs === POLL.minMs) return d;
  const hint = o.refreshHintSeconds;
  const hintMs = typeof hint === 'number' && Number.isFinite(hint) && hint >= 0 ? hint * 1000 : POLL.defaultHintMs;
  const interval = Math.min(POLL.maxMs, Math.max(minIntervalMs, hintMs));
  return Math.round(interval * (d / refreshIntervalMs(hint)));
}

/** Thrown by refresh on a static relationship. */
export function nothingToPoll(td: string): ParleyError {
  return new ParleyError('precondition_failed', `federation ${td}: a static relationship has no bundle endpoint to poll; upload its bundle instead`);
}
