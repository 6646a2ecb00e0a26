/** One line of `npm run bench`: a measurement, optionally with its in-run baseline and the ratio to it. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: string;
  ratio?: number;
  target?: string;
}

/** The value at percentile `p` (0–100) of an ascending array (nearest rank, no interpolation). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The median of `xs` (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A value as `npm run bench` prints it: grouped digits from 100 up, two decimals below. */
export function formatValue(v: number): string {
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2);
}

/** `min–max` of `xs`. */
export function spread(xs: readonly number[]): string {
  return `${formatValue(Math.min(...xs))}–${formatValue(Math.max(...xs))}`;
}

/** A measurement taken in rounds: the median, with `note` and the rounds' spread after the unit. */
export function roundsResult(name: string, unit: string, values: readonly number[], note?: string): BenchResult {
  return { name, value: median(values), unit: `${unit} (${note === undefined ? '' : `${note}; `}median of ${values.length} rounds, ${spread(values)})` };
}

/**
 * A measurement and its baseline taken in the same rounds (one after the other): the ratio is
 * the median of the rounds' ratios, so a slow spell of the machine counts for both sides alike.
 */
export function comparedResult(
  name: string,
  unit: string,
  values: readonly number[],
  baseline: string,
  baselineValues: readonly number[],
  options: { note?: string; target?: string } = {},
): BenchResult {
  if (values.length !== baselineValues.length) throw new Error(`bench: ${name} has ${values.length} rounds, its baseline ${baselineValues.length}`);
  const ratios = values.map((v, i) => v / baselineValues[i]!);
  return {
    ...roundsResult(name, unit, values, options.note),
    baseline: `${baseline} (${formatValue(median(baselineValues))}; per-round ratios ${spread(ratios)})`,
    ratio: median(ratios),
    target: options.target,
  };
}

/** An integer setting of a bench from the environment (e.g. BENCH_ROUNDS), or `fallback`. */
export function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}
