/**
 * Cuts a stream of buffers of any sizes into chunks of exactly `chunkBytes` (the last one
 * shorter), holding at most one chunk's worth of bytes. The store keeps payloads in
 * fixed-size chunks so that byte offset N is in chunk floor(N / chunkBytes).
 */
export class Chunker {
  private parts: Buffer[] = [];
  private held = 0;

  constructor(readonly chunkBytes: number) {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new TypeError('Chunker: chunkBytes must be a positive integer');
  }

  /** Bytes held that do not yet fill a chunk. */
  get pendingBytes(): number {
    return this.held;
  }

  /** Adds bytes; returns the chunks completed by them (usually zero or one). */
  push(data: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    let rest = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    while (rest.length > 0) {
      const room = this.chunkBytes - this.held;
      const take = rest.length <= room ? rest : rest.subarray(0, room);
      this.parts.push(take);
      this.held += take.length;
      rest = rest.subarray(take.length);
      if (this.held === this.chunkBytes) out.push(this.take());
    }
    return out;
  }

  /** The last, partial chunk (undefined when nothing is held). */
  flush(): Buffer | undefined {
    return this.held === 0 ? undefined : this.take();
  }

  private take(): Buffer {
    // Copy: a chunk must not keep a larger received buffer alive.
    const chunk = this.parts.length === 1 && this.parts[0].length === this.parts[0].buffer.byteLength ? this.parts[0] : Buffer.concat(this.parts, this.held);
    this.parts = [];
    this.held = 0;
    return chunk;
  }
}
