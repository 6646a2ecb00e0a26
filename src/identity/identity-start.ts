import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ParleyError, type ShutdownSequence } from '../common';
import type { ParleyConfig } from '../config';
import type { ReadinessRegistry } from '../ops';
import type { TrustStore } from '../trust';
import { createIdentitySource, gatewaySpiffeId } from './create-source';
import type { IdentitySource } from './domain/identity';
import { IdentityMonitor } from './identity-monitor';

/**
 * Starts the identity source chosen by `identity.source` and waits for its first SVID. A
 * files or Workload API source must deliver the configured `identity.spiffeId`.
 */
export async function startIdentity(config: ParleyConfig, logger: Logger, shutdown: ShutdownSequence): Promise<IdentitySource> {
  const source = await createIdentitySource(config.identity, config.dataDir, logger);
  const snapshot = await shutdown.step('identity source', () => source.start(), () => source.stop());
  const expected = gatewaySpiffeId(config.identity);
  if (config.identity.source !== 'dev-ca' && config.identity.spiffeId && !snapshot.svid.id.equals(expected)) {
    throw new ParleyError('config_invalid', `identity.spiffeId: the ${config.identity.source} source delivered ${snapshot.svid.id.toString()}, not ${expected.toString()}`);
  }
  return source;
}

/** Feeds the own bundle into the trust store, watches expiry, and reports readiness. */
export function monitorIdentity(
  d: { source: IdentitySource; trustStore: TrustStore; config: ParleyConfig; logger: Logger; metrics: Registry; readiness: ReadinessRegistry },
  shutdown: ShutdownSequence,
): IdentityMonitor {
  const monitor = new IdentityMonitor(d.source, d.trustStore, { expiryWarningMs: d.config.identity.expiryWarning, logger: d.logger, metrics: d.metrics });
  shutdown.add('identity monitor', () => monitor.stop());
  d.readiness.register('identity', () => monitor.readiness());
  return monitor;
}
