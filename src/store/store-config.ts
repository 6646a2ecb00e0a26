import type { StoreConfig } from '../config/schema';
import { storeLimits, type StoreLimits } from './domain/limits';

/** The store limits the configuration asks for (the gRPC service and the admin API use the same). */
export function storeLimitsFromConfig(c: StoreConfig): StoreLimits {
  return storeLimits({
    maxRecordBytes: c.maxRecordBytes,
    chunkBytes: c.chunkBytes,
    maxAnnotations: c.maxAnnotations,
    maxAnnotationValueBytes: c.maxAnnotationValueBytes,
    maxReferrerBytes: c.maxReferrerBytes,
    pushIdleTimeoutMs: c.pushIdleTimeout,
    pullStallTimeoutMs: c.pullStallTimeout,
    stagingTtlMs: c.stagingTtl,
  });
}
