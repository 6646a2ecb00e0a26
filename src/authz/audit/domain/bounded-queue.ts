/**
 * A fixed-capacity FIFO (ring buffer) for decisions waiting to be written. `push` is O(1)
 * and refuses (counting the refusal) when full, so memory stays bounded while the database
 * is away. The writer reads a batch with `peek`, writes it, and only then `discard`s it: a
 * failed write leaves the batch at the head, in order, for the retry.
 */
export class BoundedQueue<T> {
  private readonly slots: Array<T | undefined>;
  private head = 0;
  private count = 0;
  private refused = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError(`bounded queue: capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** How many items `push` refused because the queue was full (since creation). */
  get overflowed(): number {
    return this.refused;
  }

  /** Appends `item`; false (and counted) when the queue is full. */
  push(item: T): boolean {
    if (this.count === this.capacity) {
      this.refused++;
      return false;
    }
    this.slots[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  /** Up to `max` items from the head, oldest first, without removing them. */
  peek(max: number): T[] {
    const n = Math.min(Math.max(0, Math.floor(max)), this.count);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.slots[(this.head + i) % this.capacity] as T;
    return out;
  }

  /** Replaces the item `offset` places from the head (0 ≤ offset < size); false when there is none. */
  replace(offset: number, item: T): boolean {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.count) return false;
    this.slots[(this.head + offset) % this.capacity] = item;
    return true;
  }

  /** Removes up to `n` items from the head (after they were written); returns how many. */
  discard(n: number): number {
    const k = Math.min(Math.max(0, Math.floor(n)), this.count);
    for (let i = 0; i < k; i++) this.slots[(this.head + i) % this.capacity] = undefined;
    this.head = (this.head + k) % this.capacity;
    this.count -= k;
    return k;
  }
}
