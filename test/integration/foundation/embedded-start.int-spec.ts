import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/ports';
import { httpGet, runParley, runParleyToEnd, stopAllParley, waitForReady } from '../../support/parley-process';
import { parsePrometheusText } from '../../support/prometheus';

jest.setTimeout(120_000);

function startedLine(output: string): { installationId?: string } {
  const line = output.split('\n').find((l) => l.includes('"parley gateway started"'));
  if (!line) throw new Error(`gateway did not log its start:\n${output}`);
  return JSON.parse(line) as { installationId?: string };
}

describe('parley serve on embedded defaults (as `npm start` runs it)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-embedded-'));
  chmodSync(cwd, 0o755); // like a checkout: the postgres user must be able to reach .parley/
  afterEach(() => stopAllParley());
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('becomes ready within 30 s, stops cleanly on Ctrl-C, and a second start reuses the data', async () => {
    const port = await freePort();
    const ops = `http://127.0.0.1:${port}`;
    const env = { PARLEY_OPS_PORT: String(port) };

    const first = runParley(['serve'], { cwd, env });
    const t0 = Date.now();
    await waitForReady(ops, 30_000, first);
    const readyAfterMs = Date.now() - t0;
    expect(readyAfterMs).toBeLessThan(30_000);

    const health = await httpGet(`${ops}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await httpGet(`${ops}/metrics`);
    expect(metrics.status).toBe(200);
    const parsed = parsePrometheusText(metrics.body);
    expect(parsed.types.get('parley_db_pool_connections')).toBe('gauge');
    expect(parsed.samples.find((s) => s.name === 'parley_db_pool_connections' && s.labels.state === 'total')?.value).toBeGreaterThan(0);
    expect(parsed.samples.some((s) => s.name === 'parley_process_resident_memory_bytes')).toBe(true);

    const pgdata = join(cwd, '.parley', 'postgres', 'pgdata');
    expect(existsSync(join(pgdata, 'postmaster.pid'))).toBe(true);
    const pgPid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);

    const stopped = await first.stop('SIGINT');
    expect(stopped).toEqual({ code: 0, signal: null });
    // PostgreSQL removes its pid file only on a clean shutdown, and its process is gone.
    expect(existsSync(join(pgdata, 'postmaster.pid'))).toBe(false);
    expect(() => process.kill(pgPid, 0)).toThrow();
    const firstId = startedLine(first.output()).installationId;
    expect(first.output()).toContain('database migrations applied');
    expect(firstId).toMatch(/^[0-9a-f-]{36}$/);

    const second = runParley(['serve'], { cwd, env });
    await waitForReady(ops, 30_000, second);
    expect((await second.stop('SIGTERM')).code).toBe(0);
    expect(startedLine(second.output()).installationId).toBe(firstId);
    expect(second.output()).not.toContain('database migrations applied');
  });

  it('recovers the embedded server left behind by a gateway killed with -9', async () => {
    const port = await freePort();
    const env = { PARLEY_OPS_PORT: String(port) };
    const killed = runParley(['serve'], { cwd, env });
    await waitForReady(`http://127.0.0.1:${port}`, 30_000, killed);
    await killed.stop('SIGKILL');
    const again = runParley(['serve'], { cwd, env });
    await waitForReady(`http://127.0.0.1:${port}`, 30_000, again);
    // Whether the orphaned server died with its log pipe or was stopped by the new start, the cluster is usable.
    expect((await again.stop('SIGINT')).code).toBe(0);
  });

  it('answers --version and --help with examples', async () => {
    const version = await runParleyToEnd(['--version'], { cwd });
    expect(version.code).toBe(0);
    expect(version.output.trim()).toBe(JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')).version);
    const help = await runParleyToEnd(['--help'], { cwd });
    expect(help.code).toBe(0);
    expect(help.output).toContain('Examples:');
    for (const cmd of ['serve', 'migrate', 'config']) expect(help.output).toContain(cmd);
  });
});
