import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The authorization audit trail (authz_audit): one row per gRPC authorization decision,
 * written in batches off the request path and read newest first by (at, id). Each filter of
 * `GET /v1/audit` has an index ending in (at, id), so a filtered page is one index range
 * scanned backwards; the at index also serves the retention sweep (oldest first).
 */
export class Audit1764300000000 implements MigrationInterface {
  name = 'Audit1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE authz_audit (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL,
      spiffe_id text COLLATE "C" NOT NULL,
      trust_domain text COLLATE "C" NOT NULL,
      source_address text COLLATE "C" NOT NULL,
      method text COLLATE "C" NOT NULL,
      namespace text COLLATE "C",
      decision text NOT NULL CHECK (decision IN ('allow', 'deny')),
      rule text COLLATE "C",
      reason text NOT NULL,
      dry_run_denied text[]
    )`);
    await q.query('CREATE INDEX authz_audit_at_idx ON authz_audit (at, id)');
    await q.query('CREATE INDEX authz_audit_spiffe_id_idx ON authz_audit (spiffe_id, at, id)');
    await q.query('CREATE INDEX authz_audit_trust_domain_idx ON authz_audit (trust_domain, at, id)');
    await q.query('CREATE INDEX authz_audit_method_idx ON authz_audit (method, at, id)');
    await q.query('CREATE INDEX authz_audit_decision_idx ON authz_audit (decision, at, id)');
    await q.query('CREATE INDEX authz_audit_namespace_idx ON authz_audit (namespace, at, id) WHERE namespace IS NOT NULL');
    await q.query('CREATE INDEX authz_audit_rule_idx ON authz_audit (rule, at, id) WHERE rule IS NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE authz_audit');
  }
}
