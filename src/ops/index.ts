/** Public API of ops: readiness, metrics, the ops listener. */
export { ReadinessRegistry } from './domain/readiness';
export { createMetricsRegistry } from './metrics';
export { OpsServer } from './ops-server';
export { OpsListener, OpsModule } from './ops.module';
export type { CheckResult } from './domain/readiness';
export { FastHistogram, FastHistogramVec, type FastHistogramSeries } from './fast-histogram';
