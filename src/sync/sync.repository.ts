import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { notifyChange } from '../database';
import { inTransaction, sql, sqlOn } from '../store';
import type { OciSecret, OciSourceSpec } from './domain/oci-source';
import type { AttemptOutcome, FailureReason, SyncCounters, SyncStatus } from './domain/sync-state';

/** What to replicate (empty lists: everything exported to us). */
export interface SyncSelection {
  readonly namespaces: readonly string[];
  readonly cids: readonly string[];
  readonly annotations: Readonly<Record<string, string>>;
}

export interface NewSync {
  readonly remoteAddress: string;
  readonly remoteSpiffeId: string;
  readonly selection: SyncSelection;
  readonly continuous: boolean;
  readonly intervalMs?: number;
  readonly targetNamespace: string;
  readonly createdBy: string;
  /** A sync from an OCI registry (remoteAddress is its origin, remoteSpiffeId empty); absent: from a partner gateway. */
  readonly source?: OciSourceSpec;
}

export interface SyncRow extends NewSync {
  readonly id: string;
  readonly status: SyncStatus;
  readonly failureReason: FailureReason;
  readonly message: string;
  readonly counters: SyncCounters;
  readonly attempt: number;
  readonly nextAttemptAt: Date;
  readonly listCursor?: string;
  readonly leaseOwner?: string;
  readonly leaseUntil?: Date;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly lastSuccessAt?: Date;
}

/** A sync a worker now holds; `previousOwner` is set when it took over a lapsed lease of another worker. */
export interface ClaimedSync extends SyncRow {
  readonly previousOwner?: string;
}

export interface ClaimOptions {
  readonly owner: string;
  readonly leaseMs: number;
  readonly max: number;
  /** Syncs of one partner (its gateway's SPIFFE ID) that may run at once, over all replicas. */
  readonly perPartner: number;
}

interface DbRow {
  id: string;
  status: SyncStatus;
  failure_reason: FailureReason;
  message: string;
  remote_address: string;
  remote_spiffe_id: string;
  selection: SyncSelection;
  continuous: boolean;
  interval_ms: number | null;
  target_namespace: string;
  discovered: string;
  transferred: string;
  skipped: string;
  failed: string;
  bytes: string;
  attempt: number;
  next_attempt_at: Date;
  list_cursor: string | null;
  lease_owner: string | null;
  lease_until: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  last_success_at: Date | null;
  source: OciSourceSpec | null;
  previous_owner?: string | null;
}

/** Change-feed channel of sync jobs: `created:<id>`, `deleted:<id>`. */
export const SYNC_CHANNEL = 'parley_syncs';

const RUNNABLE = `status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'DELETE_PENDING')`;
const LEASE_FREE = '(lease_until IS NULL OR lease_until < now())';
/** Who a sync copies from, for the per-partner cap: the partner gateway, or the OCI registry's origin. */
const PARTNER_KEY = `COALESCE(NULLIF(remote_spiffe_id, ''), remote_address)`;
/** pg_advisory_xact_lock key of claims ('sync'). */
const CLAIM_LOCK = 0x73796e63;

/**
 * Sync jobs and their leases. A worker claims runnable syncs whose lease is free or lapsed
 * (`FOR UPDATE SKIP LOCKED`: replicas never claim the same row), renews its lease while it
 * works, and gives it back with the outcome. Every write by a worker names the lease owner,
 * so a worker that lost its lease (it stalled, another replica took over) changes nothing.
 */
export class SyncRepository {
  constructor(private readonly ds: DataSource) {}

