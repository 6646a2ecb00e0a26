/**
 * SQL of the policy store (tables authz_rules and authz_policy_version, see the Policies
 * migration). The only database code of the policy store.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { notifyChange } from '../database';

/** NOTIFY channel of policy changes; the payload is the new policy version. */
export const POLICY_CHANNEL = 'parley_authz_policy';

export type RuleSource = 'seed' | 'api' | 'config';

/** One stored rule, `rule` as the JSON the row holds. */
export interface PolicyRow {
  readonly id: string;
  readonly position: number;
  readonly rule: unknown;
  readonly source: RuleSource;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A rule as a write wants it stored, in list order. */
export interface DesiredRow {
  readonly id: string;
  /** The JSON to store (`expiresAt` as RFC 3339). */
  readonly rule: unknown;
  readonly source: RuleSource;
}

export interface PolicySnapshot {
  readonly version: number;
  readonly rows: PolicyRow[];
}

interface RawRow {
  version: string;
  id: string | null;
  position: number | null;
  rule: unknown;
  source: RuleSource | null;
  created_by: string | null;
  created_at: Date | null;
  updated_at: Date | null;
}

const SNAPSHOT_SQL = `SELECT v.version::text AS version, r.id, r.position, r.rule, r.source, r.created_by, r.created_at, r.updated_at
  FROM authz_policy_version v LEFT JOIN authz_rules r ON true
  ORDER BY r.position`;

function toSnapshot(raw: RawRow[]): PolicySnapshot {
  if (raw.length === 0) throw new Error('authz_policy_version has no row');
  const rows: PolicyRow[] = [];
  for (const r of raw) {
    if (r.id === null) continue;
    rows.push({
      id: r.id,
      position: r.position!,
      rule: r.rule,
      source: r.source!,
      createdBy: r.created_by!,
      createdAt: r.created_at!,
      updatedAt: r.updated_at!,
    });
  }
  return { version: Number(raw[0]!.version), rows };
}

/** Version and rules in order, as one consistent snapshot (a single statement). */
export async function readPolicy(db: DataSource | EntityManager): Promise<PolicySnapshot> {
  return toSnapshot((await db.query(SNAPSHOT_SQL)) as RawRow[]);
}

/**
 * Inside a transaction: locks the version row (writers queue here, across replicas) and
 * reads the rules.
 */
export async function lockPolicy(manager: EntityManager): Promise<PolicySnapshot> {
  await manager.query('SELECT version FROM authz_policy_version WHERE singleton FOR UPDATE');
  return readPolicy(manager);
}

/**
 * Inside the transaction that called `lockPolicy`: makes the table hold exactly `desired`
 * in that order (positions 0…n-1; rows not in it are deleted, new ones are created by
 * `actor`), bumps the version and notifies it at commit. Returns the new version.
 */
export async function writePolicy(manager: EntityManager, desired: readonly DesiredRow[], actor: string): Promise<number> {
  await manager.query('DELETE FROM authz_rules WHERE NOT (id = ANY($1::text[]))', [desired.map((d) => d.id)]);
  const rows = desired.map((d, position) => ({ id: d.id, position, rule: d.rule, source: d.source }));
  await manager.query(
    `INSERT INTO authz_rules AS t (id, position, rule, source, created_by)
       SELECT x.id, x.position, x.rule, x.source, $2 FROM jsonb_to_recordset($1::jsonb) AS x(id text, position integer, rule jsonb, source text)
     ON CONFLICT (id) DO UPDATE SET
       position = EXCLUDED.position,
       rule = EXCLUDED.rule,
       source = EXCLUDED.source,
       updated_at = CASE WHEN t.rule IS DISTINCT FROM EXCLUDED.rule OR t.source IS DISTINCT FROM EXCLUDED.source THEN now() ELSE t.updated_at END
     WHERE t.position IS DISTINCT FROM EXCLUDED.position OR t.rule IS DISTINCT FROM EXCLUDED.rule OR t.source IS DISTINCT FROM EXCLUDED.source`,
    [JSON.stringify(rows), actor],
  );
  const bumped = (await manager.query(
    'WITH b AS (UPDATE authz_policy_version SET version = version + 1, updated_at = now() WHERE singleton RETURNING version) SELECT version::text AS version FROM b',
  )) as Array<{ version: string }>;
  const version = Number(bumped[0]!.version);
  await notifyChange(manager, POLICY_CHANNEL, String(version));
  return version;
}
