/** The audit writer with a spool (a real file): nothing is lost while the database is away, each entry is written once. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { AuditRecord } from '../ports';
import { AuditSpool } from './audit-spool';
import { AuditWriter, type AuditSettings } from './audit-writer';
import { entryIdAt } from './domain/entry-id';
import { auditColumns } from '../../../test/support/audit-columns';

const SETTINGS: AuditSettings = { queueSize: 10, batchSize: 4, flushInterval: 10, retention: 86_400_000, sweepInterval: 3_600_000, log: 'none' };

function entry(i: number): AuditRecord {
  return { at: new Date(1_700_000_000_000 + i), spiffeId: `spiffe://p.test/w/${i}`, trustDomain: 'p.test', sourceAddress: '127.0.0.1', method: '/x.Y/Z', decision: 'deny', reason: `r${i}` };
}
const names = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `spiffe://p.test/w/${from + k}`);

/** A database double: keeps each INSERT's rows, skipping entry ids it holds (as the unique index does); fails while `down`. */
class FakeDb {
  rows: string[] = [];
  ids = new Set<string>();
  down: Error | undefined = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  async query(sql: string, params: unknown[] = []): Promise<unknown> {
    await new Promise((r) => setImmediate(r));
    if (this.down) throw this.down;
    if (!sql.includes('INSERT INTO authz_audit')) return [];
    let n = 0;
    (auditColumns(params).entry_id as string[]).forEach((id, i) => {
      if (this.ids.has(id)) return;
      this.ids.add(id);
      this.rows.push((auditColumns(params).spiffe_id as string[])[i]!);
      n++;
    });
    return [{ n }];
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function values(registry: Registry, name: string): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric(name)!.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.reason ?? 'value'), v.value]));
}

