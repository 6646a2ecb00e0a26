/**
 * The data directory of the embedded PostgreSQL is locked by the live gateway: a second
 * `parley serve` and a `parley migrate` on it exit non-zero naming the holder's pid and leave
 * the running gateway (and its PostgreSQL) untouched; a stale lock of a dead process is
 * recovered.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/ports';
import { httpGet, runParley, runParleyToEnd, stopAllParley, waitForReady } from '../../support/parley-process';

jest.setTimeout(180_000);

describe('the embedded data directory lock', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-lock-'));
  chmodSync(cwd, 0o755); // the postgres user must be able to reach .parley/
  const postgresDir = join(cwd, '.parley', 'postgres');
  const lockFile = join(postgresDir, 'parley.lock');
  const postmasterPid = (): number => Number(readFileSync(join(postgresDir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
  afterEach(() => stopAllParley());
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  /** `parley serve` on free ports; resolves once ready. */
  async function serve() {
    const opsPort = await freePort();
    const proc = runParley(['serve'], { cwd, env: { PARLEY_OPS_PORT: String(opsPort), PARLEY_GRPC_PORT: String(await freePort()) } });
    await waitForReady(`http://127.0.0.1:${opsPort}`, 60_000, proc);
    return { proc, ops: `http://127.0.0.1:${opsPort}` };
  }

  it('refuses a second serve and a migrate on a data directory in use, naming the holder; the first keeps serving', async () => {
    const first = await serve();
    const holder = first.proc.child.pid!;
    const postgres = postmasterPid();
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: holder, hostname: hostname() });

    const second = await runParleyToEnd(['serve'], { cwd, env: { PARLEY_OPS_PORT: String(await freePort()) }, timeoutMs: 60_000 });
    expect(second.code).toBe(1);
    expect(second.output).toContain(`embedded database: data directory ${postgresDir} is in use by process ${holder} on host ${hostname()}`);
    const migrate = await runParleyToEnd(['migrate'], { cwd, timeoutMs: 60_000 });
    expect(migrate.code).toBe(1);
    expect(migrate.output).toMatch(new RegExp(`^parley: embedded database: data directory \\S+ is in use by process ${holder} on host `));

    // The running gateway and its PostgreSQL were not disturbed.
    expect(postmasterPid()).toBe(postgres);
    expect(() => process.kill(postgres, 0)).not.toThrow();
    expect((await httpGet(`${first.ops}/readyz`)).status).toBe(200);
    expect(first.proc.output()).not.toContain('postgres exited unexpectedly');

    expect((await first.proc.stop('SIGINT')).code).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('recovers the stale lock of a process that is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    expect(() => process.kill(deadPid, 0)).toThrow();
    mkdirSync(postgresDir, { recursive: true });
    writeFileSync(lockFile, `${JSON.stringify({ pid: deadPid, hostname: hostname(), since: '2026-01-01T00:00:00.000Z' })}\n`);

    const next = await serve();
    expect(next.proc.output()).toContain(`recovered the stale lock of process ${deadPid} on host ${hostname()} (since 2026-01-01T00:00:00.000Z): process ${deadPid} is gone`);
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: next.proc.child.pid });
    expect((await next.proc.stop('SIGINT')).code).toBe(0);
  });

  it('refuses, naming the file, when the lock cannot be read', async () => {
    mkdirSync(postgresDir, { recursive: true });
    writeFileSync(lockFile, 'not a lock\n');
    const run = await runParleyToEnd(['migrate'], { cwd, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.output).toBe(`parley: embedded database: data directory ${postgresDir}: the lock file ${lockFile} cannot be read; remove it if no parley process uses this directory\n`);
    rmSync(lockFile);
  });
});
