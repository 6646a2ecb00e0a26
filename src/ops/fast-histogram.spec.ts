import { Histogram, Registry } from 'prom-client';
import { FastHistogram, FastHistogramVec } from './fast-histogram';

const BOUNDS = [1e-6, 2.5e-6, 5e-6, 1e-5, 5e-5, 1e-3];

describe('FastHistogram', () => {
  it('is exposed exactly like a prom-client Histogram given the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new FastHistogram('t_seconds', 'test histogram', BOUNDS, ours);
    const reference = new Histogram({ name: 't_seconds', help: 'test histogram', buckets: BOUNDS, registers: [theirs] });
    // Below, on and above bounds, beyond the last one, zero.
    for (const v of [0, 1e-7, 1e-6, 1.5e-6, 2.5e-6, 7e-6, 1e-5, 3e-5, 2e-4, 1e-3, 0.5, 2]) {
      fast.observe(v);
      reference.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // prom-client adds empty exemplar fields to its own values.
    const withoutExemplars = (json: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) =>
      json.map((m) => ({ ...m, values: m.values.map((v) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'exemplar'))) }));
    expect(withoutExemplars(await ours.getMetricsAsJSON())).toEqual(withoutExemplars(await theirs.getMetricsAsJSON()));
    ours.resetMetrics();
    theirs.resetMetrics();
    fast.observe(3e-6);
    reference.observe(3e-6);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('ignores NaN and refuses bounds that are not increasing', async () => {
    const registry = new Registry();
    const fast = new FastHistogram('n_seconds', 'nan', BOUNDS, registry);
    fast.observe(Number.NaN);
    expect(await registry.metrics()).toContain('n_seconds_count 0');
    expect(() => new FastHistogram('b', 'b', [1, 1], new Registry())).toThrow(TypeError);
    expect(() => new FastHistogram('b', 'b', [], new Registry())).toThrow(TypeError);
    expect(() => new FastHistogram('b', 'b', [1, Infinity], new Registry())).toThrow(TypeError);
  });
});

describe('FastHistogramVec', () => {
  it('is exposed exactly like a labelled prom-client Histogram given the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new FastHistogramVec('t_seconds', 'test histogram', BOUNDS, ours);
    const reference = new Histogram({ name: 't_seconds', help: 'test histogram', labelNames: ['method'], buckets: BOUNDS, registers: [theirs] });
    const a = fast.series({ method: '/p.S/A' });
    const b = fast.series({ method: '/p.S/B' });
    for (const v of [0, 1e-6, 1.5e-6, 7e-6, 1e-3, 2]) {
      a.observe(v);
      reference.labels('/p.S/A').observe(v);
    }
    b.observe(3e-5);
    reference.labels('/p.S/B').observe(3e-5);
    a.observe(Number.NaN);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    a.observe(2e-6);
    expect(await ours.metrics()).toContain('t_seconds_count{method="/p.S/A"} 1');
    expect(await ours.metrics()).toContain('t_seconds_count{method="/p.S/B"} 0');
    expect(() => new FastHistogramVec('b', 'b', [2, 1], new Registry())).toThrow(TypeError);
  });
});
