import pino from 'pino';
import { Registry } from 'prom-client';
import type { AuditRecord } from '../ports';
import { AuditWriter, type AuditSettings } from './audit-writer';
import { auditColumns } from '../../../test/support/audit-columns';

const SETTINGS: AuditSettings = { queueSize: 10, batchSize: 4, flushInterval: 10, retention: 86_400_000, sweepInterval: 3_600_000, log: 'none' };

function entry(i: number, decision: 'allow' | 'deny' = 'deny'): AuditRecord {
  return { at: new Date(1_700_000_000_000 + i), spiffeId: `spiffe://p.test/w/${i}`, trustDomain: 'p.test', sourceAddress: '127.0.0.1', method: '/x.Y/Z', decision, reason: `r${i}` };
}

/** A database double: records each INSERT's spiffe_id column, skipping entry ids it holds (as the unique index does); fails while `down`. */
class FakeDb {
  inserts: string[][] = [];
  ids = new Set<string>();
  down: Error | undefined;
  async query(sql: string, params: unknown[] = []): Promise<unknown> {
    await new Promise((r) => setImmediate(r));
    if (this.down) throw this.down;
    if (!sql.includes('INSERT INTO authz_audit')) return [];
    const fresh = (auditColumns(params).entry_id as string[]).map((id) => !this.ids.has(id) && this.ids.add(id) !== undefined);
    this.inserts.push((auditColumns(params).spiffe_id as string[]).filter((_, i) => fresh[i]));
    return [{ n: fresh.filter(Boolean).length }];
  }
  get rows(): string[] {
    return this.inserts.flat();
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function metric(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
}

function setup(settings: Partial<AuditSettings> = {}, logger = pino({ level: 'silent' })) {
  const db = new FakeDb();
  const metrics = new Registry();
  const writer = new AuditWriter({ db, config: { ...SETTINGS, ...settings }, logger, metrics, retryMinMs: 10, retryMaxMs: 40, stopTimeoutMs: 500 });
  return { db, metrics, writer };
}

describe('AuditWriter', () => {
  it('writes in batches of at most batchSize, one INSERT each, in record order', async () => {
    const { db, metrics, writer } = setup();
    writer.start();
    for (let i = 0; i < 10; i++) writer.record(entry(i));
    await until(() => db.rows.length === 10);
    expect(db.inserts.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(db.rows).toEqual(Array.from({ length: 10 }, (_, i) => `spiffe://p.test/w/${i}`));
    expect(await metric(metrics, 'parley_authz_audit_written_total')).toBe(10);
    expect(await metric(metrics, 'parley_authz_audit_queue_depth')).toBe(0);
    await writer.stop();
  });

  it('drops and counts what does not fit in the queue; record stays synchronous', () => {
    const { metrics, writer } = setup();
    for (let i = 0; i < 25; i++) expect(writer.record(entry(i))).toBeUndefined();
    expect(writer.queued).toBe(10);
    expect(writer.droppedCount).toBe(15);
    return expect(metric(metrics, 'parley_authz_audit_dropped_total')).resolves.toBe(15);
  });

  it('keeps the batch during an outage, warns once, retries, and says when it resumes', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const { db, metrics, writer } = setup({}, logger);
    db.down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    writer.start();
    for (let i = 0; i < 12; i++) writer.record(entry(i));
    await until(() => writer.failing);
    await new Promise((r) => setTimeout(r, 150));
    expect(await metric(metrics, 'parley_authz_audit_write_failures_total')).toBeGreaterThan(2);
    expect(writer.queued).toBe(10);
    expect(writer.droppedCount).toBe(2);
    db.down = undefined;
    await until(() => db.rows.length === 10);
    expect(db.rows[0]).toBe('spiffe://p.test/w/0');
    await until(() => !writer.failing);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].msg).toContain('cannot write to the database');
    expect(lines.filter((l) => l.msg === 'audit: writing to the database again')).toHaveLength(1);
    await writer.stop();
  });

  it('drops a batch the database refuses as bad data instead of retrying it forever', async () => {
    const { db, metrics, writer } = setup();
    db.down = Object.assign(new Error('invalid byte sequence'), { code: '22021' });
    writer.start();
    writer.record(entry(1));
    await until(() => writer.droppedCount === 1);
    db.down = undefined;
    writer.record(entry(2));
    await until(() => db.rows.length === 1);
    const dropped = await registryValues(metrics, 'parley_authz_audit_dropped_total');
    expect(dropped).toMatchObject({ rejected: 1, queue_full: 0 });
    await writer.stop();
  });

  it('stop() writes what is queued; with the database down it gives up in bounded time and counts the loss', async () => {
    const ok = setup({ flushInterval: 60_000 });
    ok.writer.start();
    for (let i = 0; i < 6; i++) ok.writer.record(entry(i));
    await ok.writer.stop();
    expect(ok.db.rows).toHaveLength(6);

    const down = setup();
    down.db.down = new Error('gone');
    down.writer.start();
    for (let i = 0; i < 3; i++) down.writer.record(entry(i));
    const started = Date.now();
    await down.writer.stop();
    expect(Date.now() - started).toBeLessThan(1500);
    expect(down.writer.droppedCount).toBe(3);
    expect(await registryValues(down.metrics, 'parley_authz_audit_dropped_total')).toMatchObject({ shutdown: 3 });
    down.writer.record(entry(9));
    expect(down.writer.droppedCount).toBe(4);
  });

  it('never throws from record(), whatever it is given', () => {
    const logger = pino({ level: 'info' });
    logger.info = () => {
      throw new Error('logger broke');
    };
    const { writer } = setup({ log: 'all' }, logger);
    expect(() => writer.record(entry(1))).not.toThrow();
    expect(() => writer.record(null as unknown as AuditRecord)).not.toThrow();
    expect(writer.queued).toBe(1);
  });

  it.each([
    ['deny', { deny: 30, allow: 20 }],
    ['all', { deny: 30, allow: 30 }],
    ['none', { deny: undefined, allow: undefined }],
  ] as const)('logs decisions per log mode %s (level of the deny and allow lines)', (mode, expected) => {
    const lines: Array<{ level: number; msg: string; spiffeId: string }> = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const { writer } = setup({ log: mode }, logger);
    writer.record(entry(1, 'deny'));
    writer.record(entry(2, 'allow'));
    const levelOf = (msg: string) => lines.find((l) => l.msg === msg)?.level;
    expect({ deny: levelOf('authorization denied'), allow: levelOf('authorization allowed') }).toEqual(expected);
    if (mode !== 'none') expect(lines[0]).toMatchObject({ spiffeId: 'spiffe://p.test/w/1', method: '/x.Y/Z', reason: 'r1' });
  });

  it('cleans rows so the database accepts them (NUL bytes, huge text, bad dates)', async () => {
    const { db, writer } = setup();
    const params: unknown[][] = [];
    const query = db.query.bind(db);
    db.query = async (sql, p = []) => {
      params.push(p);
      return query(sql, p);
    };
    writer.record({ ...entry(1), at: new Date(Number.NaN), method: `/a\u0000b/${'m'.repeat(10_000)}`, dryRunDenied: ['d1', 'd2'], namespace: '' });
    await writer.flush();
    const { at, method, namespace, decision, dry_run_denied: dry } = auditColumns(params[0]!) as Record<string, string[]>;
    expect(Number.isNaN(Date.parse(at[0]))).toBe(false);
    expect(method[0]).toHaveLength(4096);
    expect(method[0].slice(0, 4)).toBe('/a\uFFFDb');
    expect(namespace[0]).toBeNull();
    expect(decision[0]).toBe('deny');
    expect(dry[0]).toBe('["d1","d2"]');
  });
});

async function registryValues(registry: Registry, name: string): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric(name)!.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.reason), v.value]));
}
