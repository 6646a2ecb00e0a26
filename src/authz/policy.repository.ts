/**
 * The SQL of the policy store (tables authz_rules and authz_policy_version, see the Policies
 * migration): a consistent read of version and rules, and the one way to change them.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { notifyChange } from '../database';
import { POLICY_CHANNEL, type DesiredRow, type PolicyRow, type PolicySnapshot, type RuleSource } from './policy-rows';

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

const LOCK_SQL = 'SELECT version FROM authz_policy_version WHERE singleton FOR UPDATE';

const DELETE_OTHERS_SQL = 'DELETE FROM authz_rules WHERE NOT (id = ANY($1::text[]))';

const UPSERT_SQL = `INSERT INTO authz_rules AS t (id, position, rule, source, created_by)
       SELECT x.id, x.position, x.rule, x.source, $2 FROM jsonb_to_recordset($1::jsonb) AS x(id text, position integer, rule jsonb, source text)
     ON CONFLICT (id) DO UPDATE SET
       position = EXCLUDED.position,
       rule = EXCLUDED.rule,
       source = EXCLUDED.source,
       updated_at = CASE WHEN t.rule IS DISTINCT FROM EXCLUDED.rule OR t.source IS DISTINCT FROM EXCLUDED.source THEN now() ELSE t.updated_at END
     WHERE t.position IS DISTINCT FROM EXCLUDED.position OR t.rule IS DISTINCT FROM EXCLUDED.rule OR t.source IS DISTINCT FROM EXCLUDED.source`;

const BUMP_SQL = 'WITH b AS (UPDATE authz_policy_version SET version = version + 1, updated_at = now() WHERE singleton RETURNING version) SELECT version::text AS version FROM b';

export class PolicyRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Version and rules in order, as one consistent snapshot (a single statement). */
  read(): Promise<PolicySnapshot> {
    return readSnapshot(this.dataSource);
  }

  /**
   * One change of the stored policy, in one transaction: locks the version row (writers
   * queue here, across replicas), reads the rules and hands them to `plan`. When `plan`
   * returns rows, the table is made to hold exactly those in that order (positions 0…n-1;
   * rows not in it are deleted, new ones are created by `actor`), the version is bumped and
   * notified at commit, and the new version is returned. When `plan` returns undefined
   * nothing is written (undefined is returned); when it throws, nothing is written either.
   */
  change(actor: string, plan: (rows: PolicyRow[]) => readonly DesiredRow[] | undefined): Promise<number | undefined> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(LOCK_SQL);
      const { rows } = await readSnapshot(manager);
      const desired = plan(rows);
      return desired === undefined ? undefined : writeRows(manager, desired, actor);
    });
  }
}

async function readSnapshot(db: DataSource | EntityManager): Promise<PolicySnapshot> {
  return toSnapshot((await db.query(SNAPSHOT_SQL)) as RawRow[]);
}

async function writeRows(manager: EntityManager, desired: readonly DesiredRow[], actor: string): Promise<number> {
  await manager.query(DELETE_OTHERS_SQL, [desired.map((d) => d.id)]);
  const rows = desired.map((d, position) => ({ id: d.id, position, rule: d.rule, source: d.source }));
  await manager.query(UPSERT_SQL, [JSON.stringify(rows), actor]);
  const bumped = (await manager.query(BUMP_SQL)) as Array<{ version: string }>;
  const version = Number(bumped[0]!.version);
  await notifyChange(manager, POLICY_CHANNEL, String(version));
  return version;
}

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
