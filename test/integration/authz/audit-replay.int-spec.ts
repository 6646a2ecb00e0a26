/**
 * Replaying the audit spool into a real PostgreSQL writes each entry once: a spool replayed
 * again (a crash after the INSERTs, before the file was emptied) adds no row, and neither does
 * an entry handed to the writer twice. The "database that is away" is a real pool on a port
 * where nothing listens.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { AuditSpool, AuditWriter, type AuditDatabase, type AuditSettings } from '../../../src/authz/audit';
import type { AuditRecord } from '../../../src/authz/ports';
import { freePort } from '../../../src/common/net';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { createTestDatabase } from '../../support/pg';

jest.setTimeout(60_000);

const SETTINGS: AuditSettings = { queueSize: 100, batchSize: 7, flushInterval: 20, retention: 36_500 * 86_400_000, sweepInterval: 3_600_000, log: 'none' };
const N = 40;

function decision(i: number): AuditRecord {
  const method = '/parley.store.v1.StoreService/Pull';
  return { at: new Date(), spiffeId: `spiffe://partner.test/w/${i}`, trustDomain: 'partner.test', sourceAddress: '192.0.2.1', method, decision: 'deny', reason: `#${i}` };
}

async function metric(registry: Registry, name: string, reason?: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => reason === undefined || v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
}

async function until(probe: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('audit spool replay into PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let away: Pool;
  let dir: string;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    database = await createTestDatabase('replay');
    ds = await connectDataSource(database.url, { url: undefined, migrationsRun: true, poolSize: 2, connectTimeoutMs: 1000, embedded: { port: 0, startTimeoutMs: 30_000 } });
    await runMigrations(ds);
    away = new Pool({ connectionString: `postgres://parley@127.0.0.1:${await freePort()}/none`, connectionTimeoutMillis: 500 });
    away.on('error', () => undefined);
    dir = mkdtempSync(join(tmpdir(), 'parley-audit-replay-'));
  });
  afterAll(async () => {
    await away?.end();
    if (ds?.isInitialized) await ds.destroy();
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function writerOn(db: AuditDatabase) {
    const metrics = new Registry();
    const spool = await AuditSpool.open({ dir, maxBytes: 1 << 20, logger, metrics });
    const writer = new AuditWriter({ db, config: SETTINGS, logger, metrics, spool, retryMinMs: 20, retryMaxMs: 100, stopTimeoutMs: 2000 });
    writer.start();
    return { writer, metrics, spool: spool! };
  }
  const rows = async () => (await ds.query('SELECT count(*)::int AS n, count(DISTINCT entry_id)::int AS ids FROM authz_audit'))[0] as { n: number; ids: number };

  it('a spool replayed a second time (a crash before it was emptied) adds no row', async () => {
    const down = await writerOn({ query: async (sql, params) => (await away.query(sql, params as unknown[])).rows });
    for (let i = 0; i < N; i++) down.writer.record(decision(i));
    await down.writer.stop();
    expect(await metric(down.metrics, 'parley_authz_audit_spooled_total')).toBe(N);
    const spoolPath = down.spool.path;
    const crashCopy = readFileSync(spoolPath);

    const up = await writerOn(ds);
    await until(() => !up.writer.spooling, 10_000);
    expect(await rows()).toEqual({ n: N, ids: N });
    expect(await metric(up.metrics, 'parley_authz_audit_replayed_total')).toBe(N);
    await up.writer.stop();

    // The crash: every INSERT committed, the file was not yet emptied.
    writeFileSync(spoolPath, crashCopy);
    const again = await writerOn(ds);
    await until(() => !again.writer.spooling, 10_000);
    expect(await rows()).toEqual({ n: N, ids: N });
    expect(await metric(again.metrics, 'parley_authz_audit_duplicates_total')).toBe(N);
    expect(await metric(again.metrics, 'parley_authz_audit_replayed_total')).toBe(0);
    expect(await metric(again.metrics, 'parley_authz_audit_dropped_total')).toBe(0);
    await again.writer.stop();
  });

  it('an entry handed over twice (same entry id, same batch or not) is one row; rows from before entry ids never conflict', async () => {
    await ds.query(`INSERT INTO authz_audit (at, spiffe_id, trust_domain, source_address, method, decision, reason)
      VALUES (now(), 'spiffe://old.test/a', 'old.test', '::1', '/x.Y/Z', 'deny', 'legacy'), (now(), 'spiffe://old.test/b', 'old.test', '::1', '/x.Y/Z', 'deny', 'legacy')`);
    const before = (await rows()).n;
    const { writer, metrics } = await writerOn(ds);
    const once = { ...decision(1000), entryId: '01900000-0000-7000-8000-000000000001' };
    writer.record(once);
    writer.record(once);
    await writer.flush();
    writer.record(once);
    await writer.flush();
    expect((await rows()).n).toBe(before + 1);
    expect(await metric(metrics, 'parley_authz_audit_written_total')).toBe(1);
    expect(await metric(metrics, 'parley_authz_audit_duplicates_total')).toBe(2);
    expect(await metric(metrics, 'parley_authz_audit_dropped_total')).toBe(0);
    await writer.stop();
  });
});
