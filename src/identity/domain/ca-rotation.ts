/**
 * Development CA rotation plan (pure). A new CA is prepared at half of the active CA's
 * lifetime and published in the bundle; only after `publishLeadMs` (so partners and clients
 * have fetched it) does it start signing; the previous CA stays in the bundle until every
 * SVID it signed has expired, then it is retired.
 */
export type CaStatus = 'published' | 'active' | 'previous' | 'retired';

export interface CaEntry {
  id: string;
  status: CaStatus;
  notBefore: number;
  notAfter: number;
  /** When it was first published (prepared). */
  publishedAt: number;
  /** When it started signing. */
  activatedAt?: number;
  /** When it stopped signing (a newer CA became active). */
  deactivatedAt?: number;
}

export interface RotationPolicy {
  publishLeadMs: number;
  svidTtlMs: number;
}

export type RotationAction =
  | { kind: 'none' }
  | { kind: 'create-initial' }
  | { kind: 'prepare' }
  | { kind: 'activate'; id: string }
  | { kind: 'retire'; id: string };

export function planRotation(cas: readonly CaEntry[], now: number, policy: RotationPolicy): RotationAction {
  const active = cas.find((c) => c.status === 'active');
  if (!active || active.notAfter <= now) {
    // No usable signer: activate a published CA at once if one exists, else start over.
    const published = cas.find((c) => c.status === 'published' && c.notAfter > now);
    return published ? { kind: 'activate', id: published.id } : { kind: 'create-initial' };
  }
  for (const prev of cas) {
    if (prev.status !== 'previous') continue;
    const lastSigned = prev.deactivatedAt ?? now;
    if (now >= lastSigned + policy.svidTtlMs || prev.notAfter <= now) return { kind: 'retire', id: prev.id };
  }
  const published = cas.find((c) => c.status === 'published');
  if (published) {
    const leadOver = now >= published.publishedAt + policy.publishLeadMs;
    // Switch early if the active CA could no longer cover a full SVID lifetime.
    const activeRunningOut = active.notAfter - now < policy.svidTtlMs;
    return leadOver || activeRunningOut ? { kind: 'activate', id: published.id } : { kind: 'none' };
  }
  const halfLife = active.notBefore + (active.notAfter - active.notBefore) / 2;
  return now >= halfLife ? { kind: 'prepare' } : { kind: 'none' };
}

/**
 * The earliest time at which `planRotation` has a step to take, when nothing but the clock
 * changes: `now` when one is due already; otherwise the active CA's expiry, a previous CA's
 * retirement, the end of a published CA's lead time (or the point where the active CA can no
 * longer cover an SVID lifetime), or the active CA's half-life.
 */
export function nextRotationAt(cas: readonly CaEntry[], now: number, policy: RotationPolicy): number {
  if (planRotation(cas, now, policy).kind !== 'none') return now;
  const active = cas.find((c) => c.status === 'active');
  if (!active) return now;
  let next = active.notAfter;
  for (const prev of cas) {
    if (prev.status === 'previous') next = Math.min(next, (prev.deactivatedAt ?? now) + policy.svidTtlMs, prev.notAfter);
  }
  const published = cas.find((c) => c.status === 'published');
  if (published) next = Math.min(next, published.publishedAt + policy.publishLeadMs, active.notAfter - policy.svidTtlMs + 1);
  else next = Math.min(next, active.notBefore + (active.notAfter - active.notBefore) / 2);
  return Math.max(now, next);
}

/** The CAs that belong in the trust bundle: every one that may have signed a live SVID or soon will. */
export function bundleMembers(cas: readonly CaEntry[]): CaEntry[] {
  return cas.filter((c) => c.status !== 'retired');
}

/** When to renew an SVID: at half of its lifetime (never in the past). */
export function renewalTime(notBefore: number, notAfter: number, now: number): number {
  return Math.max(now, notBefore + (notAfter - notBefore) / 2);
}
