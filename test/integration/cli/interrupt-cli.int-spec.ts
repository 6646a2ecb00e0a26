/**
 * Ctrl-C (SIGINT) and SIGTERM during `parley push` and `parley pull`, through the real CLI
 * against a real gateway: the transfer stops cleanly, one line says what was kept and what
 * to run, no gRPC status is printed, the exit code is 128 + the signal. The CLI is stopped
 * (SIGSTOP) once the transfer is under way and checked to be mid-flight before the signal is
 * sent, so a fast machine cannot finish the transfer first.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { ContentId } from '../../../src/store/domain/content-id';
import { formatBytes } from '../../../src/cli/progress';
import { freePort, StopWaiting, waitFor } from '../../support/ports';
import { runParley, runParleyToEnd, stopAllParley, waitForReady, type ParleyProcess } from '../../support/parley-process';
import { createTestDatabase } from '../../support/pg';
import { runCli, startCli, type CliRun } from './cli-process';
import { sha256File, writeRandomFile } from '../../support/random-file';

jest.setTimeout(180_000);

const MiB = 1024 * 1024;
const SIZE = 128 * MiB;

/**
 * Waits until `underWay` holds, stops the CLI, checks with `midFlight` that the transfer has
 * not finished, then sends `signal` and lets the CLI run on to handle it.
 */
async function interrupt(run: CliRun, signal: NodeJS.Signals, underWay: () => Promise<boolean> | boolean, midFlight: () => Promise<boolean> | boolean) {
  let ended: { code: number | null; stderr: string } | undefined;
  void run.done.then((result) => (ended = result));
  await waitFor(async () => {
    if (ended !== undefined) throw new StopWaiting(`the transfer ended (exit code ${ended.code}) before it could be interrupted: ${ended.stderr}`);
    return underWay();
  }, 60_000, 2);
  run.child.kill('SIGSTOP');
  try {
    expect(ended).toBeUndefined();
    expect(await midFlight()).toBe(true);
    run.child.kill(signal);
  } finally {
    run.child.kill('SIGCONT');
  }
  return run.done;
}

