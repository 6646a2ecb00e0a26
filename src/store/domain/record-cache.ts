/**
 * A bounded least-recently-used cache of record metadata by CID. Records never change once
 * visible, only disappear (delete), so an entry stays right until an eviction says the
 * record is gone. Evictions bump a generation: a reader that started a database lookup
 * before an eviction must not put what it read into the cache (it may be the deleted
 * record), which `setIfUnchanged` enforces.
 */
export class RecordCache<T> {
  private readonly entries = new Map<string, T>();
  private gen = 0;

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('RecordCache: maxEntries must be a positive integer');
  }

  /** Changes whenever something was evicted. */
  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  /** Stores `value` unless an eviction happened since `generation` was read. */
  setIfUnchanged(key: string, value: T, generation: number): void {
    if (generation !== this.gen) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }

  evict(key: string): void {
    this.gen++;
    this.entries.delete(key);
  }

  clear(): void {
    this.gen++;
    this.entries.clear();
  }
}
