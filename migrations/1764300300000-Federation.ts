import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Federation relationships, partner bundles and our published bundle.
 *
 * `federation_relationships` holds what operators declared (REST or config). One replica at a
 * time polls partners and writes `federation_bundles` (the last good document plus the poll
 * status every replica reports); every replica loads the documents from there into its trust
 * store when notified on `parley_federation`. `federation_own_bundle` is the one row of our
 * own bundle as the bundle endpoint serves it: the sequence grows whenever its authorities
 * change, whichever replica noticed first. `refresh_requested` / `refresh_done` let a replica
 * that does not poll ask the poller for a fetch and wait for exactly that fetch's result.
 */
export class Federation1764300300000 implements MigrationInterface {
  name = 'Federation1764300300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE federation_relationships (
      trust_domain text COLLATE "C" PRIMARY KEY,
      profile text NOT NULL CHECK (profile IN ('https_spiffe', 'https_web', 'static')),
      endpoint_urls text[] NOT NULL DEFAULT '{}',
      endpoint_spiffe_id text,
      bootstrap_bundle text,
      ca_roots_pem text,
      denied_authorities text[] NOT NULL DEFAULT '{}',
      source text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'config')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);

    await q.query(`CREATE TABLE federation_bundles (
      trust_domain text COLLATE "C" PRIMARY KEY REFERENCES federation_relationships (trust_domain) ON DELETE CASCADE,
      document text,
      sequence numeric(20, 0),
      refresh_hint integer,
      fetched_at timestamptz,
      last_success_at timestamptz,
      last_failure_at timestamptz,
      last_error text,
      last_error_reason text,
      consecutive_failures integer NOT NULL DEFAULT 0,
      polls bigint NOT NULL DEFAULT 0,
      skipped jsonb NOT NULL DEFAULT '[]'::jsonb,
      warning text,
      polled_by text,
      next_poll_at timestamptz,
      refresh_requested bigint NOT NULL DEFAULT 0,
      refresh_done bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);

    await q.query(`CREATE TABLE federation_own_bundle (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      trust_domain text NOT NULL,
      document text NOT NULL,
      sequence numeric(20, 0) NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS federation_own_bundle');
    await q.query('DROP TABLE IF EXISTS federation_bundles');
    await q.query('DROP TABLE IF EXISTS federation_relationships');
  }
}
