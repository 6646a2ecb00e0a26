/**
 * A real `parley serve` process for benchmarks, started the way a user starts it (bin/parley.js
 * on the built dist/, its own embedded PostgreSQL in its data directory unless a database URL is
 * given), optionally with a parley.yaml; and `parley` CLI runs against it.
 *
 * Ports: every listener binds port 0 and the bench reads the ports the gateway got from its
 * "parley gateway started" log line, so no port is picked before it is bound. The gateway's
 * embedded PostgreSQL cannot bind port 0 (it picks a free port and binds it a moment later):
 * a start that lost that port to another process is retried.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import YAML from 'yaml';

const READY_TIMEOUT_MS = 180_000;
const CLI_TIMEOUT_MS = 30 * 60_000;
/** Starts of a gateway whose embedded PostgreSQL lost its port (to another process) before giving up. */
const PORT_LOST_ATTEMPTS = 3;
const STARTED_MESSAGE = 'parley gateway started';

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
  /** The registry face's port, when the config enables it (registry.port 0 binds any). */
  readonly registryPort: number | undefined;
  /** The last lines it printed (stdout and stderr). */
  output(): string;
  /** Runs `parley <args>` in the gateway's directory with the gateway's environment, to the end. */
  cli(args: string[]): Promise<{ stdout: string; stderr: string; ms: number }>;
  /** SIGINT (it stops its embedded PostgreSQL), SIGKILL after 60 s; then removes the directory. */
  stop(): Promise<void>;
}

export interface GatewayProcessOptions {
  /** Written as parley.yaml in the gateway's directory (its default config file). */
  config?: Record<string, unknown>;
  /** Files written in the gateway's directory before it starts: relative path -> content. */
  files?: Record<string, string>;
  /** The PostgreSQL it uses (DATABASE_URL) instead of starting an embedded one. */
  databaseUrl?: string;
}

/** A start that failed because a port was taken between being picked and being bound: worth another try. */
class PortLost extends Error {}

/**
 * Starts `parley serve` in a fresh temp directory with `env` (PARLEY_* settings) and `options`,
 * every listener on 127.0.0.1 port 0, and waits for it to log its ports and answer /readyz.
 */
export async function startGatewayProcess(prefix: string, env: Record<string, string> = {}, options: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  // The ports come from the started line, an info line.
  if (['warn', 'error', 'fatal', 'silent'].includes(env.PARLEY_LOG_LEVEL ?? '')) {
    throw new TypeError(`startGatewayProcess: PARLEY_LOG_LEVEL ${env.PARLEY_LOG_LEVEL} hides the "${STARTED_MESSAGE}" line the ports are read from; use info or lower`);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(prefix, env, options);
    } catch (err) {
      if (!(err instanceof PortLost) || attempt >= PORT_LOST_ATTEMPTS) throw err;
    }
  }
}

async function startOnce(prefix: string, env: Record<string, string>, options: GatewayProcessOptions): Promise<GatewayProcess> {
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  // The embedded PostgreSQL runs as the postgres user when we are root: keep the path traversable.
  chmodSync(dir, 0o755);
  for (const [path, content] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content, { mode: 0o600 });
  }
  if (options.config !== undefined) writeFileSync(join(dir, 'parley.yaml'), YAML.stringify(options.config));
  const gatewayEnv = childEnv({
    PARLEY_LOG_FORMAT: 'json',
    PARLEY_GRPC_HOST: '127.0.0.1',
    PARLEY_GRPC_PORT: '0',
    PARLEY_OPS_PORT: '0',
    PARLEY_ADMIN_PORT: '0',
    ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
    ...env,
  });
  const child = spawn(process.execPath, [...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''), join(root, 'bin/parley.js'), 'serve'], { cwd: dir, env: gatewayEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const started = startedLine(child);
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
  let ports: StartedPorts;
  try {
    ports = await waitForStart(child, started, output);
    await waitForReady(`http://127.0.0.1:${ports.ops}`, child, output);
  } catch (err) {
    await stop();
    throw err;
  }
  if (child.pid === undefined) throw new Error('bench: parley serve has no pid');
  return {
    child,
    pid: child.pid,
    dir,
    grpcPort: ports.grpc,
    opsPort: ports.ops,
    adminPort: ports.admin,
    registryPort: ports.registry,
    output,
    stop,
    cli: (args) => runCli(root, dir, gatewayEnv, args),
  };
}

interface StartedPorts {
  grpc: number;
  ops: number;
  admin: number;
  registry: number | undefined;
}

/** Resolves with the gateway's "started" log entry (JSON) when it prints it on stdout. */
function startedLine(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolveLine) => {
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes(STARTED_MESSAGE)) continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg !== STARTED_MESSAGE) continue;
          child.stdout?.off('data', onData);
          resolveLine(entry);
          return;
        } catch {
          // not a JSON log line
        }
      }
    };
    child.stdout?.on('data', onData);
  });
}

/** The port at the end of `host:port` or `scheme://host:port` as the gateway logs its listeners. */
function portOf(entry: Record<string, unknown>, key: string): number {
  const value = entry[key];
  const port = typeof value === 'string' ? Number(/:(\d+)$/.exec(value)?.[1]) : NaN;
  if (!Number.isInteger(port) || port <= 0) throw new Error(`bench: parley serve logged no port for ${key}: ${JSON.stringify(value)}`);
  return port;
}

async function waitForStart(gateway: ChildProcess, started: Promise<Record<string, unknown>>, output: () => string): Promise<StartedPorts> {
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`parley serve did not start within ${READY_TIMEOUT_MS} ms:\n${output()}`)), READY_TIMEOUT_MS);
    void exitOf(gateway).then((exit) => {
      const text = output();
      const message = `parley serve exited (${exit.code ?? exit.signal}) before it started:\n${text}`;
      reject(/already in use/.test(text) ? new PortLost(message) : new Error(message));
    });
  });
  try {
    const entry = await Promise.race([started, failed]);
    const registry = entry.registry === undefined || entry.registry === 'disabled' ? undefined : portOf(entry, 'registry');
    return { grpc: portOf(entry, 'grpc'), ops: portOf(entry, 'ops'), admin: portOf(entry, 'admin'), registry };
  } finally {
    clearTimeout(timer);
  }
}

/** /readyz answers 200 (database and identity ready); the listeners are up already. */
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
      // not answering yet
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
