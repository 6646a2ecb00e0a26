import type { Command } from 'commander';
import YAML from 'yaml';
import { configSchema, type ParleyConfig } from '../../config';
import { configLeaves } from '../../config';
import { durationsAsWritten, redactConfig } from '../../config';
import { loadCheckedFromOptions, reportFailure, withConfigOption } from '../context';

/**
 * The admin roles the configuration means (admin.admins, admin.roles or the default), as YAML
 * comments. The admin and identity contexts are loaded here, not at CLI start-up (they bring
 * NestJS and TypeORM with them).
 */
export async function adminRolesComment(config: ParleyConfig): Promise<string> {
  const { describeBinding, roleBindingsOf } = await import('../../admin');
  const lines = roleBindingsOf(config.admin, config.identity.trustDomain).map((b) => `#   ${describeBinding(b)}`);
  return `# admin roles in force (derived from admin.admins and admin.roles):\n${lines.join('\n')}\n`;
}

/** The gateway's SPIFFE ID when identity.spiffeId is not set (derived from identity.trustDomain). */
async function derivedIdentityComment(config: ParleyConfig): Promise<string> {
  if (config.identity.spiffeId !== undefined) return '';
  const { gatewaySpiffeId } = await import('../../identity');
  return `# identity.spiffeId in force (derived from identity.trustDomain): ${gatewaySpiffeId(config.identity).toString()}\n`;
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  withConfigOption(config.command('print'))
    .description('print the effective configuration (file + environment + defaults), secrets redacted, and the admin roles it gives')
    .option('--json', 'print JSON instead of YAML (durations in milliseconds)')
    .addHelpText('after', '\nExamples:\n  $ parley config print\n  $ PARLEY_OPS_PORT=9500 parley config print --json\n')
    .action(async (opts: { config?: string; json?: boolean }) => {
      try {
        const loaded = await loadCheckedFromOptions(opts);
        const redacted = redactConfig(loaded.config);
        if (opts.json) process.stdout.write(`${JSON.stringify(redacted, null, 2)}\n`);
        else {
          const header = `# effective configuration${loaded.file ? ` from ${loaded.file}` : ' (no config file)'}${loaded.fromEnv.size ? `; from the environment: ${[...loaded.fromEnv.values()].join(', ')}` : ''}\n`;
          process.stdout.write(header + YAML.stringify(durationsAsWritten(redacted)) + (await derivedIdentityComment(loaded.config)) + (await adminRolesComment(loaded.config)));
        }
      } catch (err) {
        reportFailure(err);
      }
    });
  config
    .command('env')
    .description('list the environment variables that override configuration keys')
    .action(() => {
      const rows = configLeaves(configSchema).map((l) => `${l.env.padEnd(44)} ${l.path.join('.')}${l.secret ? ' (secret)' : ''}`);
      process.stdout.write(`${['DATABASE_URL'.padEnd(44) + ' database.url (secret)', 'PARLEY_CONFIG'.padEnd(44) + ' path of the configuration file', ...rows].join('\n')}\n`);
    });
}
