import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { ConfigError, loadConfig, type LoadedConfig } from '../config';
import { ParleyError } from '../common';
import { explainFailure, type FailureContext } from './domain/explain-failure';
import { TransferInterrupted } from './interrupt';

/** Options every command that reads the configuration accepts. */
export function withConfigOption(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'configuration file (default: $PARLEY_CONFIG, else ./parley.yaml if present)');
}

export function loadFromOptions(opts: { config?: string }): LoadedConfig {
  return loadConfig({ file: opts.config });
}

/**
 * The configuration with authz.policy.rules judged with the rest of it, every problem at once,
 * before the database starts (the served methods are checked once the gateway knows them).
 * The policy code is loaded here, not at CLI start-up, so other commands do not pay for it.
 */
export async function loadCheckedFromOptions(opts: { config?: string }): Promise<LoadedConfig> {
  const { configRuleProblems } = await import('../authz');
  return loadConfig({ file: opts.config, checks: [configRuleProblems] });
}

/** A gRPC status error (grpc-js ServiceError). */
export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as grpc.ServiceError).code === 'number' && 'details' in err && 'metadata' in err;
}

function writeHints(err: unknown, explain: FailureContext | undefined, message: string): void {
  if (explain === undefined) return;
  const code = isServiceError(err) ? grpc.status[err.code] : err instanceof ParleyError ? err.code : undefined;
  for (const hint of explainFailure({ code, message }, explain)) process.stderr.write(`  hint: ${hint}\n`);
}

/**
 * Prints a failure for a person (no stack trace, no secrets; PARLEY_DEBUG=1 adds the stack
 * of an unexpected error) and sets a non-zero exit code. With `explain`, the likely cause
 * and its fix follow as hint lines. A transfer a signal stopped exits with 128 + the signal.
 */
export function reportFailure(err: unknown, explain?: FailureContext): void {
  if (err instanceof TransferInterrupted) {
    // What the transfer kept and what to run next; no status, no hints: the user stopped it.
    process.stderr.write(`parley: ${err.message}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`parley: ${err.message}\n`);
    process.exitCode = 78; // EX_CONFIG
    return;
  }
  if (isServiceError(err)) {
    const name = grpc.status[err.code] ?? `code ${err.code}`;
    const message = `${name}: ${err.details || err.message}`;
    process.stderr.write(`parley: ${message}\n`);
    writeHints(err, explain, message);
    process.exitCode = 1;
    return;
  }
  if (err instanceof ParleyError) {
    process.stderr.write(`parley: ${err.message}\n`);
    writeHints(err, explain, err.message);
    process.exitCode = err.code === 'config_invalid' ? 78 : 1;
    return;
  }
  const errno = err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && typeof (err as NodeJS.ErrnoException).syscall === 'string';
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(errno ? `parley: ${message}\n` : `parley: unexpected error: ${message}\n`);
  if (process.env.PARLEY_DEBUG === '1' && err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
  writeHints(err, explain, message);
  process.exitCode = 1;
}
