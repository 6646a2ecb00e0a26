import { backoffDelay, DEFAULT_BACKOFF } from './backoff';

describe('backoffDelay', () => {
  const opts = { initialMs: 100, maxMs: 1000 };

  it.each([
    [0, 0, 50],
    [0, 1, 100],
    [1, 0, 100],
    [1, 1, 200],
    [3, 1, 800],
    [4, 1, 1000],
    [4, 0, 500],
    [1000, 1, 1000],
  ])('attempt %i with random %d gives %i ms', (attempt, r, expected) => {
    expect(backoffDelay(attempt, opts, () => r)).toBe(expected);
  });

  it('stays within [ceiling/2, ceiling] with the real random source', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const ceiling = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.initialMs * 2 ** attempt);
      const d = backoffDelay(attempt, DEFAULT_BACKOFF);
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });

  it('clamps a random source outside [0, 1]', () => {
    expect(backoffDelay(0, opts, () => 7)).toBe(100);
    expect(backoffDelay(0, opts, () => -3)).toBe(50);
  });

  it.each([
    [-1, opts],
    [1.5, opts],
    [0, { initialMs: 0, maxMs: 10 }],
    [0, { initialMs: 100, maxMs: 10 }],
  ])('rejects attempt %p with %p as misuse', (attempt, o) => {
    expect(() => backoffDelay(attempt, o)).toThrow(TypeError);
  });
});
