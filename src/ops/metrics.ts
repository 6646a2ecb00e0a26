import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** The gateway's Prometheus registry (one per gateway instance, so tests can run several). */
export function createMetricsRegistry(version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  const info = new Gauge({ name: 'parley_build_info', help: 'Parley build information', labelNames: ['version', 'node'], registers: [registry] });
  info.set({ version, node: process.version }, 1);
  return registry;
}
