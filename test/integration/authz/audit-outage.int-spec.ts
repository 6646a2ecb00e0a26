import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { AuditWriter } from '../../../src/authz/audit';
import type { AuditRecord } from '../../../src/authz/ports';
import { freePort } from '../../../src/common/net';
import { connectDataSource, runMigrations } from '../../../src/database/data-source';
import { EmbeddedPostgres } from '../../../src/database/embedded-postgres';

jest.setTimeout(60_000);

const QUEUE = 40;

function decision(i: number): AuditRecord {
  return { at: new Date(), spiffeId: `spiffe://partner.test/w/${i}`, trustDomain: 'partner.test', sourceAddress: '192.0.2.1', method: '/parley.store.v1.StoreService/Pull', decision: 'deny', reason: `outage #${i}` };
}

async function metric(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
}

/** Polls `probe` until it returns true, at most `ms`. */
async function waitFor(probe: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('audit writer: the database goes away and comes back', () => {
  let dir: string;
  let pg: EmbeddedPostgres;
  let ds: DataSource;
  let writer: AuditWriter;
  const metrics = new Registry();
  const logLines: Array<{ level: number; msg: string }> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-audit-pg-'));
    chmodSync(dir, 0o755);
    pg = new EmbeddedPostgres({ dir: join(dir, 'postgres'), port: await freePort(), startTimeoutMs: 30_000 });
    const url = await pg.start();
    ds = await connectDataSource(url, { url: undefined, migrationsRun: true, poolSize: 2, connectTimeoutMs: 1000, embedded: { port: 0, startTimeoutMs: 30_000 } });
    await runMigrations(ds);
    const logger = pino({ level: 'info' }, { write: (s: string) => logLines.push(JSON.parse(s)) });
    writer = new AuditWriter({
      db: ds,
      // Its own sweep must not take the old rows of the retention test.
      config: { queueSize: QUEUE, batchSize: 8, flushInterval: 20, retention: 36_500 * 86_400_000, sweepInterval: 3_600_000, log: 'none' },
      logger,
      metrics,
      retryMinMs: 50,
      retryMaxMs: 500,
    });
    writer.start();
  });

  afterAll(async () => {
    await writer?.stop();
    if (ds?.isInitialized) await ds.destroy();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const rows = async (): Promise<number> => Number((await ds.query('SELECT count(*) AS n FROM authz_audit'))[0].n);

  it('keeps record() immediate and bounded while PostgreSQL is down, then writes the kept entries', async () => {
    for (let i = 0; i < 5; i++) writer.record(decision(i));
    await waitFor(async () => (await rows()) === 5, 5000);

    await pg.stop();
    const overflow = QUEUE * 3;
    const started = performance.now();
    for (let i = 5; i < 5 + overflow; i++) writer.record(decision(i));
    const elapsedMs = performance.now() - started;
    // 120 calls, none waiting on the database (each is a push into memory).
    expect(elapsedMs).toBeLessThan(250);
    await waitFor(() => writer.failing, 5000);
    // Retries keep failing; the bound holds: QUEUE kept, the rest dropped and counted.
    await waitFor(async () => (await metric(metrics, 'parley_authz_audit_write_failures_total')) >= 3, 10_000);
    expect(writer.queued).toBe(QUEUE);
    expect(await metric(metrics, 'parley_authz_audit_queue_depth')).toBe(QUEUE);
    expect(await metric(metrics, 'parley_authz_audit_dropped_total')).toBe(overflow - QUEUE);
    const t = performance.now();
    writer.record(decision(9999));
    expect(performance.now() - t).toBeLessThan(50);
    expect(await metric(metrics, 'parley_authz_audit_dropped_total')).toBe(overflow - QUEUE + 1);

    await pg.start();
    await waitFor(async () => !writer.failing && writer.queued === 0, 20_000);
    expect(await rows()).toBe(5 + QUEUE);
    // The kept entries are the oldest of the outage, in order.
    const reasons: Array<{ reason: string }> = await ds.query('SELECT reason FROM authz_audit ORDER BY id');
    expect(reasons.map((r) => r.reason)).toEqual(Array.from({ length: 5 + QUEUE }, (_, i) => `outage #${i}`));
    expect(await metric(metrics, 'parley_authz_audit_written_total')).toBe(5 + QUEUE);
    expect(logLines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringContaining('cannot write to the database')]);
    expect(logLines.filter((l) => l.msg === 'audit: writing to the database again')).toHaveLength(1);
  });

  it('deletes entries older than the retention in bounded batches', async () => {
    await ds.query(
      `INSERT INTO authz_audit (at, spiffe_id, trust_domain, source_address, method, decision, reason)
       SELECT now() - interval '2 days' - g * interval '1 second', 'spiffe://old.test/w', 'old.test', '10.0.0.1', '/x.Y/Z', 'allow', 'old' FROM generate_series(1, 1200) g`,
    );
    const sweeper = new AuditWriter({
      db: ds,
      config: { queueSize: 10, batchSize: 10, flushInterval: 1000, retention: 86_400_000, sweepInterval: 3_600_000, log: 'none' },
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      sweepBatchSize: 500,
    });
    expect(await sweeper.sweep()).toBe(1200);
    expect(await rows()).toBe(5 + QUEUE);
    expect(await sweeper.sweep()).toBe(0);
    await sweeper.stop();
  });
});
