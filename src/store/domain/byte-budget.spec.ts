import { ByteBudget, type BudgetLease } from './byte-budget';

describe('ByteBudget', () => {
  it('grants at once while the bytes fit, never beyond the capacity', () => {
    const budget = new ByteBudget(100);
    const a = budget.tryTake(60);
    expect(a?.bytes).toBe(60);
    expect(budget.tryTake(50)).toBeUndefined();
    expect(budget.used).toBe(60);
    a?.release();
    a?.release();
    expect(budget.used).toBe(0);
  });

  it('queues first come, first served; a release grants the waiters that fit, in order', () => {
    const budget = new ByteBudget(100);
    const held = budget.tryTake(100)!;
    const granted: string[] = [];
    const leases: BudgetLease[] = [];
    budget.enqueue(70, (l) => (granted.push('first'), leases.push(l)));
    budget.enqueue(30, (l) => (granted.push('second'), leases.push(l)));
    // Nobody jumps the queue, even when it would fit.
    expect(budget.tryTake(1)).toBeUndefined();
    expect(budget.waiting).toBe(2);
    held.release();
    expect(granted).toEqual(['first', 'second']);
    expect(budget.used).toBe(100);
    expect(budget.waiting).toBe(0);
  });

  it('a waiter that stops waiting leaves the queue and lets the next one in', () => {
    const budget = new ByteBudget(100);
    const held = budget.tryTake(50)!;
    const granted: number[] = [];
    const big = budget.enqueue(80, (l) => granted.push(l.bytes));
    budget.enqueue(40, (l) => granted.push(l.bytes));
    expect(granted).toEqual([]);
    expect(big.cancel()).toBe(true);
    expect(granted).toEqual([40]);
    expect(big.cancel()).toBe(false);
    held.release();
    expect(budget.used).toBe(40);
  });

  it('refuses misuse with TypeError', () => {
    expect(() => new ByteBudget(0)).toThrow(TypeError);
    expect(() => new ByteBudget(10).tryTake(11)).toThrow('ByteBudget: bytes must be a positive integer no larger than the capacity');
    expect(() => new ByteBudget(10).enqueue(0, () => undefined)).toThrow(TypeError);
  });
});
