const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Store limits (configuration `store.*`); every value is a positive integer (`objectPartsBytes` may be 0). */
export interface StoreLimits {
  /** Largest payload of a record, in bytes. */
  readonly maxRecordBytes: number;
  /** Size of the stored chunks and of the chunks Pull sends, in bytes. */
  readonly chunkBytes: number;
  readonly maxAnnotations: number;
  readonly maxAnnotationKeyBytes: number;
  readonly maxAnnotationValueBytes: number;
  /** Keys and values of all annotations of one record or referrer together, in bytes. */
  readonly maxAnnotationsTotalBytes: number;
  /** Largest referrer document, in bytes. */
  readonly maxReferrerBytes: number;
  readonly maxReferrersPerRecord: number;
  /**
   * Documents (referrer manifests and the blobs they name) one namespace may hold for referrers
   * pushed before their subject; each subject digest holds at most `maxReferrersPerRecord`.
   */
  readonly maxSubjectlessReferrers: number;
  /** Most refs one Lookup may name. */
  readonly maxLookupRefs: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  /** A push that receives nothing for this long fails (DEADLINE_EXCEEDED) and stores nothing. */
  readonly pushIdleTimeoutMs: number;
  /** A pull whose client reads nothing for this long is cancelled. */
  readonly pullStallTimeoutMs: number;
  /** Unfinished pushes whose staged chunks were not touched for this long are removed (crash leftovers). */
  readonly stagingTtlMs: number;
  /** Pulls one SPIFFE ID may have running at once (more: RESOURCE_EXHAUSTED). */
  readonly pullsPerSpiffeId: number;
  /** Pulls all SPIFFE IDs of one trust domain may have running at once. */
  readonly pullsPerTrustDomain: number;
  /** Pushes one SPIFFE ID may have running at once. */
  readonly pushesPerSpiffeId: number;
  /** Pushes all SPIFFE IDs of one trust domain may have running at once. */
  readonly pushesPerTrustDomain: number;
  /** Bytes all running pushes together may hold in memory; each push reserves `pushBufferBytes(limits)` before it reads. */
  readonly uploadBufferBytes: number;
  /** A push that waited this long for upload buffer space is refused (RESOURCE_EXHAUSTED); while it waits it reads nothing. */
  readonly uploadBufferWaitMs: number;
  /** Largest message the gRPC server accepts (grpc.maxMessageBytes): what one message being received may hold. */
  readonly receiveMessageBytes: number;
  /**
   * What a push into the object store holds in multipart parts, `objectPartsBytes(store.s3)`,
   * when new payloads go there (store.payloads: s3); 0 when they go to PostgreSQL.
   */
  readonly objectPartsBytes: number;
}

/** Chunks one push may have in its database socket's buffers besides the one it is cutting. */
export const PUSH_WRITES_IN_FLIGHT = 2;

/**
 * What an upload into the configured backend holds besides the messages it receives: the
 * parts uploading and filling (object store, `objectPartsBytes`) or the chunks being written
 * and cut (PostgreSQL). What a sync import reserves from `uploadBufferBytes`.
 */
export function uploadStagingBytes(limits: Pick<StoreLimits, 'chunkBytes'> & Partial<Pick<StoreLimits, 'objectPartsBytes'>>): number {
  return limits.objectPartsBytes ? limits.objectPartsBytes : (PUSH_WRITES_IN_FLIGHT + 1) * limits.chunkBytes;
}

/**
 * What one push may hold in memory at most, and so reserves from `uploadBufferBytes`: the
 * message being received (grpc-js reads one ahead) and the one being staged (the chunker keeps
 * slices of it), each up to `receiveMessageBytes`, plus what its upload stages (`uploadStagingBytes`).
 */
export function pushBufferBytes(limits: Pick<StoreLimits, 'receiveMessageBytes' | 'chunkBytes'> & Partial<Pick<StoreLimits, 'objectPartsBytes'>>): number {
  return 2 * limits.receiveMessageBytes + uploadStagingBytes(limits);
}

/** What an object-store upload holds in parts: `partsInFlight` uploading (each a copy of its bytes) and the one filling. */
export function objectPartsBytes(s3: { readonly partBytes: number; readonly partsInFlight: number }): number {
  return (s3.partsInFlight + 1) * s3.partBytes;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = Object.freeze({
  maxRecordBytes: 8 * GiB,
  chunkBytes: 1 * MiB,
  maxAnnotations: 64,
  maxAnnotationKeyBytes: 128,
  maxAnnotationValueBytes: 4 * KiB,
  maxAnnotationsTotalBytes: 16 * KiB,
  maxReferrerBytes: 1 * MiB,
  maxReferrersPerRecord: 1000,
  maxSubjectlessReferrers: 10_000,
  maxLookupRefs: 100,
  defaultPageSize: 100,
  maxPageSize: 1000,
  pushIdleTimeoutMs: 120_000,
  pullStallTimeoutMs: 120_000,
  stagingTtlMs: 30 * 60_000,
  pullsPerSpiffeId: 4,
  pullsPerTrustDomain: 8,
  pushesPerSpiffeId: 4,
  pushesPerTrustDomain: 16,
  uploadBufferBytes: 256 * MiB,
  uploadBufferWaitMs: 30_000,
  receiveMessageBytes: 8 * MiB,
  objectPartsBytes: 0,
});

/** The defaults with some values replaced. Misuse (our own bad configuration) throws TypeError. */
export function storeLimits(overrides: Partial<StoreLimits> = {}): StoreLimits {
  const limits: StoreLimits = { ...DEFAULT_STORE_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    const least = key === 'objectPartsBytes' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < least) throw new TypeError(`storeLimits: ${key} must be ${least === 0 ? 'a non-negative' : 'a positive'} integer`);
  }
  if (limits.chunkBytes < 4 * KiB || limits.chunkBytes > 64 * MiB) throw new TypeError('storeLimits: chunkBytes must be 4 KiB to 64 MiB');
  if (limits.defaultPageSize > limits.maxPageSize) throw new TypeError('storeLimits: defaultPageSize must not exceed maxPageSize');
  if (limits.stagingTtlMs < 2 * limits.pushIdleTimeoutMs) throw new TypeError('storeLimits: stagingTtlMs must be at least twice pushIdleTimeoutMs');
  if (limits.uploadBufferBytes < pushBufferBytes(limits)) throw new TypeError('storeLimits: uploadBufferBytes must hold one push (2 x the largest message + 3 chunks or the object-store parts)');
  return Object.freeze(limits);
}
