import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { connectDataSource, runMigrations } from '../../src/database/data-source';

/**
 * Starts one real PostgreSQL for the integration suite (embedded, or TEST_DATABASE_URL when
 * given), runs the migrations once, and builds dist/ so tests can run the real `parley` CLI.
 */
export default async function globalSetup(): Promise<void> {
  const root = resolve(__dirname, '../..');
  execFileSync(process.execPath, [join(root, 'node_modules/@swc/cli/bin/swc.js'), 'src', 'migrations', '-d', 'dist', '--config-file', '.swcrc', '-q'], { cwd: root, stdio: 'inherit' });

  if (!process.env.TEST_DATABASE_URL) {
    const dir = mkdtempSync(join(tmpdir(), 'parley-test-pg-'));
    const pg = new EmbeddedPostgres({ dir, port: 0, startTimeoutMs: 60_000 });
    process.env.TEST_DATABASE_URL = await pg.start();
    process.env.TEST_PG_DIR = dir;
    (globalThis as { __PARLEY_TEST_PG__?: EmbeddedPostgres }).__PARLEY_TEST_PG__ = pg;
  }
  const ds = await connectDataSource(process.env.TEST_DATABASE_URL, { url: undefined, migrationsRun: true, poolSize: 2, connectTimeoutMs: 5000, embedded: { port: 0, startTimeoutMs: 60_000 } });
  await runMigrations(ds);
  await ds.destroy();
}
