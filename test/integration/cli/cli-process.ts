/** Runs the `parley` CLI as a child process with stdout and stderr kept apart. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { cleanEnv } from '../../support/parley-process';

const ROOT = resolve(__dirname, '../../..');

/** The real `parley` entry point. */
export const CLI_ENTRY = resolve(ROOT, 'bin/parley.js');

export interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function startCli(args: string[], cwd: string, timeoutMs = 120_000, extraEnv: Record<string, string> = {}): CliRun {
  const env = cleanEnv();
  delete env.SPIFFE_ENDPOINT_SOCKET;
  delete env.PARLEY_IDENTITY;
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout, stderr });
    }),
  );
  return { child, done };
}

export function runCli(args: string[], cwd: string, timeoutMs?: number, extraEnv?: Record<string, string>) {
  return startCli(args, cwd, timeoutMs, extraEnv).done;
}
