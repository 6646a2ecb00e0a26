import { bundleMembers, planRotation, renewalTime, type CaEntry } from './ca-rotation';

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
