import { Counter, Gauge, type Registry } from 'prom-client';
import { ParleyError } from '../common';
import type { CallContext } from '../grpc';
import { peerLogFields } from '../tls';
import type { TransportLogger } from '../tls';
import { ByteBudget, type BudgetLease } from './domain/byte-budget';
import { ConcurrencyLedger, type ConcurrencyScope } from './domain/concurrency-ledger';
import { pushBufferBytes, uploadStagingBytes, type StoreLimits } from './domain/limits';

export type StreamKind = 'pull' | 'push';

/** Which limit refused a call (the `limit` label of parley_store_capacity_refusals_total). */
export type CapacityLimit =
  | 'pulls_per_spiffe_id'
  | 'pulls_per_trust_domain'
  | 'pushes_per_spiffe_id'
  | 'pushes_per_trust_domain'
  | 'upload_buffer'
  | 'pull_stall_timeout';

/** The call as the capacity checks see it: its caller, and its audit of a refusal. */
export type CapacityCall = Pick<CallContext, 'peer' | 'refuse'>;

const CONFIG_KEYS: Record<StreamKind, Record<ConcurrencyScope, { limit: CapacityLimit; key: string }>> = {
  pull: { spiffe_id: { limit: 'pulls_per_spiffe_id', key: 'store.pullsPerSpiffeId' }, trust_domain: { limit: 'pulls_per_trust_domain', key: 'store.pullsPerTrustDomain' } },
  push: { spiffe_id: { limit: 'pushes_per_spiffe_id', key: 'store.pushesPerSpiffeId' }, trust_domain: { limit: 'pushes_per_trust_domain', key: 'store.pushesPerTrustDomain' } },
};

/**
 * Shared capacity of the store, rationed per peer: concurrent Pulls and Pushes per SPIFFE ID
 * and per trust domain, and the global upload buffer budget (one per gateway: pushes, sync
 * imports and registry uploads take from it). A refusal is RESOURCE_EXHAUSTED naming the
 * limit (`details.limit`, a CapacityLimit), counted in parley_store_capacity_refusals_total,
 * logged, and audited as the call's final decision (a sync import has no call: it is logged).
 */
export class StoreCapacity {
  private readonly ledgers: Record<StreamKind, ConcurrencyLedger>;
  readonly uploadBuffer: ByteBudget;
  /** Bytes each push reserves from the upload buffer. */
  readonly pushReserveBytes: number;
  /**
   * Bytes an upload into the configured backend (store.payloads) holds besides the messages
   * it receives: the multipart parts uploading and filling (s3) or the chunks being written
   * (PostgreSQL). What a sync import reserves; an upload that also holds received messages
   * (a push, a registry blob upload) reserves them on top.
   */
  readonly uploadStagingBytes: number;
  private readonly refusals: Counter<'limit'> | undefined;

  constructor(
    private readonly limits: StoreLimits,
    private readonly logger: TransportLogger,
    metrics?: Registry,
  ) {
    this.ledgers = {
      pull: new ConcurrencyLedger({ perSpiffeId: limits.pullsPerSpiffeId, perTrustDomain: limits.pullsPerTrustDomain }),
      push: new ConcurrencyLedger({ perSpiffeId: limits.pushesPerSpiffeId, perTrustDomain: limits.pushesPerTrustDomain }),
    };
    this.pushReserveBytes = pushBufferBytes(limits);
    this.uploadStagingBytes = uploadStagingBytes(limits);
    this.uploadBuffer = new ByteBudget(limits.uploadBufferBytes);
    if (metrics !== undefined) {
      this.refusals = new Counter({
        name: 'parley_store_capacity_refusals_total',
        help: 'Store calls refused or ended by a capacity limit, by limit (per-caller concurrency, upload buffer, pull stall)',
        labelNames: ['limit'] as const,
        registers: [metrics],
      });
      this.registerGauges(metrics);
    }
  }

  /**
   * Takes a concurrency slot for a stream of the caller; returns its release (call it once
   * the stream ends, on every path).
   * @throws ParleyError resource_exhausted when the caller's SPIFFE ID or trust domain is at its cap
   */
  admit(kind: StreamKind, call: CapacityCall): () => void {
    const { peer } = call;
    const grant = this.ledgers[kind].tryAcquire(peer.id.toString(), peer.trustDomain.name);
    if (grant.ok) return grant.release;
    const { limit, key } = CONFIG_KEYS[kind][grant.scope];
    const who = grant.scope === 'spiffe_id' ? peer.id.toString() : `trust domain ${peer.trustDomain.name}`;
    const reason = `${who} has ${grant.running} ${kind === 'pull' ? 'pulls' : 'pushes'} running, the most ${key} allows`;
    this.refused(limit, call, 'concurrency_limit', reason);
    throw new ParleyError('resource_exhausted', `${kind}: concurrency limit: ${reason}; retry later`, { details: { limit } });
  }

