import { Command } from 'commander';
import { VERSION } from '../common';
import { registerAdmin } from './commands/admin';
import { registerAuditCommands } from './commands/admin/audit';
import { registerAllowlists, registerRevocations } from './commands/admin/revoke';
import { registerConfig } from './commands/config';
import { registerDev } from './commands/dev';
import { registerDoctor } from './commands/doctor';
import { registerStoreCommands } from './commands/store';
import { registerMigrate } from './commands/migrate';
import { registerMigratePayloads } from './commands/migrate-payloads';
import { registerPolicyCommands } from './commands/admin/policy';
import { registerServe } from './commands/serve';
import { registerBundleCommands } from './commands/admin/bundle';
import { registerExportCommands } from './commands/admin/export';
import { registerFederationCommands } from './commands/admin/federation';
import { registerSyncCommands } from './commands/sync';
import { registerRegistryCommands } from './commands/registry';

/** Areas of `parley admin` (each adds its subcommands). */
const ADMIN_AREAS: ReadonlyArray<(admin: Command) => void> = [registerRevocations, registerAllowlists, registerAuditCommands, registerPolicyCommands, registerFederationCommands, registerBundleCommands, registerExportCommands];

/** The `parley` command. Each context adds its subcommands through a register function. */
export function buildProgram(): Command {
  const program = new Command('parley')
    .description('Parley: a zero-trust gateway for exchanging parameters between organizations over SPIFFE mTLS gRPC')
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ parley serve                      run the gateway on embedded defaults
  $ parley config print               show the effective configuration (secrets redacted)
  $ parley migrate                    apply database migrations and exit
  $ parley migrate-payloads --to s3   move stored payloads into the object store (store.s3)
  $ parley dev issue --id spiffe://parley.local/ns/ml/sa/trainer --out ~/.parley/trainer
                                      an SVID from the development CA for a client
  $ parley doctor --identity ~/.parley/trainer
                                      check the path to the gateway, in words
  $ parley push weights.bin -n ml/models --identity ~/.parley/trainer
                                      store a file; prints its CID
  $ parley pull bafkrei… -o weights.bin --identity ~/.parley/trainer
  $ parley referrer push bafkrei… --type signature --file weights.sig --identity ~/.parley/trainer
                                      attach a signature to a record
  $ parley admin policy list --identity ~/.parley/admin
                                      operate the gateway (policies, revocations, audit, federation)

Identity: --identity DIR (svid.pem, svid.key, bundle.pem) or $PARLEY_IDENTITY; --svid/--key/--bundle
override single files; --workload-api or $SPIFFE_ENDPOINT_SOCKET for the SPIFFE Workload API.

Configuration: ./parley.yaml (or --config FILE / $PARLEY_CONFIG), overridden by PARLEY_* variables
(see 'parley config env'); DATABASE_URL selects an external PostgreSQL.`,
    );
  registerServe(program);
  registerMigrate(program);
  registerMigratePayloads(program);
  registerConfig(program);
  registerDev(program);
  registerDoctor(program);
  registerStoreCommands(program);
  registerSyncCommands(program);
  registerRegistryCommands(program);
  registerAdmin(program, ADMIN_AREAS);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`parley: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