describe('AuditWriter with a spool', () => {
  let dir: string;
  const lines: Array<{ level: number; msg: string; dropped?: number }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const writers: AuditWriter[] = [];

  async function setup(db: FakeDb, maxBytes = 1 << 20) {
    const metrics = new Registry();
    const spool = await AuditSpool.open({ dir, maxBytes, logger, metrics });
    const writer = new AuditWriter({ db, config: SETTINGS, logger, metrics, spool, retryMinMs: 10, retryMaxMs: 40, stopTimeoutMs: 500 });
    writers.push(writer);
    writer.start();
    return { writer, metrics, spool: spool! };
  }
  /** Records entries from..to-1, five at a time, waiting until each five left memory (so the small queue never overflows). */
  async function recordInFives(writer: AuditWriter, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i += 5) {
      for (let k = i; k < Math.min(i + 5, to); k++) writer.record(entry(k));
      await until(() => writer.queued === 0);
    }
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-backlog-'));
    lines.length = 0;
  });
  afterEach(async () => {
    for (const w of writers.splice(0)) await w.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves the queue to disk during an outage (4x the queue, none dropped) and replays it in order when the database is back', async () => {
    const db = new FakeDb();
    const { writer, metrics, spool } = await setup(db);
    await recordInFives(writer, 0, 40);
    expect(writer.failing).toBe(true);
    expect(writer.droppedCount).toBe(0);
    expect(await values(metrics, 'parley_authz_audit_spooled_total')).toEqual({ value: 40 });
    expect(spool.bytes).toBeGreaterThan(0);
    db.down = undefined;
    await until(() => !writer.spooling && !writer.failing);
    writer.record(entry(40));
    await writer.flush();
    expect(db.rows).toEqual(names(0, 41));
    expect(spool.bytes).toBe(0);
    expect(await values(metrics, 'parley_authz_audit_replayed_total')).toEqual({ value: 40 });
    expect(await values(metrics, 'parley_authz_audit_written_total')).toEqual({ value: 41 });
    expect(lines.find((l) => l.msg === 'audit spool: replayed into the database')).toMatchObject({ replayed: 40 });
  });

  it('spools at stop what the database did not take; the next writer on the directory writes it', async () => {
    const db = new FakeDb();
    const first = await setup(db);
    for (let i = 0; i < 6; i++) first.writer.record(entry(i));
    await first.writer.stop();
    expect(first.writer.droppedCount).toBe(0);
    expect(await values(first.metrics, 'parley_authz_audit_dropped_total')).toMatchObject({ shutdown: 0, spool_full: 0, queue_full: 0 });
    db.down = undefined;
    const second = await setup(db);
    expect(second.spool.path).toBe(first.spool.path);
    await until(() => db.rows.length === 6);
    expect(db.rows).toEqual(names(0, 6));
  });

  it('spools at stop what is still in memory during a known outage (below the size that moves it early)', async () => {
    const db = new FakeDb();
    const first = await setup(db);
    first.writer.record(entry(0));
    await until(() => first.writer.failing && first.writer.queued === 0);
    for (let i = 1; i < 4; i++) first.writer.record(entry(i));
    expect(first.writer.queued).toBe(3);
    await first.writer.stop();
    expect(first.writer.droppedCount).toBe(0);
    expect(await values(first.metrics, 'parley_authz_audit_spooled_total')).toEqual({ value: 4 });
    db.down = undefined;
    await setup(db);
    await until(() => db.rows.length === 4);
    expect(db.rows).toEqual(names(0, 4));
  });

  it('a replay after a crash mid-replay writes each entry once (the database skips the ids it holds)', async () => {
    const db = new FakeDb();
    const first = await setup(db);
    const ids = Array.from({ length: 8 }, (_, i) => entryIdAt(1_700_000_000_000 + i));
    for (let i = 0; i < 8; i++) first.writer.record({ ...entry(i), entryId: ids[i] });
    await first.writer.stop();
    // The crash: the first five were inserted, the spool was not yet emptied.
    db.down = undefined;
    for (let i = 0; i < 5; i++) {
      db.ids.add(ids[i]!);
      db.rows.push(`spiffe://p.test/w/${i}`);
    }
    const second = await setup(db);
    await until(() => !second.writer.spooling);
    expect(db.rows).toEqual(names(0, 8));
    expect(await values(second.metrics, 'parley_authz_audit_duplicates_total')).toEqual({ value: 5 });
    expect(await values(second.metrics, 'parley_authz_audit_replayed_total')).toEqual({ value: 3 });
  });

  it('past its bound drops, counts and logs at error (once per episode, with the total when the spool is written)', async () => {
    const db = new FakeDb();
    const line = 230;
    const { writer, metrics, spool } = await setup(db, 3 * line);
    await recordInFives(writer, 0, 10);
    const stored = (await values(metrics, 'parley_authz_audit_spooled_total')).value!;
    // Every line here has the same length: the spool holds as many as fit, the next would not.
    const lineBytes = spool.bytes / stored;
    expect(stored).toBe(Math.floor((3 * line) / lineBytes));
    expect(stored).toBeLessThan(10);
    expect(spool.bytes + lineBytes).toBeGreaterThan(3 * line);
    expect(await values(metrics, 'parley_authz_audit_dropped_total')).toMatchObject({ spool_full: 10 - stored, queue_full: 0 });
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.map((l) => l.msg)).toEqual(['audit spool: full (authz.audit.spoolMaxBytes); new audit entries are dropped']);
    db.down = undefined;
    await until(() => !writer.spooling);
    expect(db.rows).toEqual(names(0, stored));
    expect(lines.filter((l) => l.level === 50).map((l) => [l.msg, l.dropped])).toEqual([
      ['audit spool: full (authz.audit.spoolMaxBytes); new audit entries are dropped', errors[0]!.dropped],
      ['audit spool: entries were dropped while the spool was full', 10 - stored],
    ]);
  });

  it('keeps an entry id the caller made, and makes one for entries without (or with a malformed one)', async () => {
    const db = new FakeDb();
    db.down = undefined;
    const { writer } = await setup(db);
    const given = entryIdAt(1_700_000_000_000);
    writer.record({ ...entry(1), entryId: given });
    writer.record({ ...entry(2), entryId: given });
    writer.record({ ...entry(3), entryId: 'NOT-A-UUID' });
    writer.record(entry(4));
    await writer.flush();
    expect(db.rows).toEqual(names(1, 2).concat(names(3, 5)));
    expect([...db.ids][0]).toBe(given);
  });
});
