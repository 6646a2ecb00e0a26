/**
 * The policy store on a real PostgreSQL: the seeded default policy, atomic validated writes,
 * hot reload between two replicas (separate pools and change feeds on one database),
 * config-declared rules, and stored rows that no longer validate.
 */
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { ValidationError } from '../../../src/common/error-mapping';
import { ParleyError } from '../../../src/common/errors';
import { ChangeFeed } from '../../../src/database/change-feed';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { MethodRegistry, type Rule } from '../../../src/authz/domain';
import { PolicyStore } from '../../../src/authz/policy-store';
import { servedMethods } from '../../../src/gateway.module';
import { requireSpiffeId } from '../../../src/spiffe';
import { createTestDatabase } from '../../support/pg';

jest.setTimeout(60_000);

const DB_CONFIG = { url: undefined, migrationsRun: true, poolSize: 4, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } };
const STORE = '/parley.store.v1.StoreService/';
const OWN = 'acme.test';
const SERVED_METHODS = servedMethods().registry.methods();
const registry = new MethodRegistry(SERVED_METHODS);
const actor = { actor: 'spiffe://acme.test/parley/admin' };

interface Replica {
  store: PolicyStore;
  ds: DataSource;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

describe('policy store', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const open: Replica[] = [];

  /** A replica: its own pool, change feed and store (not started when `start` is false). */
  const replica = async (o: { configRules?: unknown[]; start?: boolean } = {}): Promise<Replica> => {
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    const ds = await connectDataSource(db.url, DB_CONFIG);
    const changes = new ChangeFeed({ url: db.url, logger });
    await changes.start();
    const store = new PolicyStore({ dataSource: ds, changes, registry, ownTrustDomain: OWN, logger, ...(o.configRules ? { configRules: o.configRules } : {}) });
    const r: Replica = {
      store,
      ds,
      logs,
      async close() {
        if (!ds.isInitialized) return;
        await store.stop();
        await changes.stop();
        await ds.destroy();
      },
    };
    open.push(r);
    if (o.start !== false) await store.start();
    return r;
  };
  const decide = (store: PolicyStore, id: string, method: string) => store.current().decide({ id: requireSpiffeId(id), method });
  const count = async (ds: DataSource): Promise<{ rules: number; version: number }> => {
    const [row] = (await ds.query('SELECT (SELECT count(*) FROM authz_rules)::int AS rules, (SELECT version FROM authz_policy_version)::int AS version')) as Array<{ rules: number; version: number }>;
    return row!;
  };

  let seed: Array<{ id: string; position: number; rule: unknown }>;
  let admin: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('policy');
    admin = await connectDataSource(db.url, DB_CONFIG);
    await runMigrations(admin);
    seed = (await admin.query('SELECT id, position, rule FROM authz_rules ORDER BY position')) as typeof seed;
  });
  // Every test starts from the seeded policy.
  beforeEach(async () => {
    await admin.query('DELETE FROM authz_rules');
    for (const r of seed) await admin.query(`INSERT INTO authz_rules (id, position, rule, source, created_by) VALUES ($1, $2, $3::jsonb, 'seed', 'migration')`, [r.id, r.position, JSON.stringify(r.rule)]);
    await admin.query('UPDATE authz_policy_version SET version = 1');
  });
  afterEach(async () => {
    while (open.length > 0) await open.pop()!.close();
  });
  afterAll(async () => {
    await admin?.destroy();
    await db?.drop();
  });

  it('starts with the seeded default policy (own: everything; federated: read-only store and sync credentials)', async () => {
    const { store, logs } = await replica();
    expect(store.rules().map((r) => r.id)).toEqual(['default-own', 'default-federated']);
    expect(store.entries().map((e) => [e.id, e.source, e.createdBy])).toEqual([
      ['default-own', 'seed', 'migration'],
      ['default-federated', 'seed', 'migration'],
    ]);
    expect(store.version).toBe(1);
    for (const m of SERVED_METHODS) expect(decide(store, 'spiffe://acme.test/w', m).allowed).toBe(true);
    const partnerAllowed = SERVED_METHODS.filter((m) => decide(store, 'spiffe://partner.test/w', m).allowed);
    expect(partnerAllowed.sort()).toEqual([STORE + 'Lookup', STORE + 'Pull', STORE + 'PullReferrer', '/parley.sync.v1.SyncService/RequestRegistryCredentials']);
    expect(store.status().unreachable).toEqual([]);
    expect(logs.filter((l) => l.unreachable !== undefined)).toEqual([]);
  });

  it('serves every store rpc of the proto, health, reflection and the reserved sync method', () => {
    expect(SERVED_METHODS).toEqual(
      expect.arrayContaining([
        ...['Push', 'Pull', 'Lookup', 'Delete', 'List', 'PushReferrer', 'PullReferrer', 'DeleteReferrer'].map((m) => STORE + m),
        '/grpc.health.v1.Health/Check',
        '/grpc.health.v1.Health/Watch',
        '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
        '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
        '/parley.sync.v1.SyncService/RequestRegistryCredentials',
      ]),
    );
    expect(new Set(SERVED_METHODS).size).toBe(SERVED_METHODS.length);
  });

  it('a change through one replica is in force on the other within a second', async () => {
    const a = await replica();
    const b = await replica();
    const deny: Rule = { id: 'no-partner-lookup', effect: 'deny', subjects: [{ trustDomain: 'partner.test' }], methods: [STORE + 'Lookup'] };
    expect(decide(b.store, 'spiffe://partner.test/w', STORE + 'Lookup').allowed).toBe(true);
    const started = performance.now();
    await a.store.add(deny, actor);
    expect(decide(a.store, 'spiffe://partner.test/w', STORE + 'Lookup').allowed).toBe(false); // the writer reloads before returning
    let elapsed = Infinity;
    for (let i = 0; i < 400; i++) {
      if (b.store.version === a.store.version) {
        elapsed = performance.now() - started;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(elapsed).toBeLessThan(1000);
    if (process.env.TEST_LOG_LEVEL) process.stdout.write(`policy change seen by the other replica after ${elapsed.toFixed(1)} ms\n`);
    expect(decide(b.store, 'spiffe://partner.test/w', STORE + 'Lookup')).toMatchObject({ allowed: false, rule: 'no-partner-lookup' });
    await b.store.remove('no-partner-lookup', actor);
    for (let i = 0; i < 400 && a.store.version !== b.store.version; i++) await new Promise((r) => setTimeout(r, 5));
    expect(decide(a.store, 'spiffe://partner.test/w', STORE + 'Lookup').allowed).toBe(true);
  });

  it('refuses invalid changes with field errors and changes nothing', async () => {
    const { store, ds } = await replica();
    const before = await count(ds);
    const ok: Rule = { id: 'r', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [STORE + 'List'] };
    const cases: Array<[string, Rule, string]> = [
      ['unknown method', { ...ok, methods: [STORE + 'List', STORE + 'Nope'] }, 'methods[1]'],
      ['malformed SPIFFE ID', { ...ok, subjects: [{ spiffeId: 'spiffe://partner.test/a//b' }] }, 'subjects[0].spiffeId'],
      ['bad CIDR', { ...ok, sourceCidrs: ['10.0.0.0/33'] }, 'sourceCidrs[0]'],
      ['duplicate id', { ...ok, id: 'default-own' }, 'id'],
    ];
    for (const [what, rule, field] of cases) {
      const err = await store.add(rule, actor).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect([what, err instanceof ValidationError]).toEqual([what, true]);
      expect([what, (err as ValidationError).fieldErrors.map((f) => f.field)]).toEqual([what, [field]]);
    }
    const err = await store.replaceAll([ok, { ...ok, id: 'r2', methods: ['/nope.Svc/*'] }], actor).catch((e: unknown) => e);
    expect((err as ValidationError).fieldErrors).toEqual([{ field: 'rules[1].methods[0]', message: 'unknown service (not served)' }]);
    expect(await count(ds)).toEqual(before);
    expect(store.rules().map((r) => r.id)).toEqual(['default-own', 'default-federated']);
  });

  it('adds at a position, replaces, removes, replaces all; unknown ids are not_found', async () => {
    const { store } = await replica();
    const r1: Rule = { id: 'first', effect: 'deny', subjects: [{ spiffeIdPrefix: 'spiffe://partner.test/ns/x' }], methods: [STORE + '*'], dryRun: true, expiresAt: new Date('2099-01-01T00:00:00Z') };
    await store.add(r1, { ...actor, position: 0 });
    expect(store.rules().map((r) => r.id)).toEqual(['first', 'default-own', 'default-federated']);
    expect(store.rules()[0]).toEqual(r1);
    await store.update('first', { ...r1, dryRun: false }, actor);
    expect(store.rules()[0]!.dryRun).toBe(false);
    expect(store.entries()[0]).toMatchObject({ id: 'first', position: 0, source: 'api', createdBy: actor.actor });
    await expect(store.update('missing', { ...r1, id: 'missing' }, actor)).rejects.toMatchObject({ code: 'not_found' });
    await expect(store.remove('missing', actor)).rejects.toMatchObject({ code: 'not_found' });
    await store.remove('first', actor);
    await store.replaceAll([{ id: 'only', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['/grpc.health.v1.Health/*'] }], actor);
    expect(store.rules().map((r) => r.id)).toEqual(['only']);
    expect(store.status().unreachable).toContain(STORE + 'Pull');
    expect(decide(store, 'spiffe://acme.test/w', STORE + 'Pull')).toMatchObject({ allowed: false });
    await store.replaceAll([], actor);
    expect(store.status().unreachable).toEqual(registry.methods());
    expect(store.explain({ id: requireSpiffeId('spiffe://acme.test/w'), method: '/grpc.health.v1.Health/Check' })).toMatchObject({ allowed: false, version: store.version });
    // Deleting everything means deny-all; a start says which served methods nobody can reach.
    const restarted = await replica();
    expect(restarted.logs.find((l) => l.level === 40 && Array.isArray(l.unreachable))?.unreachable).toEqual(registry.methods());
  });

  it('writes config-declared rules first, read-only; removes them when the config drops them', async () => {
    const declared = [{ id: 'cfg-deny', effect: 'deny', subjects: [{ trustDomain: 'any' }], methods: [STORE + 'Delete'], expiresAt: '2099-01-01T00:00:00Z' }];
    const { store } = await replica({ configRules: declared });
    expect(store.entries().map((e) => [e.id, e.source])).toEqual([
      ['cfg-deny', 'config'],
      ['default-own', 'seed'],
      ['default-federated', 'seed'],
    ]);
    expect(decide(store, 'spiffe://acme.test/w', STORE + 'Delete')).toMatchObject({ allowed: false, rule: 'cfg-deny' });
    const cfg = store.rules()[0]!;
    await expect(store.update('cfg-deny', { ...cfg, methods: [STORE + 'Push'] }, actor)).rejects.toMatchObject({ code: 'conflict' });
    await expect(store.remove('cfg-deny', actor)).rejects.toMatchObject({ code: 'conflict' });
    await expect(store.add({ ...cfg, id: 'x' }, { ...actor, position: 0 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await store.replaceAll([{ id: 'api-rule', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] }], actor);
    expect(store.rules().map((r) => r.id)).toEqual(['cfg-deny', 'api-rule']);
    const version = store.version;

    // Same config again: nothing is written. Without it: the config rule is gone.
    await (await replica({ configRules: declared })).close();
    const { store: again } = await replica();
    expect(again.version).toBe(version + 1);
    expect(again.entries().map((e) => [e.id, e.source])).toEqual([['api-rule', 'api']]);
  });

  it('refuses to start with an invalid config rule, naming the field', async () => {
    const declared = [
      { id: 'a', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] },
      { id: 'b', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: [STORE + 'Gone'] },
    ];
    const { store, ds } = await replica({ configRules: declared, start: false });
    const before = await count(ds);
    const err = await store.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe('config_invalid');
    expect((err as ParleyError).message).toBe('authz.policy.rules[1].methods[0]: unknown method (not served)');
    expect(await count(ds)).toEqual(before);
    const bad = await replica({ configRules: [{ id: 'c', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'], expiresAt: 'tomorrow' }], start: false });
    await expect(bad.store.start()).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('authz.policy.rules[0].expiresAt: ') });
  });

  it('skips stored rules that no longer validate, never failing open', async () => {
    const { store, ds, logs } = await replica();
    const insert = (id: string, position: number, rule: unknown) =>
      ds.query(`INSERT INTO authz_rules (id, position, rule, source, created_by) VALUES ($1, $2, $3::jsonb, 'api', 'test')`, [id, position, JSON.stringify(rule)]);
    const bump = () => ds.query(`WITH b AS (UPDATE authz_policy_version SET version = version + 1 RETURNING version) SELECT pg_notify('parley_authz_policy', version::text) FROM b`);
    await insert('partial', 10, { id: 'partial', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [STORE + 'Retired', STORE + 'List'] });
    await insert('gone', 11, { id: 'gone', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: ['/parley.old.v1.Old/*'] });
    await insert('broken-allow', 12, { id: 'broken-allow', effect: 'allow', subjects: 'everyone', methods: ['*'] });
    await bump();
    await store.reload();
    expect(store.rules().map((r) => r.id)).toEqual(['default-own', 'default-federated', 'partial']);
    expect(store.rules()[2]!.methods).toEqual([STORE + 'List']);
    expect(decide(store, 'spiffe://partner.test/w', STORE + 'List')).toMatchObject({ allowed: true, rule: 'partial' });
    expect(store.status().problems.map((p) => [p.id, p.field, p.action])).toEqual([
      ['partial', 'methods[0]', 'method dropped'],
      ['gone', 'methods[0]', 'method dropped'],
      ['gone', 'methods', 'rule skipped'],
      ['broken-allow', 'subjects', 'rule skipped'],
    ]);
    expect(logs.some((l) => l.level === 50 && Array.isArray(l.problems))).toBe(true);
    // Stale stored rules do not block other changes (they are out of force already), and can be removed.
    await store.add({ id: 'n', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'] }, actor);
    await expect(store.add({ id: 'm', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: [STORE + 'Retired'] }, actor)).rejects.toMatchObject({ code: 'invalid_argument' });
    await store.remove('gone', actor);
    expect(store.status().problems.map((p) => p.id)).toEqual(['partial', 'broken-allow']);

    // A malformed deny rule cannot be honoured: everything is denied until it is fixed.
    await insert('broken-deny', 13, { id: 'broken-deny', effect: 'deny', subjects: [{ trustDomain: 'partner.test' }], methods: 'all' });
    await bump();
    await store.reload();
    expect(store.status().denyAll).toContain('broken-deny');
    expect(decide(store, 'spiffe://acme.test/w', STORE + 'Pull').allowed).toBe(false);
    await store.remove('broken-deny', actor);
    expect(store.status().denyAll).toBeUndefined();
    expect(decide(store, 'spiffe://acme.test/w', STORE + 'Pull').allowed).toBe(true);
  });

  it('keeps the policy in force when a reload fails', async () => {
    const { store, ds } = await replica();
    const policy = store.current();
    await ds.query('ALTER TABLE authz_rules RENAME TO authz_rules_away');
    try {
      await store.reload();
      expect(store.status().lastError).toBeDefined();
      expect(store.current()).toBe(policy);
    } finally {
      await ds.query('ALTER TABLE authz_rules_away RENAME TO authz_rules');
    }
    await store.reload();
    expect(store.status().lastError).toBeUndefined();
  });
});
