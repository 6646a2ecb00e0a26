import { ReadinessRegistry } from './readiness';

describe('ReadinessRegistry', () => {
  it('is ready when every critical check passes and reports each check', async () => {
    const r = new ReadinessRegistry();
    r.register('a', () => ({ ok: true }));
    r.register('b', async () => ({ ok: false, reason: 'warming up' }), { critical: false });
    const report = await r.evaluate(100);
    expect(report.ready).toBe(true);
    expect(report.checks.map((c) => [c.name, c.ok, c.reason])).toEqual([
      ['a', true, undefined],
      ['b', false, 'warming up'],
    ]);
  });

  it('fails a check that throws or hangs, with the reason', async () => {
    const r = new ReadinessRegistry();
    r.register('throws', () => {
      throw new Error('boom');
    });
    r.register('hangs', () => new Promise(() => undefined));
    const report = await r.evaluate(50);
    expect(report.ready).toBe(false);
    expect(report.checks.find((c) => c.name === 'throws')?.reason).toBe('boom');
    expect(report.checks.find((c) => c.name === 'hangs')?.reason).toBe('check timed out after 50 ms');
  });

  it('refuses to register a name twice', () => {
    const r = new ReadinessRegistry();
    r.register('x', () => ({ ok: true }));
    expect(() => r.register('x', () => ({ ok: true }))).toThrow(TypeError);
  });
});
