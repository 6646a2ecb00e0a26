import { RecordCache } from './record-cache';

describe('RecordCache', () => {
  it('keeps at most maxEntries, dropping the least recently used', () => {
    const c = new RecordCache<number>(2);
    c.setIfUnchanged('a', 1, c.generation);
    c.setIfUnchanged('b', 2, c.generation);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.setIfUnchanged('c', 3, c.generation);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });

  it('refuses what a reader fetched before an eviction (the deleted-record race)', () => {
    const c = new RecordCache<string>(10);
    const before = c.generation;
    c.evict('x'); // deleted while the reader's query ran
    c.setIfUnchanged('x', 'stale', before);
    expect(c.get('x')).toBeUndefined();
    c.setIfUnchanged('x', 'fresh', c.generation);
    expect(c.get('x')).toBe('fresh');
    const gen = c.generation;
    c.clear();
    c.setIfUnchanged('y', 'stale', gen);
    expect(c.size).toBe(0);
  });

  it('rejects a non-positive size', () => {
    expect(() => new RecordCache(0)).toThrow(TypeError);
  });
});
