import type { ParleyConfig } from '../../config';
import { createLogger } from '../../logging';
import type { SpiffeId } from '../../spiffe';

/** `parley dev workload-api`: the real Workload API protocol on a unix socket, fed by the dev CA. */
export async function serveDevWorkloadApi(options: { config: ParleyConfig; socket: string; id?: SpiffeId; ttlMs?: number }): Promise<void> {
  const logger = createLogger(options.config.log).child({ component: 'dev-workload-api' });
  // Loaded when the command runs, not at CLI start-up (the context brings NestJS with it).
  const { DevCaWorkloadProvider, gatewaySpiffeId, openDevCa, WorkloadApiServer } = await import('../../identity');
  const ca = await openDevCa(options.config.identity, options.config.dataDir);
  const id = options.id ?? gatewaySpiffeId(options.config.identity);
  const provider = new DevCaWorkloadProvider(ca, id, options.ttlMs, (err) => logger.error({ err }, 'svid renewal failed'));
  await provider.start();
  const server = new WorkloadApiServer(provider);
  await server.listen(`unix://${options.socket}`);
  logger.info({ socket: options.socket, id: id.toString() }, `serving the SPIFFE Workload API; set SPIFFE_ENDPOINT_SOCKET=unix://${options.socket}`);
  const stop = async () => {
    provider.stop();
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
