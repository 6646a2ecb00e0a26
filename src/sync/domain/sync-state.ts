/**
 * A sync's life. The status values are the reference's (UNSPECIFIED 0 … COMPLETED 6), so its
 * clients read ours; unlike the reference, a failure carries its reason and a message, a
 * crashed worker's sync is taken over (a lease, not a status, says who runs it), and a sync
 * can be deleted in every state.
 */

export const SYNC_STATUSES = ['UNSPECIFIED', 'PENDING', 'IN_PROGRESS', 'FAILED', 'DELETE_PENDING', 'DELETED', 'COMPLETED'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

export const FAILURE_REASONS = ['UNSPECIFIED', 'UNREACHABLE', 'UNAUTHENTICATED', 'PERMISSION_DENIED', 'NOTHING_EXPORTED', 'GRANT_EXPIRED', 'INTEGRITY_MISMATCH', 'TIMEOUT', 'INTERNAL'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Wire number of a status (the enum's value). */
export const statusNumber = (s: SyncStatus): number => SYNC_STATUSES.indexOf(s);
export const failureReasonNumber = (r: FailureReason): number => FAILURE_REASONS.indexOf(r);

/** Failures worth another attempt (with backoff); the others fail the sync at once. */
const TRANSIENT: ReadonlySet<FailureReason> = new Set<FailureReason>(['UNREACHABLE', 'TIMEOUT', 'GRANT_EXPIRED', 'INTERNAL']);

export function isTransient(reason: FailureReason): boolean {
  return TRANSIENT.has(reason);
}

/** gRPC status codes (numbers, as on the wire) → the reason a sync reports. */
export function failureReasonOfGrpcCode(code: number | undefined): FailureReason {
  switch (code) {
    case 14: // UNAVAILABLE
      return 'UNREACHABLE';
    case 4: // DEADLINE_EXCEEDED
      return 'TIMEOUT';
    case 16: // UNAUTHENTICATED
      return 'UNAUTHENTICATED';
    case 7: // PERMISSION_DENIED
      return 'PERMISSION_DENIED';
    default:
      return 'INTERNAL';
  }
}

export interface SyncCounters {
  readonly discovered: number;
  readonly transferred: number;
  readonly skipped: number;
  readonly failed: number;
  readonly bytes: number;
}

export const ZERO_COUNTERS: SyncCounters = Object.freeze({ discovered: 0, transferred: 0, skipped: 0, failed: 0, bytes: 0 });

export interface RetryPolicy {
  /** First delay after a transient failure. */
  readonly initialMs: number;
  /** Largest delay. */
  readonly maxMs: number;
  /** Attempts after which a transient failure is final (FAILED). */
  readonly maxAttempts: number;
}

export type AttemptOutcome =
  | { readonly status: 'COMPLETED'; readonly nextRunAtMs?: number; readonly note?: string }
  | { readonly status: 'PENDING'; readonly nextRunAtMs: number; readonly reason: FailureReason; readonly message: string }
  | { readonly status: 'FAILED'; readonly reason: FailureReason; readonly message: string };

/**
 * What follows an attempt: a success completes a one-shot sync (a continuous one runs again
 * after its interval); a transient failure retries after an exponential backoff with full
 * jitter (between half and all of the step) until `maxAttempts`; any other failure is final.
 * `attempt` counts the failed attempts in a row, this one included.
 */
export function afterAttempt(
  result: { ok: true; note?: string } | { ok: false; reason: FailureReason; message: string },
  attempt: number,
  policy: RetryPolicy,
  schedule: { nowMs: number; intervalMs?: number; random: () => number },
): AttemptOutcome {
  if (result.ok) {
    const note = result.note === undefined ? {} : { note: result.note };
    return schedule.intervalMs === undefined ? { status: 'COMPLETED', ...note } : { status: 'COMPLETED', nextRunAtMs: schedule.nowMs + schedule.intervalMs, ...note };
  }
  if (!isTransient(result.reason) || attempt >= policy.maxAttempts) return { status: 'FAILED', reason: result.reason, message: result.message };
  return { status: 'PENDING', nextRunAtMs: schedule.nowMs + backoffMs(attempt, policy, schedule.random), reason: result.reason, message: result.message };
}

/** Delay before retry `attempt` (1-based): min(max, initial·2^(attempt−1)), jittered into [½, 1] of it. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const step = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, Math.min(30, attempt - 1)));
  return Math.round(step / 2 + (step / 2) * Math.min(1, Math.max(0, random())));
}
