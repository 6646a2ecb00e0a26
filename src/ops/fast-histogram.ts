/**
 * A label-less Prometheus histogram for hot paths. prom-client's `Histogram.observe` costs
 * about 0.6 µs with warm caches and several µs on a call that finds them cold (it hashes the
 * label set and walks objects); `observe` here is a bucket search in a small array and three
 * additions. It registers itself in a prom-client Registry and is exposed in the same text
 * format as prom-client's own histograms (`_bucket{le}` cumulative, `_sum`, `_count`).
 */
import type { Metric, Registry } from 'prom-client';

export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;
  private counts: Float64Array;
  private sum = 0;
  private count = 0;

  /** @throws TypeError when the bounds are not finite, strictly increasing numbers */
  constructor(
    readonly name: string,
    readonly help: string,
    upperBounds: readonly number[],
    registry: Registry,
  ) {
    if (upperBounds.length === 0 || upperBounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= upperBounds[i - 1]!))) {
      throw new TypeError(`${name}: bucket bounds must be finite and strictly increasing`);
    }
    this.bounds = Float64Array.from(upperBounds);
    this.counts = new Float64Array(upperBounds.length + 1);
    // The Registry calls get() and reset(), the members of its metric interface used here.
    registry.registerMetric(this as unknown as Metric);
  }

  /** Records one value (NaN is ignored: it belongs to no bucket). */
  observe(value: number): void {
    if (Number.isNaN(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts = new Float64Array(this.bounds.length + 1);
    this.sum = 0;
    this.count = 0;
  }

  /** The metric in prom-client's object form, as Registry.metrics() and getMetricsAsJSON() read it. */
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> }> {
    const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += this.counts[i]!;
      values.push({ value: cumulative, labels: { le }, metricName: `${this.name}_bucket` });
    });
    values.push({ value: this.count, labels: { le: '+Inf' }, metricName: `${this.name}_bucket` });
    values.push({ value: this.sum, labels: {}, metricName: `${this.name}_sum` });
    values.push({ value: this.count, labels: {}, metricName: `${this.name}_count` });
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}

/** One series of a FastHistogramVec: what a hot path keeps and observes into. */
export class FastHistogramSeries {
  /** Per bucket (not cumulative), the last one above every bound. */
  counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: Float64Array,
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one value (NaN is ignored). */
  observe(value: number): void {
    if (Number.isNaN(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts = new Float64Array(this.bounds.length + 1);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * FastHistogram with labels: `series(labels)` is looked up once by the caller and kept, so an
 * observation never hashes a label set. Exposed like a labelled prom-client Histogram.
 */
export class FastHistogramVec {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly all: FastHistogramSeries[] = [];

  /** @throws TypeError when the bounds are not finite, strictly increasing numbers */
  constructor(
    readonly name: string,
    readonly help: string,
    upperBounds: readonly number[],
    registry: Registry,
  ) {
    if (upperBounds.length === 0 || upperBounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= upperBounds[i - 1]!))) {
      throw new TypeError(`${name}: bucket bounds must be finite and strictly increasing`);
    }
    this.bounds = Float64Array.from(upperBounds);
    registry.registerMetric(this as unknown as Metric);
  }

  /** A new series with these labels (the caller keeps it: each call makes another). */
  series(labels: Readonly<Record<string, string>>): FastHistogramSeries {
    const s = new FastHistogramSeries(this.bounds, { ...labels });
    this.all.push(s);
    return s;
  }

  /** Zeroes every series (they stay valid for their holders). */
  reset(): void {
    for (const s of this.all) s.reset();
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> }> {
    const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
    for (const s of this.all) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ value: cumulative, labels: { le, ...s.labels }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: `${this.name}_bucket` });
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
