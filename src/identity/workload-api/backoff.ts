/** Exponential backoff with jitter for Workload API reconnects. */
export interface BackoffOptions {
  /** First delay (attempt 0); default 1000 ms. */
  initialMs: number;
  /** Cap; default 30000 ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000 };

/**
 * The delay before retry number `attempt` (0-based): `min(max, initial * 2^attempt)`, of
 * which a random half is taken off, so the result lies in [ceiling/2, ceiling] and clients
 * restarted together do not reconnect in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new TypeError('backoff: attempt must be a non-negative integer');
  const { initialMs, maxMs } = options;
  if (!(initialMs > 0) || !(maxMs >= initialMs)) throw new TypeError('backoff: need 0 < initialMs <= maxMs');
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 52));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}
