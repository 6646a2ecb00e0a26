/**
 * An embedded PostgreSQL in a fresh temp directory for one benchmark, and the list of
 * clean-up steps it starts (run newest first; the server is stopped and the directory removed last).
 *
 * PostgreSQL cannot bind port 0 and report the port: EmbeddedPostgres picks a free port and
 * binds it a moment later. A bench starts its PostgreSQL before any of its own servers (which
 * bind port 0), so only an unrelated process can take that port in between; such a start is
 * retried on another port.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';

export type CleanupStep = () => Promise<void> | void;

const PORT_LOST_ATTEMPTS = 3;

export async function startBenchPostgres(prefix: string): Promise<{ url: string; cleanup: CleanupStep[] }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(prefix);
    } catch (err) {
      if (!(err instanceof Error && /already in use/.test(err.message)) || attempt >= PORT_LOST_ATTEMPTS) throw err;
    }
  }
}

async function startOnce(prefix: string): Promise<{ url: string; cleanup: CleanupStep[] }> {
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
