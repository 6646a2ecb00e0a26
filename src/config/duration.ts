import { z } from 'zod';

const FORMS = 'must be milliseconds (a whole number) or a number with a unit ms, s, m, h or d, such as 500ms, 90s, 30m, 1h, 7d';

/** A duration: milliseconds as a number, or a string such as `90s`, `30m`, `1h`, `7d`. */
export const duration = z.unknown().transform((v, ctx) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(v.trim()) : null;
  if (!m) {
    ctx.addIssue({ code: 'custom', message: FORMS });
    return z.NEVER;
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
});

const UNITS: ReadonlyArray<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];

/** Milliseconds as the config file would say them: the largest unit that divides exactly (`30d`, `1h`, `90s`, `500ms`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const unit = UNITS.find(([, size]) => ms % size === 0);
  return unit === undefined ? `${ms}ms` : `${ms / unit[1]}${unit[0]}`;
}
