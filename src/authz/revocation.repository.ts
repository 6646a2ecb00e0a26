/**
 * The SQL of the revocation store (table `authz_revocations`): the stored revocations, the
 * active ones the store keeps in memory, and the writes, which notify the change feed
 * (channel `parley_authz_revocations`) inside their transaction.
 */
import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { notifyChange } from '../database';
import { queryRows } from '../database';

export const REVOCATIONS_CHANNEL = 'parley_authz_revocations';

export type RevocationKind = 'spiffe_id' | 'fingerprint';

export interface Revocation {
  readonly id: string;
  readonly kind: RevocationKind;
  /** Canonical SPIFFE ID, or 64 lowercase hex digits. */
  readonly value: string;
  readonly reason: string;
  /** SPIFFE ID of the operator who revoked. */
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly expiresAt?: Date;
}

export interface NewRevocation {
  readonly kind: RevocationKind;
  /** Canonical form (see `revocationValue`). */
  readonly value: string;
  readonly reason: string;
  readonly createdBy: string;
  readonly expiresAt?: Date;
}

/** A revocation in force (not expired when read), as the per-call check needs it. */
export type ActiveRevocation = Pick<Revocation, 'kind' | 'value' | 'reason' | 'expiresAt'>;

interface Row {
  id: string;
  kind: RevocationKind;
  value: string;
  reason: string;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
}

const COLUMNS = 'id::text AS id, kind, value, reason, created_by, created_at, expires_at';

const LIST_SQL = `SELECT ${COLUMNS} FROM authz_revocations ORDER BY created_at DESC, id DESC`;

const ACTIVE_SQL = 'SELECT kind, value, reason, expires_at FROM authz_revocations WHERE expires_at IS NULL OR expires_at > now()';

const UPSERT_SQL = `INSERT INTO authz_revocations (kind, value, reason, created_by, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, value) DO UPDATE SET reason = EXCLUDED.reason, created_by = EXCLUDED.created_by, created_at = now(), expires_at = EXCLUDED.expires_at
         RETURNING ${COLUMNS}, (xmax = 0) AS inserted`;

const DELETE_SQL = 'DELETE FROM authz_revocations WHERE id = $1 RETURNING id::text AS id';

export class RevocationRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Every stored revocation (expired ones too), newest first. */
  async list(): Promise<Revocation[]> {
    const rows: Row[] = await this.dataSource.query(LIST_SQL);
    return rows.map(toRevocation);
  }

  /** The revocations not expired now (by the database's clock). */
  async active(): Promise<ActiveRevocation[]> {
    const rows: Array<Pick<Row, 'kind' | 'value' | 'reason' | 'expires_at'>> = await this.dataSource.query(ACTIVE_SQL);
    return rows.map((r) => (r.expires_at === null ? { kind: r.kind, value: r.value, reason: r.reason } : { kind: r.kind, value: r.value, reason: r.reason, expiresAt: new Date(r.expires_at) }));
  }

  /**
   * Stores `r`, replacing reason, expiry and author of a revocation of the same target
   * (`created` is false then), and notifies.
   */
  async upsert(r: NewRevocation): Promise<{ revocation: Revocation; created: boolean }> {
    const rows = await this.dataSource.transaction(async (m) => {
      const result = await queryRows<Row & { inserted: boolean }>(m, UPSERT_SQL, [r.kind, r.value, r.reason, r.createdBy, r.expiresAt ?? null]);
      await notifyChange(m, REVOCATIONS_CHANNEL, 'add');
      return result;
    });
    const row = rows[0];
    if (row === undefined) throw new ParleyError('internal', 'revocation: insert returned no row');
    return { revocation: toRevocation(row), created: row.inserted };
  }

  /** Deletes the revocation `id` and notifies; false when there is none. */
  async remove(id: string): Promise<boolean> {
    const rows = await this.dataSource.transaction(async (m) => {
      const result = await queryRows<{ id: string }>(m, DELETE_SQL, [id]);
      if (result.length > 0) await notifyChange(m, REVOCATIONS_CHANNEL, 'remove');
      return result;
    });
    return rows.length > 0;
  }
}

function toRevocation(r: Row): Revocation {
  const out: Revocation = { id: r.id, kind: r.kind, value: r.value, reason: r.reason, createdBy: r.created_by, createdAt: new Date(r.created_at) };
  return r.expires_at === null ? out : { ...out, expiresAt: new Date(r.expires_at) };
}
