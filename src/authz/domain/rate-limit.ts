/**
 * Token buckets for call rate limits, pure: the caller passes the time, nothing runs on a
 * timer. A bucket holds up to `burst` tokens and gains `ratePerSecond` tokens per second;
 * each call takes one.
 */

export interface BucketSpec {
  /** Tokens added per second; 0 turns the limit off. */
  readonly ratePerSecond: number;
  /** Most tokens a bucket holds (the burst a quiet caller may send at once), at least 1. */
  readonly burst: number;
}

export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, caller's clock). */
  updatedMs: number;
  /** When it was last used, as a count of its table's uses (for eviction). */
  used: number;
}

/** Buckets an eviction looks at (the oldest-inserted ones). */
const EVICTION_SAMPLE = 64;

export function validateBucketSpec(spec: BucketSpec): void {
  if (!Number.isFinite(spec.ratePerSecond) || spec.ratePerSecond < 0) throw new TypeError('rate limit: ratePerSecond must be a finite number >= 0');
  if (!Number.isFinite(spec.burst) || spec.burst < 1) throw new TypeError('rate limit: burst must be a finite number >= 1');
}

/** A full bucket (a caller seen for the first time may send a whole burst). */
export function newBucket(spec: BucketSpec, nowMs: number): Bucket {
  return { tokens: spec.burst, updatedMs: nowMs, used: 0 };
}

/** Adds the tokens earned since the last update (never above burst; a clock going back adds none). */
export function refill(bucket: Bucket, spec: BucketSpec, nowMs: number): void {
  const elapsed = nowMs - bucket.updatedMs;
  if (elapsed > 0) {
    bucket.tokens = Math.min(spec.burst, bucket.tokens + (elapsed * spec.ratePerSecond) / 1000);
    bucket.updatedMs = nowMs;
  }
}

/** True when the bucket (already refilled) holds a whole token. */
export function hasToken(bucket: Bucket): boolean {
  return bucket.tokens >= 1;
}

/** True when the bucket has refilled to its burst: dropping it loses nothing. */
export function isFull(bucket: Bucket, spec: BucketSpec, nowMs: number): boolean {
  refill(bucket, spec, nowMs);
  return bucket.tokens >= spec.burst;
}

/**
 * Buckets by key with a bound on the number kept. When a new key would exceed the bound,
 * buckets that have refilled to full are dropped first (they equal a fresh bucket); if none
 * is, the least recently used one is dropped (its caller then starts with a full bucket
 * again, a bounded leak that keeps memory bounded under a flood of distinct identities).
 * Both looks are sampled: the oldest-inserted EVICTION_SAMPLE buckets, so a use costs one map
 * lookup (no reordering) and an eviction a bounded scan; with fewer buckets than that the
 * choice is exact.
 */
export class BucketTable {
  /** Insertion order (oldest first); recency is in each bucket's `used`. */
  private readonly buckets = new Map<string, Bucket>();
  private uses = 0;

  constructor(
    readonly spec: BucketSpec,
    readonly maxEntries: number,
  ) {
    validateBucketSpec(spec);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('rate limit: maxEntries must be a positive integer');
  }

  get enabled(): boolean {
    return this.spec.ratePerSecond > 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** The bucket of `key`, refilled to `nowMs` and marked most recently used. */
  bucket(key: string, nowMs: number): Bucket {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxEntries) this.evict(nowMs);
      b = newBucket(this.spec, nowMs);
      this.buckets.set(key, b);
    } else {
      refill(b, this.spec, nowMs);
    }
    b.used = ++this.uses;
    return b;
  }

  private evict(nowMs: number): void {
    // Full buckets among the oldest-inserted first; then the least recently used of those.
    let looked = 0;
    let lruKey: string | undefined;
    let lruUsed = Number.POSITIVE_INFINITY;
    for (const [key, b] of this.buckets) {
      if (isFull(b, this.spec, nowMs)) this.buckets.delete(key);
      else if (b.used < lruUsed) {
        lruUsed = b.used;
        lruKey = key;
      }
      if (++looked >= EVICTION_SAMPLE) break;
    }
    if (this.buckets.size >= this.maxEntries && lruKey !== undefined) this.buckets.delete(lruKey);
    while (this.buckets.size >= this.maxEntries) {
      const oldest = this.buckets.keys().next();
      if (oldest.done === true) break;
      this.buckets.delete(oldest.value);
    }
  }
}

/**
 * Takes one token from every enabled table's bucket, or from none: the call goes on only
 * when each bucket holds a token, so a call refused by one limit never spends the tokens of
 * another. Returns the index of the first table that refused, or -1 when the call may go on.
 */
export function takeAll(tables: ReadonlyArray<{ table: BucketTable; key: string }>, nowMs: number): number {
  const buckets: Bucket[] = [];
  for (let i = 0; i < tables.length; i++) {
    const { table, key } = tables[i]!;
    if (!table.enabled) continue;
    const b = table.bucket(key, nowMs);
    if (!hasToken(b)) return i;
    buckets.push(b);
  }
  for (const b of buckets) b.tokens -= 1;
  return -1;
}
