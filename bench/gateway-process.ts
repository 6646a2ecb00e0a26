/**
 * A real `parley serve` process for benchmarks, started the way a user starts it (bin/parley.js
 * on the built dist/, its own embedded PostgreSQL in its data directory), every listener on a
 * free 127.0.0.1 port; and `parley` CLI runs against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../src/common/net';

const READY_TIMEOUT_MS = 180_000;
const CLI_TIMEOUT_MS = 30 * 60_000;

/** The repository root (holds bin/parley.js), whether this runs from dist/bench or bench. */
export function repoRoot(): string {
  for (const candidate of [resolve(__dirname, '../..'), resolve(__dirname, '..')]) {
    if (existsSync(join(candidate, 'bin/parley.js')) && existsSync(join(candidate, 'package.json'))) {
      if (!existsSync(join(candidate, 'dist/src/cli/main.js'))) throw new Error('bench: dist/ is not built (npm run build)');
      return candidate;
    }
  }
  throw new Error(`bench: bin/parley.js not found above ${__dirname}`);
}

/**
 * Environment for a child `parley`: everything but PARLEY_* and DATABASE_URL from ours (the
 * config loader rejects unknown PARLEY_ variables, and the embedded database must be used).
 */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PARLEY_') && k !== 'DATABASE_URL' && k !== 'SPIFFE_ENDPOINT_SOCKET') env[k] = v;
  }
  return { ...env, ...extra };
}

/** Keeps the last `max` characters of a stream (for error messages). */
function tail(stream: NodeJS.ReadableStream | null, max = 8192): () => string {
  let text = '';
  stream?.on('data', (c: Buffer) => {
    text += c.toString();
    if (text.length > 2 * max) text = text.slice(-max);
  });
  return () => text.slice(-max);
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The temp directory it runs in (its data directory is `.parley` there, the default). */
  readonly dir: string;
  readonly grpcPort: number;
  readonly opsPort: number;
  readonly adminPort: number;
  /** The last lines it printed (stdout and stderr). */
  output(): string;
  /** Runs `parley <args>` in the gateway's directory with the gateway's environment, to the end. */
  cli(args: string[]): Promise<{ stdout: string; stderr: string; ms: number }>;
  /** SIGINT (it stops its embedded PostgreSQL), SIGKILL after 60 s; then removes the directory. */
  stop(): Promise<void>;
}

/** Starts `parley serve` in a fresh temp directory with `env` (PARLEY_* settings) and waits for /readyz. */
export async function startGatewayProcess(prefix: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  // The embedded PostgreSQL runs as the postgres user when we are root: keep the path traversable.
  chmodSync(dir, 0o755);
  const [grpcPort, opsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const gatewayEnv = childEnv({
    PARLEY_LOG_FORMAT: 'json',
    PARLEY_GRPC_HOST: '127.0.0.1',
    PARLEY_GRPC_PORT: String(grpcPort),
    PARLEY_OPS_PORT: String(opsPort),
    PARLEY_ADMIN_PORT: String(adminPort),
    ...env,
  });
  const child = spawn(process.execPath, [join(root, 'bin/parley.js'), 'serve'], { cwd: dir, env: gatewayEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const outTail = tail(child.stdout);
  const errTail = tail(child.stderr);
  const output = () => `${outTail()}\n${errTail()}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = exitOf(child);
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForReady(`http://127.0.0.1:${opsPort}`, child, output);
  } catch (err) {
    await stop();
    throw err;
  }
  if (child.pid === undefined) throw new Error('bench: parley serve has no pid');
  return {
    child,
    pid: child.pid,
    dir,
    grpcPort,
    opsPort,
    adminPort,
    output,
    stop,
    cli: (args) => runCli(root, dir, gatewayEnv, args),
  };
}

async function waitForReady(opsUrl: string, gateway: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gateway.exitCode !== null || gateway.signalCode !== null) {
      throw new Error(`parley serve exited (${gateway.exitCode ?? gateway.signalCode}) before it was ready:\n${output()}`);
    }
    try {
      const res = await fetch(`${opsUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`parley serve not ready within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

/** Runs `parley <args>` to the end; throws with its stderr on a non-zero exit. */
async function runCli(root: string, cwd: string, env: NodeJS.ProcessEnv, args: string[]): Promise<{ stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin/parley.js'), ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  const stderr = tail(child.stderr);
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
  const exit = await new Promise<Exit>((res) => child.once('close', (code, signal) => res({ code, signal })));
  clearTimeout(timer);
  const ms = performance.now() - started;
  if (exit.code !== 0) throw new Error(`parley ${args.slice(0, 2).join(' ')} failed (${exit.code ?? exit.signal}): ${stderr().trim()}`);
  return { stdout, stderr: stderr(), ms };
}
