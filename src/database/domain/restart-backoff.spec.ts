import { restartDelayMs } from './restart-backoff';

describe('restartDelayMs', () => {
  it('doubles from the first delay after each failure, up to the maximum', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((failures) => restartDelayMs(failures, 500, 10_000))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('stays at the maximum after very many failures', () => {
    expect(restartDelayMs(10_000, 500, 30_000)).toBe(30_000);
  });

  it('refuses a negative or fractional failure count', () => {
    expect(() => restartDelayMs(-1, 500, 1000)).toThrow(TypeError);
    expect(() => restartDelayMs(1.5, 500, 1000)).toThrow(TypeError);
  });
});