describe('parley push and pull interrupted by a signal', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-interrupt-cli-'));
  chmodSync(cwd, 0o755);
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pg: Client;
  let gateway: ParleyProcess;
  let id: string[];
  let file: string;
  let digest: string;
  let cid: string;

  async function count(sql: string): Promise<number> {
    const { rows } = await pg.query<{ n: string }>(sql);
    return Number(rows[0].n);
  }

  beforeAll(async () => {
    db = await createTestDatabase('interrupt');
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    const [grpcPort, opsPort] = [await freePort(), await freePort()];
    gateway = runParley(['serve'], { cwd, env: { DATABASE_URL: db.url, PARLEY_GRPC_PORT: String(grpcPort), PARLEY_OPS_PORT: String(opsPort) } });
    await waitForReady(`http://127.0.0.1:${opsPort}`, 60_000, gateway);
    const issued = await runParleyToEnd(['dev', 'issue', '--id', 'spiffe://parley.local/ns/ml/sa/trainer', '--out', join(cwd, 'trainer')], { cwd, env: { DATABASE_URL: db.url } });
    expect(issued.code).toBe(0);
    id = ['--server', `127.0.0.1:${grpcPort}`, '--svid', join(cwd, 'trainer/svid.pem'), '--key', join(cwd, 'trainer/svid.key'), '--bundle', join(cwd, 'trainer/bundle.pem')];
    file = join(cwd, 'model.bin');
    digest = await writeRandomFile(file, SIZE);
    cid = ContentId.parseDigest(`sha256:${digest}`).toString();
  });

  afterAll(async () => {
    await gateway?.stop('SIGINT');
    await stopAllParley();
    await pg?.end();
    await db?.drop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('push: Ctrl-C mid-transfer prints one line (no CANCELLED), exits 130 and the gateway keeps nothing; the same command pushes again', async () => {
    const copied = () => count(`SELECT coalesce(max(bytes_processed), 0) AS n FROM pg_stat_progress_copy WHERE relid = 'store_chunks'::regclass`);
    const run = startCli(['push', file, '-n', 'ml/models', ...id], cwd, 60_000);
    const stopped = await interrupt(run, 'SIGINT', async () => (await copied()) > 8 * MiB, async () => (await copied()) < SIZE);

    expect(stopped.signal).toBeNull();
    expect(stopped.code).toBe(130);
    expect(stopped.stdout).toBe('');
    expect(stopped.stderr).toMatch(/^parley: push interrupted after \d+\.\d MiB of 128\.0 MiB; the gateway keeps nothing of an unfinished push — run the same command to push again\n$/);
    expect(stopped.stderr).not.toContain('CANCELLED');

    // The cancelled push's upload was aborted: no record, no staged blob or chunk.
    await waitFor(async () => (await count('SELECT count(*) AS n FROM store_blobs')) === 0, 30_000);
    expect(await count('SELECT count(*) AS n FROM store_records')).toBe(0);
    expect(await count('SELECT count(*) AS n FROM store_chunks')).toBe(0);

    const again = await runCli(['push', file, '-n', 'ml/models', '-q', ...id], cwd, 60_000);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${cid}\n`);
  });

  it('pull: Ctrl-C mid-transfer says what the .partial kept, exits 130; the same command resumes and the digest verifies', async () => {
    const out = join(cwd, 'model-copy.bin');
    const kept = () => (existsSync(`${out}.partial`) ? statSync(`${out}.partial`).size : 0);
    const run = startCli(['pull', cid, '-o', out, ...id], cwd, 60_000);
    const stopped = await interrupt(run, 'SIGINT', () => kept() > 8 * MiB, () => kept() < SIZE && !existsSync(out));

    expect(stopped.signal).toBeNull();
    expect(stopped.code).toBe(130);
    expect(stopped.stdout).toBe('');
    const partial = kept();
    expect(partial).toBeGreaterThan(8 * MiB);
    expect(partial).toBeLessThan(SIZE);
    expect(stopped.stderr).toBe(`parley: pull interrupted; ${formatBytes(partial)} of 128.0 MiB kept in ${out}.partial — run the same command to resume\n`);
    expect(existsSync(out)).toBe(false);

    const again = await runCli(['pull', cid, '-o', out, ...id], cwd, 60_000);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`^pull: resuming ${out}\\.partial from byte ${partial} of ${SIZE}\npulled `));
    expect(await sha256File(out)).toBe(digest);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });

  it('pull: SIGTERM behaves the same, with exit code 143', async () => {
    const out = join(cwd, 'model-term.bin');
    const kept = () => (existsSync(`${out}.partial`) ? statSync(`${out}.partial`).size : 0);
    const run = startCli(['pull', cid, '-o', out, '-q', ...id], cwd, 60_000);
    const stopped = await interrupt(run, 'SIGTERM', () => kept() > 8 * MiB, () => kept() < SIZE && !existsSync(out));

    expect(stopped.signal).toBeNull();
    expect(stopped.code).toBe(143);
    expect(stopped.stderr).toBe(`parley: pull interrupted; ${formatBytes(kept())} of 128.0 MiB kept in ${out}.partial — run the same command to resume\n`);
  });
  describe('before the transfer starts (the gateway accepts the connection and never answers)', () => {
    let silent: ReturnType<typeof createServer>;
    const sockets: Socket[] = [];
    let silentId: string[];
    beforeAll(async () => {
      silent = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      silentId = ['--server', `127.0.0.1:${port}`, ...id.slice(2)];
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it('pull: Ctrl-C while connecting says nothing was transferred and exits 130; an earlier .partial stays', async () => {
      const out = join(cwd, 'never.bin');
      writeFileSync(`${out}.partial`, Buffer.alloc(1000, 7));
      const seen = sockets.length;
      const run = startCli(['pull', cid, '-o', out, ...silentId], cwd, 60_000);
      const stopped = await interrupt(run, 'SIGINT', () => sockets.length > seen, () => true);
      expect(stopped.signal).toBeNull();
      expect(stopped.code).toBe(130);
      expect(stopped.stderr).toBe('parley: pull interrupted before the transfer started; nothing was transferred\n');
      expect(statSync(`${out}.partial`).size).toBe(1000);
    });

    it('push: Ctrl-C while connecting exits 130 with its line instead of waiting for the connection', async () => {
      const seen = sockets.length;
      const run = startCli(['push', file, '-n', 'ml/models', ...silentId], cwd, 60_000);
      const stopped = await interrupt(run, 'SIGINT', () => sockets.length > seen, () => true);
      expect(stopped.signal).toBeNull();
      expect(stopped.code).toBe(130);
      // What the CLI handed to gRPC before the connection was up (its send buffer), not what reached a gateway.
      expect(stopped.stderr).toMatch(/^parley: push interrupted after [\d.]+ (B|KiB|MiB) of 128\.0 MiB; the gateway keeps nothing of an unfinished push — run the same command to push again\n$/);
    });
  });
});
