import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { StopWaiting, waitFor } from '../../support/ports';

/** Where test/interop/setup.sh puts the pinned peers (gitignored). */
export const INTEROP_DIR = resolve(__dirname, '..');
export const CACHE = resolve(INTEROP_DIR, '.cache');
export const REPO = resolve(INTEROP_DIR, '../..');
export const DESCRIPTOR_SET = resolve(REPO, 'proto/descriptor-set.binpb');
export const PYTHON = resolve(CACHE, 'venv/bin/python');

/** A peer binary built by setup.sh; throws with the recorded build error when it did not build. */
export function peer(name: 'grpcurl' | 'parley-interop' | 'spire-server' | 'spire-agent' | 'helm' | 'kubectl-validate' | 'compose-config' | 'oras' | 'oci-conformance' | 'mtls-bridge'): string {
  const path = resolve(CACHE, 'bin', name);
  if (existsSync(path)) return path;
  const error = resolve(CACHE, `${name}.build-error`);
  const why = existsSync(error) ? readFileSync(error, 'utf8').slice(-4000) : 'run test/interop/setup.sh (npm run test:interop does)';
  throw new Error(`interop peer ${name} is missing: ${why}`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a peer to completion, bounded by `timeoutMs` (then SIGKILL). */
export function run(cmd: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      done({ code: -1, stdout, stderr: stderr + String(err) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** JSON lines printed by a harness. */
export function jsonLines<T = Record<string, unknown>>(out: string): T[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}

/** Runs the Python grpcio harness (test/interop/python/<script>). */
export function python(script: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run(PYTHON, [resolve(INTEROP_DIR, 'python', script), ...args], { timeoutMs });
}

export interface RunningPeer {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the first JSON line matching `match` (bounded by `timeoutMs`). */
  line(match: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts a long-running peer (SPIRE, a harness server); stop() sends SIGTERM, then SIGKILL after 10 s. */
export function startPeer(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunningPeer {
  const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    child,
    output: () => out,
    async line(match, timeoutMs = 60_000) {
      const found = await waitFor(() => jsonLines(out).find(match) ?? (child.exitCode !== null ? Promise.reject(new StopWaiting(`${cmd} exited: ${out.slice(-3000)}`)) : undefined), timeoutMs, 100).catch(
        (err: unknown) => {
          throw new Error(`${String(err)}\n--- ${cmd} output ---\n${out.slice(-3000)}`);
        },
      );
      return found;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
