import { nextPollDelayMs, POLL, refreshIntervalMs } from './schedule';

const low = () => 0;
const mid = () => 0.5;
const high = () => 0.999_999;

describe('refreshIntervalMs', () => {
  it.each<[number | undefined, number]>([
    [undefined, 300_000],
    [60, 60_000],
    [0, POLL.minMs],
    [1, POLL.minMs],
    [30, 30_000],
    [3600, 3_600_000],
    [86_400, POLL.maxMs],
    [Number.NaN, 300_000],
    [-5, 300_000],
  ])('hint %s s → %s ms', (hint, expected) => {
    expect(refreshIntervalMs(hint)).toBe(expected);
  });
});

describe('nextPollDelayMs after a success', () => {
  it('uses the refresh hint (default 5 min) without jitter at the midpoint', () => {
    expect(nextPollDelayMs({ succeeded: true, consecutiveFailures: 0, random: mid })).toBe(300_000);
    expect(nextPollDelayMs({ succeeded: true, refreshHintSeconds: 120, consecutiveFailures: 0, random: mid })).toBe(120_000);
  });

  it('clamps the hint to [30 s, 1 h] before jitter', () => {
    expect(nextPollDelayMs({ succeeded: true, refreshHintSeconds: 1, consecutiveFailures: 0, random: mid })).toBe(30_000);
    expect(nextPollDelayMs({ succeeded: true, refreshHintSeconds: 999_999, consecutiveFailures: 0, random: mid })).toBe(3_600_000);
  });

  it('jitters by ±10% and stays inside that range for any random value', () => {
    expect(nextPollDelayMs({ succeeded: true, consecutiveFailures: 0, random: low })).toBe(270_000);
    expect(nextPollDelayMs({ succeeded: true, consecutiveFailures: 0, random: high })).toBeCloseTo(330_000, -1);
    for (let i = 0; i < 1000; i++) {
      const d = nextPollDelayMs({ succeeded: true, refreshHintSeconds: 60, consecutiveFailures: 0 });
      expect(d).toBeGreaterThanOrEqual(54_000);
      expect(d).toBeLessThanOrEqual(66_000);
    }
    // a broken random source cannot push the delay out of range
    expect(nextPollDelayMs({ succeeded: true, consecutiveFailures: 0, random: () => 7 })).toBe(330_000);
    expect(nextPollDelayMs({ succeeded: true, consecutiveFailures: 0, random: () => Number.NaN })).toBe(300_000);
  });
});

describe('nextPollDelayMs after a failure', () => {
  const backoff = (n: number, hint?: number) => nextPollDelayMs({ succeeded: false, consecutiveFailures: n, refreshHintSeconds: hint, random: mid });

  it('starts at 5 s and doubles per consecutive failure', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoff(n))).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000]);
  });

  it('is capped at the refresh interval', () => {
    expect(backoff(7)).toBe(300_000);
    expect(backoff(50)).toBe(300_000);
    expect(backoff(10_000)).toBe(300_000);
    expect(backoff(3, 60)).toBe(20_000);
    expect(backoff(5, 60)).toBe(60_000);
    expect(backoff(30, 999_999)).toBe(POLL.maxMs);
  });

  it('treats a missing or nonsensical failure count as the first failure', () => {
    expect(backoff(0)).toBe(5_000);
    expect(backoff(-3)).toBe(5_000);
    expect(backoff(Number.NaN)).toBe(5_000);
  });

  it('jitters the backoff too, within ±10%', () => {
    expect(nextPollDelayMs({ succeeded: false, consecutiveFailures: 1, random: low })).toBe(4_500);
    expect(nextPollDelayMs({ succeeded: false, consecutiveFailures: 1, random: high })).toBe(5_500);
  });
});
