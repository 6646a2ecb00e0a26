/**
 * `parley admin …`: operator commands that call the admin REST API over mTLS. Each area
 * (policy, revoke, audit, federation, bundle, …) registers its subcommands on the group
 * through `adminSubcommand`, which adds the client identity flags and runs the action with
 * an open AdminClient, reporting failures the CLI way.
 */
import type { Command } from 'commander';
import { AdminClient, DEFAULT_ADMIN_SERVER } from '../../admin-client';
import { withClientIdentityOptions, type ClientIdentityOptions } from '../../client-identity';
import { reportFailure } from '../../context';

export const ADMIN_IDENTITY_HELP = `
Identity: the admin API accepts the SPIFFE IDs listed in admin.admins (default spiffe://<trust domain>/parley/admin).
On a development gateway:  parley dev issue --id spiffe://parley.local/parley/admin --out ~/.parley/admin
then pass --identity ~/.parley/admin (or set PARLEY_IDENTITY, or use --workload-api).`;

const ADMIN_EXAMPLES = `
Every subcommand has --help with examples.

Examples:
  $ parley admin policy list --identity ~/.parley/admin
  $ parley admin policy explain --spiffe-id spiffe://partner.example/ns/ml/sa/puller --method /parley.store.v1.StoreService/Pull
  $ parley admin revoke spiffe://partner.example/ns/ml/sa/puller --reason "key leaked"
  $ parley admin audit --decision deny --limit 20
  $ parley admin federation list
  $ parley admin bundle export -o our-bundle.json
`;

/** Registers the `admin` group; area registrars add their subcommands to the returned command. */
export function registerAdmin(program: Command, areas: ReadonlyArray<(admin: Command) => void>): Command {
  const admin = program
    .command('admin')
    .description('operate a running gateway through its admin REST API (HTTPS, mTLS)')
    .addHelpText('after', ADMIN_EXAMPLES + ADMIN_IDENTITY_HELP);
  for (const register of areas) register(admin);
  return admin;
}

/**
 * A subcommand under `parent` with the admin client flags (`--server` = admin address,
 * default 127.0.0.1:8444). `action` receives the open client, the positional arguments and
 * the options; the client is closed afterwards and failures set the exit code.
 */
/** Prints a list: a JSON array with --json, else one line per item (stderr says so when it is empty). */
export function printList<T>(items: readonly T[], json: boolean | undefined, line: (item: T) => string, empty: string): void {
  if (json === true) {
    process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    return;
  }
  if (items.length === 0) process.stderr.write(`${empty}\n`);
  for (const item of items) process.stdout.write(`${line(item)}\n`);
}

export function adminSubcommand<O extends object>(
  parent: Command,
  nameAndArgs: string,
  description: string,
  action: (client: AdminClient, args: string[], options: O & ClientIdentityOptions) => Promise<void>,
): Command {
  const cmd = parent.command(nameAndArgs).description(description);
  withClientIdentityOptions(cmd, DEFAULT_ADMIN_SERVER, 'gateway admin API address');
  cmd.action(async (...received: unknown[]) => {
    const command = received[received.length - 1] as Command;
    const options = command.opts() as O & ClientIdentityOptions;
    const args = command.args;
    let client: AdminClient | undefined;
    try {
      client = await AdminClient.open(options);
      await action(client, args, options);
    } catch (err) {
      reportFailure(err, client?.context);
    } finally {
      await client?.close().catch(() => undefined);
    }
  });
  return cmd;
}
