import { ConcurrencyLedger } from './concurrency-ledger';

const TD = 'acme.test';
const id = (n: string) => `spiffe://${TD}/ns/${n}`;

describe('ConcurrencyLedger', () => {
  it('caps each SPIFFE ID, and refuses without taking a slot', () => {
    const ledger = new ConcurrencyLedger({ perSpiffeId: 2, perTrustDomain: 10 });
    const grants = [ledger.tryAcquire(id('a'), TD), ledger.tryAcquire(id('a'), TD)];
    expect(grants.map((g) => g.ok)).toEqual([true, true]);
    expect(ledger.tryAcquire(id('a'), TD)).toEqual({ ok: false, scope: 'spiffe_id', limit: 2, running: 2 });
    expect(ledger.running).toBe(2);
    expect(ledger.tryAcquire(id('b'), TD).ok).toBe(true);
  });

  it('caps a trust domain across its SPIFFE IDs', () => {
    const ledger = new ConcurrencyLedger({ perSpiffeId: 2, perTrustDomain: 3 });
    for (const n of ['a', 'a', 'b']) expect(ledger.tryAcquire(id(n), TD).ok).toBe(true);
    expect(ledger.tryAcquire(id('c'), TD)).toEqual({ ok: false, scope: 'trust_domain', limit: 3, running: 3 });
    expect(ledger.tryAcquire('spiffe://other.test/w', 'other.test').ok).toBe(true);
  });

  it('a release gives the slot back once, however often it is called, and forgets idle callers', () => {
    const ledger = new ConcurrencyLedger({ perSpiffeId: 1, perTrustDomain: 1 });
    const grant = ledger.tryAcquire(id('a'), TD);
    if (!grant.ok) throw new Error('expected a slot');
    grant.release();
    grant.release();
    expect(ledger.running).toBe(0);
    expect(ledger.trackedIds).toBe(0);
    const again = ledger.tryAcquire(id('a'), TD);
    expect(again.ok).toBe(true);
    expect(ledger.tryAcquire(id('b'), TD)).toMatchObject({ ok: false, scope: 'trust_domain' });
    expect(ledger.runningFor(id('a'))).toBe(1);
  });

  it('refuses misuse with TypeError', () => {
    expect(() => new ConcurrencyLedger({ perSpiffeId: 0, perTrustDomain: 1 })).toThrow('ConcurrencyLedger: perSpiffeId must be a positive integer');
    expect(() => new ConcurrencyLedger({ perSpiffeId: 1, perTrustDomain: 1.5 })).toThrow(TypeError);
  });
});
