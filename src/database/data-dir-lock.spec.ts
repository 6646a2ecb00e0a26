import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParleyError } from '../common/errors';
import { DataDirLock } from './data-dir-lock';

/** Start ticks of a live process as /proc tells them. */
function ticksOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

function refusal(run: () => unknown): ParleyError {
  try {
    run();
  } catch (err) {
    if (err instanceof ParleyError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('DataDirLock', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-lock-unit-'));
    path = join(dir, 'parley.lock');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes who holds it and removes the file on release (twice is harmless)', () => {
    const lock = DataDirLock.acquire(path, 'test dir');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ pid: process.pid, startTicks: ticksOf(process.pid), bootId: expect.stringMatching(/^[0-9a-f-]{36}$/), hostname: hostname(), since: expect.any(String) });
    lock.release();
    lock.release();
    expect(existsSync(path)).toBe(false);
    DataDirLock.acquire(path, 'test dir').release();
  });

  it('refuses a second lock from the same process', () => {
    const lock = DataDirLock.acquire(path, 'test dir');
    const err = refusal(() => DataDirLock.acquire(path, 'test dir'));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toBe(`test dir is in use by this process (lock ${path}); stop that process first or use another dataDir`);
    lock.release();
  });

  it('refuses while another live process holds it, naming that process', () => {
    const holder = { pid: process.ppid, startTicks: ticksOf(process.ppid), hostname: 'node-1', since: '2026-12-03T08:00:00.000Z' };
    writeFileSync(path, JSON.stringify(holder));
    const err = refusal(() => DataDirLock.acquire(path, 'test dir'));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toBe(`test dir is in use by process ${process.ppid} on host node-1 (since 2026-12-03T08:00:00.000Z) (lock ${path}); stop that process first or use another dataDir`);
    expect(err.details.holderPid).toBe(process.ppid);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(holder);
  });

  it.each([
    ['a dead pid', () => ({ pid: deadPid() }), (pid: number) => `process ${pid} is gone`],
    ['a pid now used by another process', () => ({ pid: process.ppid, startTicks: '1' }), (pid: number) => `process ${pid} is another process now (the pid was reused)`],
  ])('recovers the stale lock of %s', (_what, holder, why) => {
    const stale = { ...holder(), hostname: 'node-1', since: '2026-01-01T00:00:00.000Z' };
    writeFileSync(path, JSON.stringify(stale));
    const notices: string[] = [];
    const lock = DataDirLock.acquire(path, 'test dir', (line) => notices.push(line));
    expect(notices).toEqual([`test dir: recovered the stale lock of process ${stale.pid} on host node-1 (since 2026-01-01T00:00:00.000Z): ${why(stale.pid)}`]);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('leaves a lock file alone on release once it names another holder', () => {
    const lock = DataDirLock.acquire(path, 'test dir');
    writeFileSync(path, JSON.stringify({ pid: process.ppid, hostname: 'node-2', since: 'now' }));
    lock.release();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ hostname: 'node-2' });
  });
});
