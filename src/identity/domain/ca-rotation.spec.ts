import { bundleMembers, nextRotationAt, planRotation, renewalTime, type CaEntry, type RotationPolicy } from './ca-rotation';

const H = 3_600_000;
const policy = { publishLeadMs: H, svidTtlMs: H };
const ca = (over: Partial<CaEntry>): CaEntry => ({ id: 'a', status: 'active', notBefore: 0, notAfter: 100 * H, publishedAt: 0, activatedAt: 0, ...over });

describe('planRotation', () => {
  it('creates an initial CA when there is none or the active one expired', () => {
    expect(planRotation([], 0, policy)).toEqual({ kind: 'create-initial' });
    expect(planRotation([ca({ notAfter: 10 })], 10, policy)).toEqual({ kind: 'create-initial' });
  });

  it('does nothing before half-life, prepares a new CA at half-life', () => {
    expect(planRotation([ca({})], 49 * H, policy)).toEqual({ kind: 'none' });
    expect(planRotation([ca({})], 50 * H, policy)).toEqual({ kind: 'prepare' });
  });

  it('publishes the new CA for the lead time before it signs anything', () => {
    const cas = [ca({}), ca({ id: 'b', status: 'published', publishedAt: 50 * H, notBefore: 50 * H, notAfter: 150 * H, activatedAt: undefined })];
    expect(planRotation(cas, 50 * H + H - 1, policy)).toEqual({ kind: 'none' });
    expect(planRotation(cas, 51 * H, policy)).toEqual({ kind: 'activate', id: 'b' });
  });

  it('activates early when the active CA can no longer cover a whole SVID lifetime', () => {
    const cas = [ca({ notAfter: 60 * H }), ca({ id: 'b', status: 'published', publishedAt: 59.5 * H, notAfter: 200 * H })];
    expect(planRotation(cas, 59.5 * H, policy)).toEqual({ kind: 'activate', id: 'b' });
  });

  it('keeps the previous CA until the last SVID it signed has expired, then retires it', () => {
    const cas = [ca({ id: 'a', status: 'previous', deactivatedAt: 51 * H }), ca({ id: 'b', status: 'active', notBefore: 50 * H, notAfter: 150 * H })];
    expect(planRotation(cas, 51 * H + H - 1, policy)).toEqual({ kind: 'none' });
    expect(planRotation(cas, 52 * H, policy)).toEqual({ kind: 'retire', id: 'a' });
    expect(bundleMembers(cas).map((c) => c.id)).toEqual(['a', 'b']);
    expect(bundleMembers([{ ...cas[0], status: 'retired' }, cas[1]]).map((c) => c.id)).toEqual(['b']);
  });

  it('renews SVIDs at half-life', () => {
    expect(renewalTime(0, 2 * H, 0)).toBe(H);
    expect(renewalTime(0, 2 * H, 5 * H)).toBe(5 * H);
  });
});

describe('nextRotationAt', () => {
  it('names the time of the next step of each kind', () => {
    expect(nextRotationAt([ca({})], 0, policy)).toBe(50 * H);
    const published = [ca({}), ca({ id: 'b', status: 'published', publishedAt: 50 * H, notBefore: 50 * H, notAfter: 150 * H, activatedAt: undefined })];
    expect(nextRotationAt(published, 50 * H, policy)).toBe(51 * H);
    expect(nextRotationAt(published, 50 * H, { publishLeadMs: 0, svidTtlMs: H })).toBe(50 * H);
    const previous = [ca({ id: 'a', status: 'previous', deactivatedAt: 51 * H }), ca({ id: 'b', status: 'active', notBefore: 50 * H, notAfter: 150 * H })];
    expect(nextRotationAt(previous, 51 * H, policy)).toBe(52 * H);
    expect(nextRotationAt([], 7, policy)).toBe(7);
  });

  it('with no publish lead time, is not now once the step is taken (a timer on it does not spin)', () => {
    const p0 = { publishLeadMs: 0, svidTtlMs: H };
    expect(nextRotationAt([ca({})], H, p0)).toBe(50 * H);
  });

  // Random CA states: no step is due before the time it names, and one is due at that time.
  it('agrees with planRotation on random states', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const p: RotationPolicy = { publishLeadMs: rnd(3) * H, svidTtlMs: (1 + rnd(3)) * H };
      const notBefore = rnd(10) * H;
      const active = ca({ notBefore, notAfter: notBefore + (10 + rnd(100)) * H });
      const cas: CaEntry[] = [active];
      if (rnd(2) === 1) cas.push(ca({ id: 'p', status: 'previous', notAfter: notBefore + rnd(50) * H, deactivatedAt: notBefore + rnd(5) * H }));
      if (rnd(2) === 1) cas.push(ca({ id: 'n', status: 'published', publishedAt: notBefore + rnd(60) * H, notAfter: notBefore + 200 * H, activatedAt: undefined }));
      const now = notBefore + rnd(120) * (H / 2);
      const next = nextRotationAt(cas, now, p);
      expect(next).toBeGreaterThanOrEqual(now);
      for (const t of [now, Math.floor((now + next) / 2), next - 1]) {
        if (t >= now && t < next) expect(planRotation(cas, t, p)).toEqual({ kind: 'none' });
      }
      expect(planRotation(cas, next, p).kind).not.toBe('none');
    }
  });
});
