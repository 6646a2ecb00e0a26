import { join } from 'node:path';
import type { Logger } from 'pino';
import type { IdentityConfig } from '../config';
import { SpiffeId, TrustDomain } from '../spiffe';
import { DevCa } from './dev-ca/dev-ca';
import { DevCaSource } from './dev-ca/dev-ca-source';
import type { IdentitySource } from './domain/identity';
import { FilesSource } from './files-source';
import { WorkloadApiSource } from './workload-api/workload-api-client';

/** The gateway's own SPIFFE ID: configured, or spiffe://<trustDomain>/parley/gateway. */
export function gatewaySpiffeId(config: IdentityConfig): SpiffeId {
  return SpiffeId.parse(config.spiffeId ?? `spiffe://${config.trustDomain}/parley/gateway`);
}

export async function openDevCa(config: IdentityConfig, dataDir: string): Promise<DevCa> {
  return DevCa.open({
    dir: join(dataDir, 'dev-ca', config.trustDomain),
    trustDomain: TrustDomain.parse(config.trustDomain),
    caTtlMs: config.devCa.caTtl,
    svidTtlMs: config.devCa.svidTtl,
    publishLeadMs: config.devCa.caPublishLead,
  });
}

/** Builds the identity source chosen by `identity.source`. */
export async function createIdentitySource(config: IdentityConfig, dataDir: string, logger: Logger): Promise<IdentitySource> {
  const log = logger.child({ component: 'identity', source: config.source });
  switch (config.source) {
    case 'dev-ca': {
      const ca = await openDevCa(config, dataDir);
      return new DevCaSource({ ca, spiffeId: gatewaySpiffeId(config), dnsNames: config.devCa.dnsNames, onError: (err) => log.warn({ err }, 'dev ca renewal failed') });
    }
    case 'files':
      return new FilesSource({
        cert: config.files.cert!,
        key: config.files.key!,
        bundle: config.files.bundle!,
        trustDomain: TrustDomain.parse(config.trustDomain),
        pollIntervalMs: config.files.pollInterval,
        onError: (message) => log.warn(message),
        onReload: (s) => log.info({ serial: s.svid.leaf.serialNumber, notAfter: s.svid.notAfter.toISOString() }, 'identity files reloaded'),
      });
    case 'workload-api':
      return new WorkloadApiSource({ address: config.workloadApi.address, startTimeoutMs: config.workloadApi.startTimeout, logger: log });
  }
}
