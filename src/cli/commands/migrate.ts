import type { Command } from 'commander';
import { createLogger } from '../../logging';
import { loadFromOptions, reportFailure, withConfigOption } from '../context';

export function registerMigrate(program: Command): void {
  withConfigOption(program.command('migrate'))
    .description('apply pending database migrations and exit')
    .addHelpText('after', '\nExamples:\n  $ parley migrate\n  $ DATABASE_URL=postgres://parley@db:5432/parley parley migrate\n')
    .action(async (opts: { config?: string }) => {
      let embedded;
      try {
        const { config } = loadFromOptions(opts);
        const logger = createLogger({ ...config.log, level: config.log.level === 'info' ? 'warn' : config.log.level });
        const { connectDataSource, openDatabase, runMigrations } = await import('../../database'); // loaded when run (TypeORM)
        const db = await openDatabase(config, logger);
        embedded = db.embedded;
        const ds = await connectDataSource(db.url, config.database);
        try {
          const applied = await runMigrations(ds);
          process.stdout.write(applied.length ? `applied ${applied.length} migration(s):\n${applied.map((n) => `  ${n}\n`).join('')}` : 'database is up to date\n');
        } finally {
          await ds.destroy();
        }
      } catch (err) {
        reportFailure(err);
      } finally {
        await embedded?.stop();
      }
    });
}
