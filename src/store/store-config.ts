import type { GrpcConfig, StoreConfig } from '../config';
import { objectPartsBytes, storeLimits, type StoreLimits } from './domain/limits';

/**
 * The store limits the configuration asks for (the gRPC service and the admin API use the same).
 * `grpc` gives the largest message received (what one message being received may hold); default 8 MiB.
 * With store.payloads s3 a push holds the object store's parts instead of chunks (objectPartsBytes).
 */
export function storeLimitsFromConfig(c: StoreConfig, grpc?: Pick<GrpcConfig, 'maxMessageBytes'>): StoreLimits {
  return storeLimits({
    maxRecordBytes: c.maxRecordBytes,
    chunkBytes: c.chunkBytes,
    maxAnnotations: c.maxAnnotations,
    maxAnnotationValueBytes: c.maxAnnotationValueBytes,
    maxReferrerBytes: c.maxReferrerBytes,
    pushIdleTimeoutMs: c.pushIdleTimeout,
    pullStallTimeoutMs: c.pullStallTimeout,
    stagingTtlMs: c.stagingTtl,
    pullsPerSpiffeId: c.pullsPerSpiffeId,
    pullsPerTrustDomain: c.pullsPerTrustDomain,
    pushesPerSpiffeId: c.pushesPerSpiffeId,
    pushesPerTrustDomain: c.pushesPerTrustDomain,
    uploadBufferBytes: c.uploadBufferBytes,
    uploadBufferWaitMs: c.uploadBufferWait,
    objectPartsBytes: c.payloads === 's3' && c.s3 !== undefined ? objectPartsBytes(c.s3) : 0,
    ...(grpc === undefined ? {} : { receiveMessageBytes: grpc.maxMessageBytes }),
  });
}
