import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AuditSpool } from './audit-spool';
import { entryIdAt } from './domain/entry-id';
import { encodeSpoolLine, type SpooledDecision } from './domain/spool-format';

function decision(i: number): SpooledDecision {
  return {
    entryId: entryIdAt(1_700_000_000_000 + i),
    at: new Date(1_700_000_000_000 + i),
    spiffeId: `spiffe://p.test/w/${i}`,
    trustDomain: 'p.test',
    sourceAddress: '127.0.0.1',
    method: '/x.Y/Z',
    decision: 'deny',
    reason: `r${i}`,
  };
}
const LINE = encodeSpoolLine(decision(0)).length;

describe('AuditSpool (a real file)', () => {
  let dir: string;
  const opened: AuditSpool[] = [];
  const lines: Array<{ level: number; msg: string; problem?: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const open = async (maxBytes = 1 << 20, metrics = new Registry()) => {
    const spool = await AuditSpool.open({ dir, maxBytes, logger, metrics });
    if (spool === undefined) throw new Error('no free slot');
    opened.push(spool);
    return spool;
  };
  const reasons = async (spool: AuditSpool) => (await spool.read(0, 1000)).entries.map((e) => e.reason);

  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'parley-spool-')), 'audit-spool');
    lines.length = 0;
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('appends in order, reads from offsets, and is empty again once cleared', async () => {
    const spool = await open();
    expect(await spool.append([decision(1), decision(2)])).toBe(2);
    expect(await spool.append([decision(3)])).toBe(1);
    expect(spool.bytes).toBe(3 * LINE);
    expect(statSync(spool.path).size).toBe(3 * LINE);
    expect(statSync(spool.path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const first = await spool.read(0, 2);
    expect(first.entries.map((e) => e.reason)).toEqual(['r1', 'r2']);
    expect(first).toMatchObject({ nextOffset: 2 * LINE, atEnd: false });
    const rest = await spool.read(first.nextOffset, 10);
    expect(rest.entries.map((e) => e.reason)).toEqual(['r3']);
    expect(rest).toMatchObject({ nextOffset: 3 * LINE, atEnd: true });
    expect(await spool.clearIfSize(2 * LINE)).toBe(false);
    expect(await spool.clearIfSize(3 * LINE)).toBe(true);
    expect(statSync(spool.path).size).toBe(0);
    expect(await reasons(spool)).toEqual([]);
  });

  it('never grows past maxBytes: stores the entries that fit, in order, and says how many', async () => {
    const metrics = new Registry();
    const spool = await open(3 * LINE + 10, metrics);
    expect(await spool.append([decision(1), decision(2)])).toBe(2);
    expect(await spool.append([decision(3), decision(4), decision(5)])).toBe(1);
    expect(await spool.append([decision(6)])).toBe(0);
    expect(spool.bytes).toBe(3 * LINE);
    expect(await reasons(spool)).toEqual(['r1', 'r2', 'r3']);
    expect((await metrics.getSingleMetric('parley_authz_audit_spooled_total')!.get()).values[0]!.value).toBe(3);
    expect((await metrics.getSingleMetric('parley_authz_audit_spool_bytes')!.get()).values[0]!.value).toBe(3 * LINE);
  });

  it('keeps its entries across a reopen (a restart) and takes over the lock of a process that is gone', async () => {
    const first = await open();
    await first.append([decision(1), decision(2)]);
    await first.close();
    // A crash leaves the lock behind, with a pid that is not alive.
    writeFileSync(join(dir, 'audit-0.lock'), '2147483646\n');
    const again = await open();
    expect(again.path).toBe(join(dir, 'audit-0.spool'));
    expect(await reasons(again)).toEqual(['r1', 'r2']);
    expect(lines.find((l) => l.msg === 'audit spool: taken over from a process that is gone')).toMatchObject({ previousPid: 2147483646 });
  });

  it('gives writers that share a directory different files; a slot held by a live process is not taken', async () => {
    const a = await open();
    const b = await open();
    expect([a.path, b.path]).toEqual([join(dir, 'audit-0.spool'), join(dir, 'audit-1.spool')]);
    await a.append([decision(1)]);
    await b.append([decision(2)]);
    expect([await reasons(a), await reasons(b)]).toEqual([['r1'], ['r2']]);
    await a.close();
    writeFileSync(join(dir, 'audit-0.lock'), `${process.ppid}\n`);
    expect((await open()).path).toBe(join(dir, 'audit-2.spool'));
  });

  it('cuts a torn last line at open with a warning, so the next append is readable', async () => {
    const first = await open();
    await first.append([decision(1), decision(2)]);
    await first.close();
    const path = join(dir, 'audit-0.spool');
    appendFileSync(path, encodeSpoolLine(decision(3)).subarray(0, 30));
    const metrics = new Registry();
    const again = await open(1 << 20, metrics);
    expect(statSync(path).size).toBe(2 * LINE);
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(['audit spool: torn last line skipped (a crash while it was written)']);
    expect((await metrics.getSingleMetric('parley_authz_audit_spool_skipped_lines_total')!.get()).values).toEqual([expect.objectContaining({ labels: { problem: 'torn' }, value: 1 })]);
    await again.append([decision(4)]);
    expect(await reasons(again)).toEqual(['r1', 'r2', 'r4']);
  });

  it('a file that is only a torn line is emptied', async () => {
    const first = await open();
    await first.close();
    writeFileSync(join(dir, 'audit-0.spool'), encodeSpoolLine(decision(1)).subarray(0, 50));
    const again = await open();
    expect(again.bytes).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['audit-0.lock', 'audit-0.spool']);
  });

  it('skips a damaged line in the middle with a warning and reads the rest', async () => {
    const first = await open();
    await first.append([decision(1), decision(2), decision(3)]);
    await first.close();
    const path = join(dir, 'audit-0.spool');
    const bytes = readFileSync(path);
    bytes[LINE + 20] = 0x21;
    writeFileSync(path, bytes);
    const again = await open();
    expect(await reasons(again)).toEqual(['r1', 'r3']);
    expect(lines.find((l) => l.msg === 'audit spool: unreadable lines skipped')).toMatchObject({ problem: 'bad checksum', offset: LINE, lines: 1 });
  });

  it('refuses appends after close; close releases the slot', async () => {
    const spool = await open();
    await spool.close();
    await expect(spool.append([decision(1)])).rejects.toThrow('audit spool: closed');
    expect(readdirSync(dir)).toEqual(['audit-0.spool']);
  });

  it('says which directory it cannot use, as a config error', async () => {
    writeFileSync(join(dir, '..', 'file'), '');
    await expect(AuditSpool.open({ dir: join(dir, '..', 'file', 'spool'), maxBytes: 100, logger, metrics: new Registry() })).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringMatching(/^authz\.audit\.spoolDir: cannot use .*\/file\/spool: ENOTDIR/),
    });
  });
});
