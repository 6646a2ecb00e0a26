/**
 * Concurrent streams per caller: how many Pulls (or Pushes) each SPIFFE ID and each trust
 * domain has running, with a cap on both. A slot is taken when a stream starts and given
 * back exactly once when it ends, whatever the path; a stream over either cap is refused
 * and takes nothing. Pure bookkeeping (no clock, no I/O).
 */

/** Which cap refused a stream. */
export type ConcurrencyScope = 'spiffe_id' | 'trust_domain';

export interface ConcurrencyCaps {
  /** Streams one SPIFFE ID may have running at once. */
  readonly perSpiffeId: number;
  /** Streams all SPIFFE IDs of one trust domain together may have running at once. */
  readonly perTrustDomain: number;
}

export type SlotGrant =
  | { readonly ok: true; release(): void }
  | { readonly ok: false; readonly scope: ConcurrencyScope; readonly limit: number; readonly running: number };

export class ConcurrencyLedger {
  private readonly byId = new Map<string, number>();
  private readonly byDomain = new Map<string, number>();
  private total = 0;

  constructor(private readonly caps: ConcurrencyCaps) {
    for (const [key, value] of Object.entries(caps)) {
      if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`ConcurrencyLedger: ${key} must be a positive integer`);
    }
  }

  /** Takes a slot for a stream of `spiffeId` (of `trustDomain`), or says which cap is full. */
  tryAcquire(spiffeId: string, trustDomain: string): SlotGrant {
    const ofId = this.byId.get(spiffeId) ?? 0;
    if (ofId >= this.caps.perSpiffeId) return { ok: false, scope: 'spiffe_id', limit: this.caps.perSpiffeId, running: ofId };
    const ofDomain = this.byDomain.get(trustDomain) ?? 0;
    if (ofDomain >= this.caps.perTrustDomain) return { ok: false, scope: 'trust_domain', limit: this.caps.perTrustDomain, running: ofDomain };
    this.byId.set(spiffeId, ofId + 1);
    this.byDomain.set(trustDomain, ofDomain + 1);
    this.total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        decrement(this.byId, spiffeId);
        decrement(this.byDomain, trustDomain);
      },
    };
  }

  /** Streams running now (all callers). */
  get running(): number {
    return this.total;
  }

  /** Streams running now for one SPIFFE ID. */
  runningFor(spiffeId: string): number {
    return this.byId.get(spiffeId) ?? 0;
  }

  /** Callers (SPIFFE IDs) with at least one stream running: entries are dropped at zero. */
  get trackedIds(): number {
    return this.byId.size;
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
