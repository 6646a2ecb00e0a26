/**
 * A strict reader of the Prometheus text exposition format (0.0.4), enough to prove that
 * /metrics parses: every sample line is `name{labels} value [timestamp]`, every metric has
 * HELP/TYPE before its samples, label values are properly quoted.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function parsePrometheusText(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const [, kind, name, ...rest] = line.split(' ');
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name in ${kind}`);
      if (kind === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest[0])) throw new Error(`${where}: bad type`);
        types.set(name, rest[0]);
      }
      return;
    }
    if (line.startsWith('#')) return;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let pos = 0;
      while (pos < m[3].length) {
        re.lastIndex = pos;
        const lm = re.exec(m[3]);
        if (!lm) throw new Error(`${where}: bad labels`);
        labels[lm[1]] = lm[2];
        pos = re.lastIndex;
      }
    }
    const value = Number(m[4].replace(/^\+Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity'));
    if (Number.isNaN(value) && m[4].toLowerCase() !== 'nan') throw new Error(`${where}: bad value`); // prom-client writes Nan before the first sample
    const base = m[1].replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(m[1]) && !types.has(base)) throw new Error(`${where}: sample ${m[1]} has no TYPE`);
    samples.push({ name: m[1], labels, value });
  });
  return { samples, types };
}

/** The samples of a running gateway's ops /metrics endpoint (parsed strictly). */
export async function scrapeMetrics(opsPort: number): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parsePrometheusText(await res.text()).samples;
}

/**
 * Sum of the samples named `name` whose labels include every pair of `labels`.
 * @throws when no sample matches (a misspelt name must not read as zero)
 */
export function metricSum(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let seen = false;
  for (const s of samples) {
    if (s.name !== name || !Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
    sum += s.value;
    seen = true;
  }
  if (!seen) throw new Error(`/metrics has no ${name} ${JSON.stringify(labels)}`);
  return sum;
}

/**
 * The smallest bucket bound `le` of histogram `name` holding at least `quantile` of its
 * observations (an upper bound on that quantile), from cumulative `_bucket` samples; with
 * `before`, of the observations made since that scrape.
 */
export function histogramQuantileBound(samples: readonly Sample[], name: string, quantile: number, before: readonly Sample[] = []): number {
  const earlier = new Map(before.filter((s) => s.name === `${name}_bucket`).map((s) => [s.labels.le, s.value]));
  const buckets = samples
    .filter((s) => s.name === `${name}_bucket`)
    .map((s) => ({ le: Number(s.labels.le === '+Inf' ? Infinity : s.labels.le), n: s.value - (earlier.get(s.labels.le) ?? 0) }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  if (total === 0) throw new Error(`${name} has no observations`);
  return buckets.find((b) => b.n >= quantile * total)!.le;
}
