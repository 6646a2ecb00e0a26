import { afterAttempt, backoffMs, failureReasonNumber, failureReasonOfGrpcCode, statusNumber, type RetryPolicy } from './sync-state';

const POLICY: RetryPolicy = { initialMs: 1000, maxMs: 60_000, maxAttempts: 5 };
const NOW = 1_000_000;

describe('sync status', () => {
  it('keeps the reference enum values', () => {
    expect(['UNSPECIFIED', 'PENDING', 'IN_PROGRESS', 'FAILED', 'DELETE_PENDING', 'DELETED', 'COMPLETED'].map((s) => statusNumber(s as never))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(failureReasonNumber('NOTHING_EXPORTED')).toBe(4);
  });

  it('maps gRPC codes to reasons', () => {
    expect([14, 4, 16, 7, 13, undefined].map(failureReasonOfGrpcCode)).toEqual(['UNREACHABLE', 'TIMEOUT', 'UNAUTHENTICATED', 'PERMISSION_DENIED', 'INTERNAL', 'INTERNAL']);
  });

  it('completes a one-shot sync, schedules the next run of a continuous one', () => {
    expect(afterAttempt({ ok: true }, 0, POLICY, { nowMs: NOW, random: () => 0.5 })).toEqual({ status: 'COMPLETED' });
    expect(afterAttempt({ ok: true }, 0, POLICY, { nowMs: NOW, intervalMs: 30_000, random: () => 0.5 })).toEqual({ status: 'COMPLETED', nextRunAtMs: NOW + 30_000 });
    expect(afterAttempt({ ok: true, note: 'referrers from the tag schema' }, 0, POLICY, { nowMs: NOW, random: () => 0.5 })).toEqual({ status: 'COMPLETED', note: 'referrers from the tag schema' });
  });

  it('retries transient failures with backoff until the attempts run out, fails permanent ones at once', () => {
    const unreachable = { ok: false as const, reason: 'UNREACHABLE' as const, message: 'partner down' };
    expect(afterAttempt(unreachable, 1, POLICY, { nowMs: NOW, random: () => 1 })).toEqual({ status: 'PENDING', nextRunAtMs: NOW + 1000, reason: 'UNREACHABLE', message: 'partner down' });
    expect(afterAttempt(unreachable, 3, POLICY, { nowMs: NOW, random: () => 0 })).toMatchObject({ status: 'PENDING', nextRunAtMs: NOW + 2000 });
    expect(afterAttempt(unreachable, 5, POLICY, { nowMs: NOW, random: () => 0 })).toEqual({ status: 'FAILED', reason: 'UNREACHABLE', message: 'partner down' });
    for (const reason of ['PERMISSION_DENIED', 'NOTHING_EXPORTED', 'INTEGRITY_MISMATCH', 'UNAUTHENTICATED'] as const) {
      expect(afterAttempt({ ok: false, reason, message: 'no' }, 1, POLICY, { nowMs: NOW, random: () => 0 }).status).toBe('FAILED');
    }
  });

  it('backs off exponentially up to the maximum, jittered into [½, 1] of the step', () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(a, POLICY, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(20, POLICY, () => 1)).toBe(60_000);
    expect(backoffMs(20, POLICY, () => 0)).toBe(30_000);
    expect(backoffMs(1000, POLICY, () => 2)).toBe(60_000);
  });
});
