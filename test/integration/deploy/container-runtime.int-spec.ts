import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '../../support/ports';
import { cleanEnv, httpGet } from '../../support/parley-process';
import { createTestDatabase } from '../../support/pg';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '../../..');
const STOP_BOUND_MS = 10_000;

/**
 * What the container image promises, shown without a container engine: the gateway runs as
 * PID 1 of its own PID namespace (`unshare --pid`), in a mount namespace whose root
 * filesystem is read-only (remounted ro) except its data directory (a bind mount, like the
 * image's volume), on an external PostgreSQL (DATABASE_URL); it becomes ready, and SIGTERM
 * from outside stops it with exit code 0 within a bound. PID 1 gets no default signal
 * handling: without the gateway's own SIGTERM handler the signal would be ignored.
 */
describe('the gateway as a container runs it: PID 1, read-only root, data volume, SIGTERM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-container-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase('container');
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is ready with only the data directory writable, and exits 0 on SIGTERM as PID 1', async () => {
    const opsPort = await freePort();
    const config = join(dir, 'parley.yaml');
    writeFileSync(config, `dataDir: ${data}\nlog:\n  format: json\nops:\n  port: ${opsPort}\n`);
    // Inside: bind the data dir onto itself (its own writable mount), make every other mount
    // private and the root read-only, prove a write beside the data dir fails, then exec node.
    const script = [
      'set -e',
      'mount --make-rprivate /',
      `mount --bind "${data}" "${data}"`,
      'mount -o remount,bind,ro /',
      `if touch "${dir}/probe" 2>/dev/null; then echo "ROOT-WRITABLE"; exit 3; fi`,
      `touch "${data}/probe" && echo "DATA-WRITABLE"`,
      `cd "${ROOT}"`,
      `exec "${process.execPath}" bin/parley.js serve --config "${config}"`,
    ].join('\n');
    const child = spawn('unshare', ['--mount', '--pid', '--fork', '--mount-proc', 'sh', '-c', script], {
      env: cleanEnv({ DATABASE_URL: db.url }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
    const killAll = () => child.kill('SIGKILL');
    try {
      await waitFor(async () => {
        if (child.exitCode !== null) throw new Error(`exited early (${child.exitCode}):\n${out}`);
        return (await httpGet(`http://127.0.0.1:${opsPort}/readyz`).catch(() => ({ status: 0 }))).status === 200;
      }, 60_000, 250).catch((err: unknown) => {
        throw new Error(`${String(err)}\n--- output ---\n${out}`);
      });
      expect(out).toContain('DATA-WRITABLE');
      expect(out).not.toContain('ROOT-WRITABLE');

      // The gateway's host pid: unshare's only child, which is PID 1 in its namespace.
      const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/);
      expect(children).toHaveLength(1);
      const gatewayPid = Number(children[0]);
      const status = readFileSync(`/proc/${gatewayPid}/status`, 'utf8');
      expect(/^NSpid:\s+\d+\s+(\d+)$/m.exec(status)?.[1]).toBe('1');
      expect(readFileSync(`/proc/${gatewayPid}/cmdline`, 'utf8')).toContain('parley.js');

      const started = Date.now();
      process.kill(gatewayPid, 'SIGTERM');
      const timer = setTimeout(killAll, STOP_BOUND_MS);
      const result = await exited;
      clearTimeout(timer);
      expect({ ...result, ms: Date.now() - started < STOP_BOUND_MS }).toEqual({ code: 0, signal: null, ms: true });
      expect(out).toContain('"msg":"stopped"');
    } finally {
      if (child.exitCode === null && child.signalCode === null) killAll();
      await exited;
    }
  });
});