  /**
   * Reserves a push's upload buffer; waits (reading nothing) while the budget is spent.
   * @throws ParleyError resource_exhausted after store.uploadBufferWait; cancelled when `cancelled` fires first
   */
  async reserveUpload(call: CapacityCall, cancelled: AbortSignal): Promise<BudgetLease> {
    const lease = await this.take(this.pushReserveBytes, cancelled);
    if (lease === 'cancelled') throw new ParleyError('cancelled', 'push: the client cancelled the call');
    if (lease === 'timeout') {
      const reason = `no upload buffer space for ${this.limits.uploadBufferWaitMs} ms (store.uploadBufferBytes is in use by other pushes)`;
      this.refused('upload_buffer', call, 'upload_buffer', reason);
      throw new ParleyError('resource_exhausted', `push: ${reason}; retry later`, { details: { limit: 'upload_buffer' } });
    }
    return lease;
  }

  /**
   * Reserves the upload buffer of a sync import of `cid` (uploadStagingBytes) before it
   * fetches anything; waits while the budget is spent, as a push does.
   * @throws ParleyError resource_exhausted (details.reason `upload_buffer`) after store.uploadBufferWait; cancelled when `cancelled` fires first
   */
  async reserveImport(cid: string, cancelled?: AbortSignal): Promise<BudgetLease> {
    const lease = await this.take(this.uploadStagingBytes, cancelled ?? new AbortController().signal);
    if (lease === 'cancelled') throw new ParleyError('cancelled', `import of ${cid}: stopped`);
    if (lease === 'timeout') {
      const reason = `no upload buffer space for ${this.limits.uploadBufferWaitMs} ms (store.uploadBufferBytes is in use by pushes and imports)`;
      this.refusals?.inc({ limit: 'upload_buffer' });
      this.logger.warn({ cid, limit: 'upload_buffer', reason }, 'sync import refused by a capacity limit');
      throw new ParleyError('resource_exhausted', `import of ${cid}: ${reason}; retry later`, { details: { reason: 'upload_buffer', cid } });
    }
    return lease;
  }

  /** `bytes` of the upload buffer at once, or once given back by others within store.uploadBufferWait. */
  private async take(bytes: number, cancelled: AbortSignal): Promise<BudgetLease | 'timeout' | 'cancelled'> {
    const now = this.uploadBuffer.tryTake(bytes);
    if (now !== undefined) return now;
    return cancelled.aborted ? 'cancelled' : this.waitFor(bytes, this.limits.uploadBufferWaitMs, cancelled);
  }

  private waitFor(bytes: number, waitMs: number, cancelled: AbortSignal): Promise<BudgetLease | 'timeout' | 'cancelled'> {
    return new Promise((resolve) => {
      const wait: { timer?: NodeJS.Timeout; settled: boolean } = { settled: false };
      const onAbort = () => waiter.cancel() && finish('cancelled');
      const finish = (outcome: BudgetLease | 'timeout' | 'cancelled') => {
        wait.settled = true;
        clearTimeout(wait.timer);
        cancelled.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const waiter = this.uploadBuffer.enqueue(bytes, finish);
      if (wait.settled) return; // granted at once
      wait.timer = setTimeout(() => waiter.cancel() && finish('timeout'), waitMs);
      cancelled.addEventListener('abort', onAbort);
    });
  }

  /** A call ended by a time limit (pull stall): counted, logged, audited if still undecided. */
  timedOut(limit: 'pull_stall_timeout', call: CapacityCall, reason: string): void {
    this.refused(limit, call, limit, reason);
  }

  /** Streams running now of a kind (tests, metrics). */
  running(kind: StreamKind): number {
    return this.ledgers[kind].running;
  }

  private refused(limit: CapacityLimit, call: CapacityCall, result: string, reason: string): void {
    this.refusals?.inc({ limit });
    this.logger.warn({ ...peerLogFields(call.peer), limit, reason }, 'store call refused by a capacity limit');
    try {
      call.refuse(result, reason);
    } catch (err) {
      this.logger.warn({ err, limit }, 'store: cannot audit a capacity refusal');
    }
  }

  private registerGauges(metrics: Registry): void {
    const ledgers = this.ledgers;
    new Gauge({
      name: 'parley_store_streams_running',
      help: 'Pulls and Pushes running now (each holds a per-caller concurrency slot)',
      labelNames: ['kind'] as const,
      registers: [metrics],
      collect() {
        this.set({ kind: 'pull' }, ledgers.pull.running);
        this.set({ kind: 'push' }, ledgers.push.running);
      },
    });
    const budget = this.uploadBuffer;
    new Gauge({
      name: 'parley_store_upload_buffer_reserved_bytes',
      help: 'Upload buffer bytes reserved by running pushes and sync imports (at most store.uploadBufferBytes)',
      registers: [metrics],
      collect() {
        this.set(budget.used);
      },
    });
    new Gauge({
      name: 'parley_store_upload_buffer_waiting',
      help: 'Pushes and sync imports waiting for upload buffer space (reading nothing meanwhile)',
      registers: [metrics],
      collect() {
        this.set(budget.waiting);
      },
    });
  }
}
