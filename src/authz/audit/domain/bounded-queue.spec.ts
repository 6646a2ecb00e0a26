import { BoundedQueue } from './bounded-queue';

describe('BoundedQueue', () => {
  it('keeps at most capacity items and counts every refused push', () => {
    const q = new BoundedQueue<number>(3);
    expect([1, 2, 3, 4, 5].map((n) => q.push(n))).toEqual([true, true, true, false, false]);
    expect(q.size).toBe(3);
    expect(q.overflowed).toBe(2);
    expect(q.peek(10)).toEqual([1, 2, 3]);
  });

  it('peek does not remove; discard removes from the head in order', () => {
    const q = new BoundedQueue<string>(4);
    for (const s of ['a', 'b', 'c']) q.push(s);
    expect(q.peek(2)).toEqual(['a', 'b']);
    expect(q.peek(2)).toEqual(['a', 'b']);
    expect(q.discard(2)).toBe(2);
    expect(q.peek(5)).toEqual(['c']);
    expect(q.discard(5)).toBe(1);
    expect(q.size).toBe(0);
    expect(q.peek(5)).toEqual([]);
  });

  it('stays FIFO across the ring wrap-around and frees space after discard', () => {
    const q = new BoundedQueue<number>(3);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      while (q.push(next)) next++;
      const batch = q.peek(2);
      out.push(...batch);
      q.discard(batch.length);
    }
    out.push(...q.peek(3));
    expect(out).toEqual(Array.from({ length: out.length }, (_, i) => i));
    expect(q.overflowed).toBe(20);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new BoundedQueue(0)).toThrow(TypeError);
    expect(() => new BoundedQueue(1.5)).toThrow(TypeError);
  });

  it('replaces an item in place, across the ring wrap, and nothing outside the queued ones', () => {
    const q = new BoundedQueue<number>(3);
    q.push(1);
    q.push(2);
    q.push(3);
    q.discard(2);
    q.push(4);
    expect(q.replace(1, 40)).toBe(true);
    expect(q.replace(2, 9)).toBe(false);
    expect(q.replace(-1, 9)).toBe(false);
    expect(q.peek(3)).toEqual([3, 40]);
  });
});
