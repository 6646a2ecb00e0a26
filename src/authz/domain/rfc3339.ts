/**
 * RFC 3339 date-times (`2025-01-31T12:00:00Z`, `2025-01-31T12:00:00.123456+02:00`) to epoch
 * microseconds, PostgreSQL's precision, or to a Date. Parsed by hand, character by character
 * (no regular expressions in src/authz); digits below the precision are dropped.
 */
const MAX_FRACTION_DIGITS = 9;

function digitsAt(s: string, start: number, n: number): number | undefined {
  if (start + n > s.length) return undefined;
  let v = 0;
  for (let i = start; i < start + n; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return undefined;
    v = v * 10 + c;
  }
  return v;
}

/** Epoch microseconds of an RFC 3339 date-time, or undefined when it is not one (or names an impossible date). */
export function parseRfc3339Micros(s: string): bigint | undefined {
  if (typeof s !== 'string' || s.length < 20 || s.length > 40) return undefined;
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  const hour = digitsAt(s, 11, 2);
  const minute = digitsAt(s, 14, 2);
  const second = digitsAt(s, 17, 2);
  if (year === undefined || month === undefined || day === undefined || hour === undefined || minute === undefined || second === undefined) return undefined;
  if (s[4] !== '-' || s[7] !== '-' || (s[10] !== 'T' && s[10] !== 't') || s[13] !== ':' || s[16] !== ':') return undefined;
  let i = 19;
  let micros = 0;
  if (s[i] === '.') {
    const start = ++i;
    while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
    const n = i - start;
    if (n === 0 || n > MAX_FRACTION_DIGITS) return undefined;
    micros = Number((s.slice(start, Math.min(i, start + 6)) + '000000').slice(0, 6));
  }
  let offsetMinutes = 0;
  if (s[i] === 'Z' || s[i] === 'z') {
    i++;
  } else if (s[i] === '+' || s[i] === '-') {
    const oh = digitsAt(s, i + 1, 2);
    const om = digitsAt(s, i + 4, 2);
    if (oh === undefined || om === undefined || s[i + 3] !== ':' || oh > 23 || om > 59) return undefined;
    offsetMinutes = (s[i] === '-' ? -1 : 1) * (oh * 60 + om);
    i += 6;
  } else {
    return undefined;
  }
  if (i !== s.length) return undefined;
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined;
  return (BigInt(d.getTime()) - BigInt(offsetMinutes) * 60_000n) * 1000n + BigInt(micros);
}

/** The millisecond an epoch microsecond falls in (rounded down, also before 1970). */
function millisOf(micros: bigint): bigint {
  return micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
}

/** An RFC 3339 date-time as a Date (digits below a millisecond dropped), or undefined when it is not one. */
export function parseRfc3339(s: string): Date | undefined {
  const micros = parseRfc3339Micros(s);
  return micros === undefined ? undefined : new Date(Number(millisOf(micros)));
}

/** RFC 3339 UTC text of epoch microseconds, keeping the microseconds (`…T12:00:00.123456Z`). */
export function formatMicros(micros: bigint): string {
  const ms = millisOf(micros);
  const sub = Number(micros - ms * 1000n);
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, iso.length - 1)}${String(sub).padStart(3, '0')}Z`;
}
