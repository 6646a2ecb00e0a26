/**
 * Restart with backoff: the embedded server is killed and its port is held by another
 * listener, so restarts fail until the port is free again. Each failure is one error line and
 * a count; the database stays down (monitor, parley_db_up) until a restart succeeds.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { configSchema } from '../../../src/config/schema';
import { superviseDatabase, type DatabaseSupervision } from '../../../src/database/database-supervision';
import { EmbeddedPostgres } from '../../../src/database/embedded-postgres';
import { freePort, waitFor } from '../../support/ports';
import { metricSum, parsePrometheusText } from '../../support/prometheus';

jest.setTimeout(120_000);

interface LogLine {
  level: number;
  msg: string;
  attempt?: number;
  retryInMs?: number;
}

describe('restarting the embedded PostgreSQL with backoff', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-backoff-'));
  chmodSync(dir, 0o755);
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as LogLine), done()) }));
  const metrics = new Registry();
  let pg: EmbeddedPostgres;
  let supervision: DatabaseSupervision | undefined;
  let squatter: Server | undefined;

  afterAll(async () => {
    squatter?.close();
    await supervision?.stop();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = async (outcome: string) => metricSum(parsePrometheusText(await metrics.metrics()).samples, 'parley_db_embedded_restarts_total', { outcome });
  const up = async () => metricSum(parsePrometheusText(await metrics.metrics()).samples, 'parley_db_up');

  it('logs and counts each failed attempt, doubling the delay, and comes back once the port is free', async () => {
    const port = await freePort();
    pg = new EmbeddedPostgres({ dir: join(dir, 'postgres'), port, startTimeoutMs: 30_000 });
    const url = await pg.start();
    const base = configSchema.parse({}).database;
    const config = { ...base, healthInterval: 100, connectTimeoutMs: 1000, embedded: { ...base.embedded, restartBackoff: 1000, restartMaxBackoff: 2000 } };
    supervision = await superviseDatabase({ url, embedded: pg, config, logger, metrics });
    expect(supervision.monitor.state).toEqual({ up: true });
    expect(await up()).toBe(1);

    process.kill(pg.pid!, 'SIGKILL');
    await waitFor(() => !pg.running, 5000, 10);
    // Another listener takes the port before the first restart attempt (1 s later).
    squatter = await waitFor(() => listenOn(port), 5000, 20);
    expect(supervision.monitor.state.up).toBe(false);

    await waitFor(async () => (await count('failed')) >= 3, 30_000, 100);
    squatter.close();
    squatter = undefined;
    await waitFor(() => supervision!.monitor.state.up, 30_000, 100);
    expect(await up()).toBe(1);
    expect(await count('ok')).toBe(1);

    const errors = lines.filter((l) => l.level === 50);
    const failures = errors.filter((l) => l.msg.startsWith('embedded database: restart attempt '));
    expect(errors[0]).toMatchObject({ msg: 'embedded database: postgres exited unexpectedly (signal SIGKILL); restarting in 1000 ms', retryInMs: 1000 });
    expect(errors).toHaveLength(1 + failures.length);
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures.slice(0, 3).map((l) => [l.attempt, l.retryInMs])).toEqual([
      [1, 2000],
      [2, 2000],
      [3, 2000],
    ]);
    expect(await count('failed')).toBe(failures.length);
    expect(lines.filter((l) => l.msg === 'embedded database: restarted')).toHaveLength(1);
  });
});

/** A listener on 127.0.0.1:port, or undefined while the port is still taken. */
function listenOn(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