  /** `secret`: the OCI source's credential, kept apart (only `sourceSecret` reads it back). */
  async create(s: NewSync, secret?: OciSecret): Promise<SyncRow> {
    const { rows } = await sql<DbRow>(
      this.ds,
      `INSERT INTO syncs (id, status, remote_address, remote_spiffe_id, selection, continuous, interval_ms, target_namespace, created_by, source, source_secret)
       VALUES ($1, 'PENDING', $2, $3, $4::jsonb, $5, $6, $7, $8, $9::jsonb, $10) RETURNING *`,
      [randomUUID(), s.remoteAddress, s.remoteSpiffeId, JSON.stringify(s.selection), s.continuous, s.intervalMs ?? null, s.targetNamespace, s.createdBy, s.source === undefined ? null : JSON.stringify(s.source), secret === undefined ? null : JSON.stringify(secret)],
    );
    await notifyChange(this.ds, SYNC_CHANNEL, `created:${rows[0].id}`);
    return toRow(rows[0]);
  }

  /** The credential of a sync's OCI source (for its worker only). */
  async sourceSecret(id: string): Promise<OciSecret | undefined> {
    const { rows } = await sql<{ source_secret: string | null }>(this.ds, 'SELECT source_secret FROM syncs WHERE id = $1', [id]);
    const text = rows[0]?.source_secret;
    return text === null || text === undefined ? undefined : (JSON.parse(text) as OciSecret);
  }

