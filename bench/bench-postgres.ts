/**
 * An embedded PostgreSQL in a fresh temp directory for one benchmark, and the list of
 * clean-up steps it starts (run newest first; the server is stopped and the directory removed last).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';

export type CleanupStep = () => Promise<void> | void;

export async function startBenchPostgres(prefix: string): Promise<{ url: string; cleanup: CleanupStep[] }> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  chmodSync(dir, 0o755);
  const pg = new EmbeddedPostgres({ dir: join(dir, 'pg'), port: 0, startTimeoutMs: 60_000 });
  const cleanup: CleanupStep[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const url = await pg.start();
    cleanup.unshift(() => pg.stop());
    return { url, cleanup };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Runs clean-up steps in order; a failing step does not stop the others. */
export async function runCleanup(steps: readonly CleanupStep[]): Promise<void> {
  for (const step of steps) await Promise.resolve().then(step).catch(() => undefined);
}
