import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Authorization rules (authz_rules) and the policy version (authz_policy_version).
 *
 * One row per rule; `position` orders the rules (the reported deciding rule is the first
 * matching one in this order) and `rule` holds the rule as JSON, `expiresAt` as an RFC 3339
 * string. `source` says where a rule comes from: `seed` (this migration), `api` (the admin
 * API or CLI) or `config` (authz.policy.rules; read-only through the API). The single row of
 * authz_policy_version is bumped by every change, in the changing transaction, which also
 * sends NOTIFY parley_authz_policy with the new version.
 *
 * The seed is the default policy of the Directory trust model, written with the trust-domain
 * keywords so it needs no name: the own trust domain may call everything, federated trust
 * domains the read-only store methods and the sync credential request. Its values are fixed
 * here on purpose: a migration never changes with later code.
 */
export class Policies1764300100000 implements MigrationInterface {
  name = 'Policies1764300100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE authz_rules (
      id text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
      position integer NOT NULL CHECK (position >= 0),
      rule jsonb NOT NULL CHECK (jsonb_typeof(rule) = 'object' AND rule ->> 'id' = id),
      source text NOT NULL CHECK (source IN ('seed', 'api', 'config')),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- Deferred so a write can renumber positions in any order within its transaction.
      CONSTRAINT authz_rules_position_key UNIQUE (position) DEFERRABLE INITIALLY DEFERRED
    )`);
    await q.query(`CREATE TABLE authz_policy_version (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      version bigint NOT NULL CHECK (version > 0),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`INSERT INTO authz_policy_version (singleton, version) VALUES (true, 1)`);
    const seed = [
      {
        id: 'default-own',
        effect: 'allow',
        subjects: [{ trustDomain: 'own' }],
        methods: ['*'],
        description: 'own trust domain: every method',
      },
      {
        id: 'default-federated',
        effect: 'allow',
        subjects: [{ trustDomain: 'federated' }],
        methods: [
          '/parley.store.v1.StoreService/Pull',
          '/parley.store.v1.StoreService/Lookup',
          '/parley.store.v1.StoreService/PullReferrer',
          '/parley.sync.v1.SyncService/RequestRegistryCredentials',
        ],
        description: 'federated trust domains: read-only store access and sync credentials',
      },
    ];
    for (const [position, rule] of seed.entries()) {
      await q.query(`INSERT INTO authz_rules (id, position, rule, source, created_by) VALUES ($1, $2, $3::jsonb, 'seed', 'migration')`, [
        rule.id,
        position,
        JSON.stringify(rule),
      ]);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS authz_policy_version');
    await q.query('DROP TABLE IF EXISTS authz_rules');
  }
}
