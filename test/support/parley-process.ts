import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { StopWaiting, waitFor } from './ports';

const BIN = resolve(__dirname, '../../bin/parley.js');

/** Environment for a child gateway: the test runner's env minus anything PARLEY_/DATABASE_ related. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PARLEY_') && k !== 'DATABASE_URL') env[k] = v;
  }
  // Every listener on a free port unless a test says otherwise, so parallel tests never collide.
  return { ...env, PARLEY_LOG_FORMAT: 'json', PARLEY_ADMIN_PORT: '0', PARLEY_GRPC_PORT: '0', PARLEY_GRPC_HOST: '127.0.0.1', ...extra };
}

export interface ParleyProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ParleyProcess>();

/** Stops every gateway a test started (call in afterEach/afterAll so a failed test leaks nothing). */
export async function stopAllParley(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}

/** Runs the real `parley` CLI (built dist/) as a child process. */
export function runParley(args: string[], options: { cwd: string; env?: Record<string, string> }): ParleyProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const proc: ParleyProcess = {
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Runs `parley ...` to completion (bounded by timeoutMs). */
export async function runParleyToEnd(args: string[], options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }) {
  const p = runParley(args, options);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const result = await p.exited;
  clearTimeout(timer);
  return { ...result, output: p.output() };
}

export async function httpGet(url: string): Promise<{ status: number; body: string; contentType: string | null }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') };
}

/** Waits for /readyz 200; fails at once (with the process output) if the process exits first. */
export async function waitForReady(opsUrl: string, timeoutMs: number, proc?: ParleyProcess): Promise<void> {
  await waitFor(async () => {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new StopWaiting(`parley exited (${proc.child.exitCode ?? proc.child.signalCode}) before it was ready:\n${proc.output()}`);
    }
    return (await httpGet(`${opsUrl}/readyz`)).status === 200;
  }, timeoutMs, 200).catch((err: unknown) => {
    throw proc && !(err instanceof StopWaiting) ? new Error(`${String(err)}\n--- parley output ---\n${proc.output()}`) : err;
  });
}

