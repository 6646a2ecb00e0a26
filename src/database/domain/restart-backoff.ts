/** Delay before restart attempt `failures + 1`: `initialMs`, doubling after each failure, at most `maxMs`. */
export function restartDelayMs(failures: number, initialMs: number, maxMs: number): number {
  if (!Number.isInteger(failures) || failures < 0) throw new TypeError('restartDelayMs: failures must be a non-negative integer');
  return Math.min(maxMs, initialMs * 2 ** Math.min(failures, 30));
}
