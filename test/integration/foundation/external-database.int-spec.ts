import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgres } from '../../../src/database/embedded-postgres';
import { freePort, waitFor } from '../../support/ports';
import { httpGet, runParley, runParleyToEnd, stopAllParley, waitForReady } from '../../support/parley-process';
import { createTestDatabase } from '../../support/pg';

jest.setTimeout(120_000);

describe('DATABASE_URL selects another PostgreSQL', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-extdb-'));
  const pgDir = mkdtempSync(join(tmpdir(), 'parley-second-pg-'));
  chmodSync(pgDir, 0o755);
  let second: EmbeddedPostgres;
  let url: string;

  beforeAll(async () => {
    // A second, independent PostgreSQL server started by this test (fixed port so it can come back).
    second = new EmbeddedPostgres({ dir: join(pgDir, 'pg'), port: await freePort(), startTimeoutMs: 60_000 });
    url = await second.start();
  });
  afterEach(() => stopAllParley());
  afterAll(async () => {
    await second.stop();
    rmSync(pgDir, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  });

  it('uses that server (migrates it, starts no embedded one), and /readyz follows the database away and back', async () => {
    const port = await freePort();
    const ops = `http://127.0.0.1:${port}`;
    const gw = runParley(['serve'], { cwd, env: { DATABASE_URL: url, PARLEY_OPS_PORT: String(port), PARLEY_DATABASE_CONNECT_TIMEOUT_MS: '1000', PARLEY_OPS_READINESS_TIMEOUT_MS: '3000' } });
    await waitForReady(ops, 30_000, gw);
    expect(existsSync(join(cwd, '.parley', 'postgres'))).toBe(false);

    const client = new Client({ connectionString: url });
    await client.connect();
    const migrations = await client.query('SELECT name FROM parley_migrations');
    await client.end();
    expect(migrations.rowCount).toBeGreaterThan(0);

    await second.stop();
    const down = await waitFor(async () => {
      const r = await httpGet(`${ops}/readyz`);
      return r.status === 503 ? r : undefined;
    }, 15_000);
    const report = JSON.parse(down.body) as { status: string; checks: Array<{ name: string; ok: boolean; reason?: string }> };
    expect(report.status).toBe('not ready');
    expect(report.checks.find((c) => c.name === 'database')).toMatchObject({ ok: false, reason: expect.stringMatching(/^database unreachable: /) });
    expect((await httpGet(`${ops}/healthz`)).status).toBe(200); // alive, just not ready

    await second.start();
    await waitForReady(ops, 30_000, gw); // back to 200 without a restart
    expect(gw.child.exitCode).toBeNull();
    expect((await gw.stop('SIGINT')).code).toBe(0);
  });

  it('`parley migrate` applies migrations to a fresh database and then reports it up to date', async () => {
    const db = await createTestDatabase('migrate');
    try {
      const first = await runParleyToEnd(['migrate'], { cwd, env: { DATABASE_URL: db.url } });
      expect(first.code).toBe(0);
      expect(first.output).toMatch(/applied \d+ migration\(s\):/);
      const second = await runParleyToEnd(['migrate'], { cwd, env: { DATABASE_URL: db.url } });
      expect(second.code).toBe(0);
      expect(second.output).toContain('database is up to date');
    } finally {
      await db.drop();
    }
  });
});
