/**
 * Reads the audit trail: newest first by (at, id), with the validated filters of
 * `GET /v1/audit` and keyset pagination, so every page (and a full CSV export, page after
 * page) is an index range and no connection is held between pages.
 */
import type { AuditCursor, AuditEntry, AuditFilter } from './domain/audit-types';
import { formatMicros, parseRfc3339Micros } from '../domain/rfc3339';

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

export class AuditRepository {
  constructor(private readonly db: AuditDatabase) {}

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
