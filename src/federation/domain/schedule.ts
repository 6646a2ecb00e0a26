/**
 * When to poll a partner's bundle endpoint next (CONFORMANCE §4, DECIDED): after a success,
 * the refresh hint (5 min when absent) clamped to [30 s, 1 h]; after a failure, exponential
 * backoff from 5 s, doubling per consecutive failure, capped at that same interval. Every
 * delay gets ±10% jitter so replicas and partners do not poll in lock step.
 */
export const POLL = { defaultHintMs: 300_000, minMs: 30_000, maxMs: 3_600_000, jitter: 0.1, firstBackoffMs: 5_000 };

/** The regular interval: the hint (seconds) in ms, or the default, clamped to [minMs, maxMs]. */
export function refreshIntervalMs(refreshHintSeconds?: number): number {
  const hint =
    typeof refreshHintSeconds === 'number' && Number.isFinite(refreshHintSeconds) && refreshHintSeconds >= 0
      ? refreshHintSeconds * 1000
      : POLL.defaultHintMs;
  return Math.min(POLL.maxMs, Math.max(POLL.minMs, hint));
}

/**
 * Delay before the next poll. `consecutiveFailures` counts failures since the last success,
 * this one included (1 after the first failure). `random` returns a number in [0, 1).
 */
export function nextPollDelayMs(o: { succeeded: boolean; refreshHintSeconds?: number; consecutiveFailures: number; random?: () => number }): number {
  const interval = refreshIntervalMs(o.refreshHintSeconds);
  let base = interval;
  if (!o.succeeded) {
    const failures = Number.isFinite(o.consecutiveFailures) ? Math.max(1, Math.floor(o.consecutiveFailures)) : 1;
    // 2^(failures-1) without overflow: past 30 doublings the cap has long been reached.
    base = Math.min(interval, POLL.firstBackoffMs * 2 ** Math.min(failures - 1, 30));
  }
  let r = (o.random ?? Math.random)();
  if (!Number.isFinite(r)) r = 0.5;
  r = Math.min(1, Math.max(0, r));
  return Math.round(base * (1 + POLL.jitter * (2 * r - 1)));
}
