import type { Command } from 'commander';
import type { startGateway } from '../../gateway';
import { createLogger } from '../../logging';
import { loadCheckedFromOptions, reportFailure, withConfigOption } from '../context';

export function registerServe(program: Command): void {
  withConfigOption(program.command('serve'))
    .description('run the gateway (embedded PostgreSQL unless DATABASE_URL or database.url is set)')
    .addHelpText('after', '\nExamples:\n  $ parley serve\n  $ parley serve --config /etc/parley/parley.yaml\n  $ DATABASE_URL=postgres://parley@db:5432/parley parley serve\n')
    .action(async (opts: { config?: string }) => {
      let loaded;
      try {
        loaded = await loadCheckedFromOptions(opts);
      } catch (err) {
        return reportFailure(err);
      }
      const logger = createLogger(loaded.config.log);
      if (loaded.file) logger.info({ file: loaded.file }, 'configuration loaded');
      let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting now');
          process.exit(130);
        }
        stopping = true;
        logger.info({ signal }, 'shutting down');
        await gateway?.close();
        logger.info('stopped');
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
      try {
        // The whole gateway is loaded here, not at every CLI start.
        const { startGateway: start } = await import('../../gateway');
        gateway = await start(loaded.config, logger);
      } catch (err) {
        logger.flush?.();
        reportFailure(err);
        process.exit(process.exitCode ?? 1);
      }
      if (stopping) await gateway?.close();
    });
}
