import type { Command } from 'commander';
import { ParleyError } from '../../common';
import type { LoadedConfig } from '../../config';
import { createLogger } from '../../logging';
import type { MoveSummary } from '../../store';
import { loadFromOptions, reportFailure, withConfigOption } from '../context';
import { formatBytes, Progress } from '../progress';

interface MigratePayloadsOptions {
  config?: string;
  to: string;
  dryRun?: boolean;
  limit?: string;
  quiet?: boolean;
  json?: boolean;
}

const EXAMPLES = `
Moves the payloads of stored records between PostgreSQL (store_chunks) and the S3-compatible
object store of store.s3, while gateways keep serving them. Each payload is copied, read back
from the target and checked against its CID, then switched to in one transaction; the source
copy is removed after that. A run stopped at any point (even kill -9) loses nothing: run the
same command again and it continues. Set store.payloads to the target as well, so that new
pushes go there; gateways need store.s3 configured to read payloads in the object store.

Examples:
  $ parley migrate-payloads --to s3 --dry-run      count what would move
  $ parley migrate-payloads --to s3                move every payload into the object store
  $ parley migrate-payloads --to s3 --limit 100    move 100 payloads, then stop
  $ parley migrate-payloads --to postgres --json   move them back; print a JSON summary
`;

export function registerMigratePayloads(program: Command): void {
  withConfigOption(program.command('migrate-payloads'))
    .description('move stored payloads between PostgreSQL and the object store (store.s3), resumably')
    .requiredOption('--to <backend>', 'where payloads go: s3 or postgres')
    .option('--dry-run', 'count the payloads (and bytes) that would move; change nothing')
    .option('--limit <n>', 'move at most this many payloads')
    .option('-q, --quiet', 'no progress bar and no summary line')
    .option('--json', 'print the summary as JSON on stdout')
    .addHelpText('after', EXAMPLES)
    .action(async (opts: MigratePayloadsOptions) => {
      try {
        const summary = await migratePayloads(opts);
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else if (!opts.quiet) process.stdout.write(`${(await import('../../store')).describeMove(summary, formatBytes)}\n`);
      } catch (err) {
        reportFailure(err);
      }
    });
}

async function migratePayloads(opts: MigratePayloadsOptions): Promise<MoveSummary> {
  // The store and database contexts (TypeORM, NestJS) are loaded when the command runs, not at CLI start-up.
  const { ObjectPayloads, parseMoveLimit, parseMoveTarget, PayloadMover } = await import('../../store');
  const { connectDataSource, openDatabase, runMigrations } = await import('../../database');
  const { to } = parseMoveTarget(opts.to);
  const limit = parseMoveLimit(opts.limit);
  const { config } = loadFromOptions(opts);
  const s3 = config.store.s3;
  if (s3 === undefined) throw new ParleyError('config_invalid', 'migrate-payloads: store.s3 is not configured (the object store payloads move to or from)');
  const db = await openDatabase(config, quietLogger(config));
  const objects = ObjectPayloads.fromConfig(s3);
  try {
    const ds = await connectDataSource(db.url, config.database);
    try {
      if (config.database.migrationsRun) await runMigrations(ds);
      await objects.ready();
      const mover = new PayloadMover(ds, objects, to);
      if (opts.dryRun) return await mover.dryRun(limit);
      const pending = await mover.pending(limit);
      const progress = new Progress({ label: `to ${to}`, total: pending.bytes, quiet: opts.quiet || opts.json });
      try {
        const summary = await mover.run({ limit, onBytes: (n) => progress.add(n) });
        progress.clear();
        return summary;
      } catch (err) {
        progress.clear();
        throw err;
      }
    } finally {
      await ds.destroy();
    }
  } finally {
    objects.close();
    await db.embedded?.stop();
  }
}

function quietLogger(config: LoadedConfig['config']) {
  return createLogger({ ...config.log, level: config.log.level === 'info' ? 'warn' : config.log.level });
}
