/**
 * The SQL of the audit trail (table `authz_audit`):
 * - reads newest first by (at, id), with the validated filters of `GET /v1/audit` and keyset
 *   pagination, so every page (and a full CSV export, page after page) is an index range and
 *   no connection is held between pages;
 * - one multi-row INSERT per batch of decisions that skips entry ids already stored, so a
 *   batch written twice (a retry whose first attempt did commit, a spool replayed after a
 *   crash) still leaves one row per entry;
 * - the retention DELETE, oldest first in bounded batches, skipping rows other replicas'
 *   sweeps hold locked.
 */
import type { AuditCursor, AuditEntry, AuditFilter } from './domain/audit-types';
import { formatMicros, parseRfc3339Micros } from '../domain/rfc3339';
import { CODED_COLUMNS, columns, type IdentifiedRecord } from './audit-rows';

/** What the audit code needs of the database: TypeORM's DataSource satisfies it. */
export interface AuditDatabase {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

interface AuditRow {
  id: string;
  at_text: string;
  spiffe_id: string;
  trust_domain: string;
  source_address: string;
  method: string;
  namespace: string | null;
  decision: string;
  rule: string | null;
  reason: string;
  dry_run_denied: string[] | null;
}

/**
 * Inserts the batch (the parameters of `columns`: $1 at, $2 entry_id, then per coded column
 * its values and the rows' indexes into them); returns `n`, how many rows were new.
 */
const INSERT_SQL = ((): string => {
  const value = (i: number): string => `($${3 + 2 * i}::text[])[u.${CODED_COLUMNS[i]}]`;
  const select = CODED_COLUMNS.map((name, i) =>
    name === 'dry_run_denied' ? `CASE WHEN u.${name} = 0 THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(${value(i)}::jsonb)) END` : value(i),
  );
  const indexes = CODED_COLUMNS.map((_, i) => `$${4 + 2 * i}::int[]`);
  return `WITH inserted AS (
INSERT INTO authz_audit (at, entry_id, ${CODED_COLUMNS.join(', ')})
SELECT u.at, u.entry_id, ${select.join(', ')}
FROM unnest($1::timestamptz[], $2::uuid[], ${indexes.join(', ')}) AS u(at, entry_id, ${CODED_COLUMNS.join(', ')})
ON CONFLICT (entry_id) DO NOTHING
RETURNING 1
) SELECT count(*)::int AS n FROM inserted`;
})();

/** Deletes up to $2 rows older than $1, oldest first; returns `n`, how many. */
const SWEEP_SQL = `WITH doomed AS (
  SELECT id FROM authz_audit WHERE at < $1::timestamptz ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM authz_audit a USING doomed d WHERE a.id = d.id RETURNING 1
)
SELECT count(*)::int AS n FROM gone`;

export class AuditRepository {
  constructor(private readonly db: AuditDatabase) {}

  /**
   * Writes `batch` (cleaned by `columns`; entries without a valid time get `nowMs`), skipping
   * entry ids already stored. Returns how many rows were new.
   * @throws the database's error; TypeError when the statement returned no row count
   */
  async insert(batch: readonly IdentifiedRecord[], nowMs: number): Promise<number> {
    const rows = (await this.db.query(INSERT_SQL, columns(batch, nowMs))) as Array<{ n: number }>;
    const inserted = Number(rows[0]?.n);
    if (!Number.isSafeInteger(inserted)) throw new TypeError('audit: the insert returned no row count');
    return inserted;
  }

  /** Deletes at most `limit` rows older than `cutoff` (oldest first). Returns how many. */
  async deleteOlderThan(cutoff: Date, limit: number): Promise<number> {
    const rows = (await this.db.query(SWEEP_SQL, [cutoff.toISOString(), limit])) as Array<{ n: number }>;
    return Number(rows[0]?.n ?? 0);
  }

  /** Up to `limit` entries matching `filter`, newest first, strictly after `after` when given. */
  async page(filter: AuditFilter, after: AuditCursor | undefined, limit: number): Promise<AuditEntry[]> {
    const params: unknown[] = [];
    const p = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    const where: string[] = [];
    if (filter.spiffeId !== undefined) where.push(`spiffe_id = ${p(filter.spiffeId)}`);
    if (filter.trustDomain !== undefined) where.push(`trust_domain = ${p(filter.trustDomain)}`);
    if (filter.method !== undefined) where.push(`method = ${p(filter.method)}`);
    if (filter.decision !== undefined) where.push(`decision = ${p(filter.decision)}`);
    if (filter.namespace !== undefined) where.push(`namespace = ${p(filter.namespace)}`);
    if (filter.rule !== undefined) where.push(`rule = ${p(filter.rule)}`);
    if (filter.sinceMicros !== undefined) where.push(`at >= ${p(formatMicros(filter.sinceMicros))}::timestamptz`);
    if (filter.untilMicros !== undefined) where.push(`at < ${p(formatMicros(filter.untilMicros))}::timestamptz`);
    if (after !== undefined) where.push(`(at, id) < (${p(formatMicros(after.atMicros))}::timestamptz, ${p(after.id.toString())}::bigint)`);
    const sql = `SELECT id::text AS id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text,
        spiffe_id, trust_domain, source_address, method, namespace, decision, rule, reason, dry_run_denied
      FROM authz_audit${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
      ORDER BY at DESC, id DESC LIMIT ${p(limit)}`;
    const rows = (await this.db.query(sql, params)) as AuditRow[];
    return rows.map(toEntry);
  }
}

function toEntry(r: AuditRow): AuditEntry {
  return {
    id: BigInt(r.id),
    atMicros: parseRfc3339Micros(r.at_text) ?? 0n,
    spiffeId: r.spiffe_id,
    trustDomain: r.trust_domain,
    sourceAddress: r.source_address,
    method: r.method,
    namespace: r.namespace ?? undefined,
    decision: r.decision === 'allow' ? 'allow' : 'deny',
    rule: r.rule ?? undefined,
    reason: r.reason,
    dryRunDenied: r.dry_run_denied ?? [],
  };
}
