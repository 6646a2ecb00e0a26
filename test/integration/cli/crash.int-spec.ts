/**
 * Crash safety of a push through the real CLI: the gateway process is SIGKILLed while a
 * `parley push` is streaming. What was staged stays invisible (no record, lookup NOT_FOUND),
 * and the same push on a restarted gateway (same database) succeeds.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { ContentId } from '../../../src/store/domain/content-id';
import { freePort, waitFor } from '../../support/ports';
import { runParley, runParleyToEnd, stopAllParley, waitForReady, type ParleyProcess } from '../../support/parley-process';
import { createTestDatabase } from '../../support/pg';
import { runCli, startCli } from './cli-process';
import { sha256File, writeRandomFile } from '../../support/random-file';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const SIZE = 128 * MiB;
const TRAINER = 'spiffe://parley.local/ns/ml/sa/trainer';

describe('a gateway killed during a push', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-crash-cli-'));
  chmodSync(cwd, 0o755);
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pg: Client;

  /** Starts `parley serve` on the test database; returns the process and its gRPC address. */
  async function startGateway(): Promise<{ proc: ParleyProcess; server: string }> {
    const [grpcPort, opsPort] = [await freePort(), await freePort()];
    const proc = runParley(['serve'], { cwd, env: { DATABASE_URL: db.url, PARLEY_GRPC_PORT: String(grpcPort), PARLEY_OPS_PORT: String(opsPort) } });
    await waitForReady(`http://127.0.0.1:${opsPort}`, 60_000, proc);
    return { proc, server: `127.0.0.1:${grpcPort}` };
  }

  async function count(sql: string): Promise<number> {
    const { rows } = await pg.query<{ n: string }>(sql);
    return Number(rows[0].n);
  }

  beforeAll(async () => {
    db = await createTestDatabase('crash');
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await stopAllParley();
    await pg?.end();
    await db?.drop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('Interrupting the server (kill -9) in the middle of a push leaves no visible record; the repeated push succeeds', async () => {
    const file = join(cwd, 'weights.bin');
    const digest = await writeRandomFile(file, SIZE);
    const cid = ContentId.parseDigest(`sha256:${digest}`).toString();

    const first = await startGateway();
    const issued = await runParleyToEnd(['dev', 'issue', '--id', TRAINER, '--out', join(cwd, 'trainer')], { cwd, env: { DATABASE_URL: db.url } });
    expect(issued.code).toBe(0);
    const identity = ['--svid', join(cwd, 'trainer/svid.pem'), '--key', join(cwd, 'trainer/svid.key'), '--bundle', join(cwd, 'trainer/bundle.pem')];

    // The push is under way once its COPY into store_chunks has taken a few MiB (the push is one transaction: nothing of it is visible before its commit).
    const push = startCli(['push', file, '-n', 'ml/crash', '-q', '--server', first.server, ...identity], cwd, 60_000);
    let pushEnded = false;
    void push.done.then(() => (pushEnded = true));
    await waitFor(async () => {
      if (pushEnded) throw new Error('the push ended before the gateway could be killed');
      return (await count(`SELECT coalesce(max(bytes_processed), 0) AS n FROM pg_stat_progress_copy WHERE relid = 'store_chunks'::regclass`)) > 4 * 1024 * 1024;
    }, 30_000, 2);
    first.proc.child.kill('SIGKILL');
    expect(await first.proc.exited).toEqual({ code: null, signal: 'SIGKILL' });

    const failed = await push.done;
    expect(failed.signal).toBeNull();
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    // One clear line naming the gRPC status, not a stack trace.
    expect(failed.stderr).toMatch(/^parley: (UNAVAILABLE|CANCELLED|INTERNAL|UNKNOWN|ABORTED): [^\n]+\n( {2}hint: [^\n]+\n)*$/);
    // The gateway went away mid-push: not explained as a refusal of our certificate.
    expect(failed.stderr).not.toMatch(/refused our certificate/);
    expect(failed.stderr).not.toMatch(/\n\s+at /);

    // Its transaction died with the gateway: no record, no blob, no chunk left for the janitor.
    expect(await count('SELECT count(*) AS n FROM store_records')).toBe(0);
    expect(await count('SELECT count(*) AS n FROM store_blobs')).toBe(0);
    expect(await count('SELECT count(*) AS n FROM store_chunks')).toBe(0);

    // Restart on the same database: the interrupted upload is invisible.
    const second = await startGateway();
    const at = ['--server', second.server, ...identity];
    const lookup = await runCli(['lookup', cid, ...at], cwd);
    expect(lookup.code).toBe(1);
    expect(lookup.stdout).toBe('');
    expect(lookup.stderr).toMatch(/^parley: NOT_FOUND: .+\n$/);
    expect(lookup.stderr).toContain(cid);

    // The repeated push succeeds and prints the CID computed locally.
    const again = await runCli(['push', file, '-n', 'ml/crash', '-q', ...at], cwd, 60_000);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${cid}\n`);
    expect(await count('SELECT count(*) AS n FROM store_records')).toBe(1);

    const out = join(cwd, 'pulled.bin');
    const pull = await runCli(['pull', cid, '-o', out, '-q', ...at], cwd, 60_000);
    expect(pull.stderr).toBe('');
    expect(pull.code).toBe(0);
    expect(await sha256File(out)).toBe(digest);

    const look = await runCli(['lookup', cid, '--json', ...at], cwd);
    expect(look.code).toBe(0);
    expect(JSON.parse(look.stdout)).toEqual([expect.objectContaining({ cid, size: SIZE, namespace: 'ml/crash', creatorSpiffeId: TRAINER })]);
    await second.proc.stop('SIGINT');
  });
});
