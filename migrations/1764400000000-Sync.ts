import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sync: exports, the grant signing keys, sync jobs with their lease, and the staged
 * transfers a resumed record continues from.
 *
 * - sync_exports: what this gateway shares with whom (the definition as validated JSON).
 *   Writers NOTIFY parley_sync_exports; every replica reloads.
 * - sync_signing_keys: ES256 keys that sign grants. The newest unretired key signs; a
 *   retired key still verifies until `verify_until` (its last grant's expiry), so every
 *   replica verifies every other replica's grants through a rotation.
 * - syncs: one row a sync. `lease_owner`/`lease_until` say which replica's worker holds it
 *   (claimed with FOR UPDATE SKIP LOCKED, renewed by heartbeat, taken over once it lapses);
 *   the status never says so on its own, so a killed worker never leaves a sync stuck.
 * - sync_transfers: a record being copied (its staged upload and how many bytes it holds),
 *   so an interrupted record resumes from the bytes already staged.
 */
export class Sync1764400000000 implements MigrationInterface {
  name = 'Sync1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE sync_exports (
      id text COLLATE "C" PRIMARY KEY,
      definition jsonb NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);

    await q.query(`CREATE TABLE sync_signing_keys (
      kid text COLLATE "C" PRIMARY KEY,
      private_key_pem text NOT NULL,
      public_key_pem text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      retired_at timestamptz,
      verify_until timestamptz
    )`);

    await q.query(`CREATE TABLE syncs (
      id uuid PRIMARY KEY,
      status text NOT NULL CHECK (status IN ('PENDING', 'IN_PROGRESS', 'FAILED', 'DELETE_PENDING', 'DELETED', 'COMPLETED')),
      failure_reason text NOT NULL DEFAULT 'UNSPECIFIED',
      message text NOT NULL DEFAULT '',
      remote_address text NOT NULL,
      remote_spiffe_id text NOT NULL,
      selection jsonb NOT NULL,
      continuous boolean NOT NULL DEFAULT false,
      interval_ms integer,
      target_namespace text NOT NULL,
      discovered bigint NOT NULL DEFAULT 0,
      transferred bigint NOT NULL DEFAULT 0,
      skipped bigint NOT NULL DEFAULT 0,
      failed bigint NOT NULL DEFAULT 0,
      bytes bigint NOT NULL DEFAULT 0,
      attempt integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      list_cursor text,
      lease_owner text,
      lease_until timestamptz,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      last_success_at timestamptz
    )`);
    await q.query(`CREATE INDEX syncs_runnable ON syncs (next_attempt_at) WHERE status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'DELETE_PENDING')`);

    await q.query(`CREATE TABLE sync_transfers (
      sync_id uuid NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
      cid text COLLATE "C" NOT NULL,
      upload_id text NOT NULL,
      staged_bytes bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (sync_id, cid)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sync_transfers');
    await q.query('DROP TABLE syncs');
    await q.query('DROP TABLE sync_signing_keys');
    await q.query('DROP TABLE sync_exports');
  }
}