  async get(id: string): Promise<SyncRow | undefined> {
    const { rows } = await sql<DbRow>(this.ds, 'SELECT * FROM syncs WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toRow(rows[0]);
  }

  /** Newest first; `before` is the (created_at, id) of the last row of the previous page. */
  async list(pageSize: number, before?: { createdAt: Date; id: string }): Promise<SyncRow[]> {
    const { rows } =
      before === undefined
        ? await sql<DbRow>(this.ds, 'SELECT * FROM syncs ORDER BY created_at DESC, id DESC LIMIT $1', [pageSize])
        : // The cursor row's own created_at (microseconds; a JS Date holds milliseconds), or the page token's when it is gone.
          await sql<DbRow>(this.ds, 'SELECT * FROM syncs WHERE (created_at, id) < (COALESCE((SELECT created_at FROM syncs WHERE id = $3::uuid), $2), $3::uuid) ORDER BY created_at DESC, id DESC LIMIT $1', [
            pageSize,
            before.createdAt,
            before.id,
          ]);
    return rows.map(toRow);
  }

  /**
   * Deletes a sync in any state: one a worker holds becomes DELETE_PENDING (the worker stops
   * at the next record boundary and marks it DELETED); any other is DELETED at once.
   * Returns the new status, or undefined for an unknown id.
   */
  async requestDelete(id: string): Promise<SyncStatus | undefined> {
    const { rows } = await sql<{ status: SyncStatus }>(
      this.ds,
      `UPDATE syncs SET status = CASE WHEN status = 'DELETED' THEN 'DELETED' WHEN lease_until > now() THEN 'DELETE_PENDING' ELSE 'DELETED' END,
              message = CASE WHEN lease_until > now() AND status <> 'DELETED' THEN 'deleted; stopping at the next record' ELSE 'deleted' END,
              updated_at = now()
        WHERE id = $1 RETURNING status`,
      [id],
    );
    if (rows[0]?.status === 'DELETE_PENDING') await notifyChange(this.ds, SYNC_CHANNEL, `deleted:${id}`);
    return rows[0]?.status;
  }

  /** Claims up to `max` runnable syncs for `owner`. */
  async claim(o: ClaimOptions): Promise<ClaimedSync[]> {
    return inTransaction(this.ds, async (runner) => {
      // Claims are serialized (they are rare and short) so the per-partner cap holds across replicas.
      await sqlOn(runner, 'SELECT pg_advisory_xact_lock($1)', [CLAIM_LOCK]);
      const { rows } = await sqlOn<DbRow>(
        runner,
        `WITH active AS (SELECT ${PARTNER_KEY} AS partner, count(*) AS n FROM syncs WHERE lease_until > now() GROUP BY 1),
         candidates AS (
           SELECT id, lease_owner AS previous_owner, ${PARTNER_KEY} AS partner, next_attempt_at FROM syncs
            WHERE ${RUNNABLE} AND next_attempt_at <= now() AND ${LEASE_FREE} AND (status <> 'COMPLETED' OR continuous)
            ORDER BY next_attempt_at LIMIT $3 * 4 FOR UPDATE SKIP LOCKED),
         ranked AS (
           SELECT c.id, c.previous_owner, c.next_attempt_at,
                  row_number() OVER (PARTITION BY c.partner ORDER BY c.next_attempt_at) + COALESCE(a.n, 0) AS slot
             FROM candidates c LEFT JOIN active a ON a.partner = c.partner),
         due AS (SELECT id, previous_owner FROM ranked WHERE slot <= $4 ORDER BY next_attempt_at LIMIT $3)
         UPDATE syncs SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond',
                status = CASE WHEN syncs.status = 'DELETE_PENDING' THEN 'DELETE_PENDING' ELSE 'IN_PROGRESS' END, updated_at = now()
           FROM due WHERE syncs.id = due.id
         RETURNING syncs.*, due.previous_owner`,
        [o.owner, o.leaseMs, o.max, o.perPartner],
      );
      return rows.map((r) => ({ ...toRow(r), ...(r.previous_owner && r.previous_owner !== o.owner ? { previousOwner: r.previous_owner } : {}) }));
    });
  }

  /**
   * Renews a lease. Returns the sync's status (DELETE_PENDING: stop now), or undefined when
   * `owner` no longer holds it (lapsed and taken over): the worker must stop without writing.
   */
  async heartbeat(id: string, owner: string, leaseMs: number): Promise<SyncStatus | undefined> {
    const { rows } = await sql<{ status: SyncStatus }>(
      this.ds,
      `UPDATE syncs SET lease_until = now() + $3 * interval '1 millisecond' WHERE id = $1 AND lease_owner = $2 AND lease_until > now() RETURNING status`,
      [id, owner, leaseMs],
    );
    return rows[0]?.status;
  }

  /** Adds to the counters (and sets the discovered total or the List cursor) while `owner` holds the lease. */
  async progress(id: string, owner: string, delta: Partial<SyncCounters>, update: { discovered?: number; listCursor?: string; message?: string } = {}): Promise<boolean> {
    const { count } = await sql(
      this.ds,
      `UPDATE syncs SET transferred = transferred + $3, skipped = skipped + $4, failed = failed + $5, bytes = bytes + $6,
              discovered = COALESCE($7, discovered), list_cursor = COALESCE($8, list_cursor), message = COALESCE($9, message), updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND lease_until > now()`,
      [id, owner, delta.transferred ?? 0, delta.skipped ?? 0, delta.failed ?? 0, delta.bytes ?? 0, update.discovered ?? null, update.listCursor ?? null, update.message ?? null],
    );
    return count === 1;
  }

  /** Starts a new run's counters (a continuous sync's later runs count afresh). */
  async startRun(id: string, owner: string): Promise<boolean> {
    const { count } = await sql(
      this.ds,
      `UPDATE syncs SET discovered = 0, transferred = 0, skipped = 0, failed = 0, bytes = 0, message = 'running', updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND lease_until > now() AND status = 'IN_PROGRESS'`,
      [id, owner],
    );
    return count === 1;
  }

  /**
   * Records the outcome of a run and gives the lease back. A sync deleted meanwhile
   * (DELETE_PENDING) becomes DELETED whatever the outcome. Returns false when `owner` no
   * longer held the lease (nothing written).
   */
  async finish(id: string, owner: string, outcome: AttemptOutcome, attempt: number): Promise<boolean> {
    const ok = outcome.status === 'COMPLETED';
    const next = outcome.status === 'FAILED' ? null : (outcome.nextRunAtMs ?? null);
    const { count } = await sql(
      this.ds,
      `UPDATE syncs SET
              status = CASE WHEN status = 'DELETE_PENDING' THEN 'DELETED' ELSE $3 END,
              failure_reason = $4, message = CASE WHEN status = 'DELETE_PENDING' THEN 'deleted' ELSE $5 END,
              attempt = $6, next_attempt_at = COALESCE(to_timestamp($7::float8 / 1000), next_attempt_at),
              last_success_at = CASE WHEN $8 THEN now() ELSE last_success_at END,
              lease_owner = NULL, lease_until = NULL, updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND lease_until > now()`,
      [id, owner, outcome.status, ok ? 'UNSPECIFIED' : outcome.reason, ok ? completedMessage(outcome) : outcome.message, ok ? 0 : attempt, next, ok],
    );
    return count === 1;
  }

  /** Syncs by status, and the last success per partner gateway (SPIFFE ID → epoch ms): /metrics, read on scrape. */
  async metricsSnapshot(): Promise<{ byStatus: Map<string, number>; lastSuccess: Map<string, number> }> {
    const counts = await sql<{ status: string; n: string }>(this.ds, 'SELECT status, count(*) AS n FROM syncs GROUP BY status');
    const successes = await sql<{ remote_spiffe_id: string; at: Date }>(
      this.ds,
      `SELECT ${PARTNER_KEY} AS remote_spiffe_id, max(last_success_at) AS at FROM syncs WHERE last_success_at IS NOT NULL GROUP BY 1`,
    );
    return {
      byStatus: new Map(counts.rows.map((r) => [r.status, Number(r.n)])),
      lastSuccess: new Map(successes.rows.map((r) => [r.remote_spiffe_id, new Date(r.at).getTime()])),
    };
  }

  /** The staged upload of a record a sync was copying, to resume from. */
  async transfer(syncId: string, cid: string): Promise<{ uploadId: string; stagedBytes: number } | undefined> {
    const { rows } = await sql<{ upload_id: string; staged_bytes: string }>(this.ds, 'SELECT upload_id, staged_bytes FROM sync_transfers WHERE sync_id = $1 AND cid = $2', [syncId, cid]);
    return rows[0] === undefined ? undefined : { uploadId: rows[0].upload_id, stagedBytes: Number(rows[0].staged_bytes) };
  }

  async saveTransfer(syncId: string, cid: string, uploadId: string, stagedBytes: number): Promise<void> {
    await sql(
      this.ds,
      `INSERT INTO sync_transfers (sync_id, cid, upload_id, staged_bytes) VALUES ($1, $2, $3, $4)
       ON CONFLICT (sync_id, cid) DO UPDATE SET upload_id = EXCLUDED.upload_id, staged_bytes = EXCLUDED.staged_bytes, updated_at = now()`,
      [syncId, cid, uploadId, stagedBytes],
    );
  }

  async dropTransfer(syncId: string, cid: string): Promise<void> {
    await sql(this.ds, 'DELETE FROM sync_transfers WHERE sync_id = $1 AND cid = $2', [syncId, cid]);
  }
}

function toRow(r: DbRow): SyncRow {
  return {
    id: r.id,
    status: r.status,
    failureReason: r.failure_reason,
    message: r.message,
    remoteAddress: r.remote_address,
    remoteSpiffeId: r.remote_spiffe_id,
    selection: r.selection,
    continuous: r.continuous,
    ...(r.interval_ms === null ? {} : { intervalMs: r.interval_ms }),
    targetNamespace: r.target_namespace,
    counters: { discovered: Number(r.discovered), transferred: Number(r.transferred), skipped: Number(r.skipped), failed: Number(r.failed), bytes: Number(r.bytes) },
    attempt: r.attempt,
    nextAttemptAt: r.next_attempt_at,
    ...(r.list_cursor === null ? {} : { listCursor: r.list_cursor }),
    ...(r.lease_owner === null ? {} : { leaseOwner: r.lease_owner }),
    ...(r.lease_until === null ? {} : { leaseUntil: r.lease_until }),
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.last_success_at === null ? {} : { lastSuccessAt: r.last_success_at }),
    ...(r.source === null || r.source === undefined ? {} : { source: r.source }),
  };
}

/** A completed sync's message: "completed", with the run's note when it left one. */
function completedMessage(outcome: AttemptOutcome): string {
  return outcome.status === 'COMPLETED' && outcome.note !== undefined ? `completed; ${outcome.note}` : 'completed';
}
