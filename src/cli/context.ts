import type { Command } from 'commander';
import { ConfigError, loadConfig, type LoadedConfig } from '../config';
import { ParleyError } from '../common';

/** Options every command that reads the configuration accepts. */
export function withConfigOption(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'configuration file (default: $PARLEY_CONFIG, else ./parley.yaml if present)');
}

export function loadFromOptions(opts: { config?: string }): LoadedConfig {
  return loadConfig({ file: opts.config });
}

/** Prints a failure for a person (no stack trace, no secrets) and sets a non-zero exit code. */
export function reportFailure(err: unknown): void {
  if (err instanceof ConfigError) {
    process.stderr.write(`parley: ${err.message}\n`);
    process.exitCode = 78; // EX_CONFIG
    return;
  }
  if (err instanceof ParleyError) {
    process.stderr.write(`parley: ${err.message}\n`);
    process.exitCode = err.code === 'config_invalid' ? 78 : 1;
    return;
  }
  process.stderr.write(`parley: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
