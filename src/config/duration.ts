import { z } from 'zod';

/** A duration: milliseconds as a number, or a string such as `90s`, `30m`, `1h`, `7d`. */
export const duration = z.union([
  z.number().int().min(0),
  z.string().transform((s, ctx) => {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(s.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: 'must be milliseconds or a duration such as 90s, 30m, 1h, 7d' });
      return z.NEVER;
    }
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return Math.round(Number(m[1]) * unit);
  }),
]);
