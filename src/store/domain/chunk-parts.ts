/**
 * Cuts a stream of buffers of any sizes into chunks of exactly `chunkBytes` (the last one
 * shorter), each given as the list of its parts: views of the buffers received, never
 * copied (a writer sends the parts one after the other). Holds at most one chunk's parts.
 */
export class ChunkParts {
  private parts: Buffer[] = [];
  private held = 0;

  constructor(readonly chunkBytes: number) {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new TypeError('ChunkParts: chunkBytes must be a positive integer');
  }

  /** Bytes held that do not yet fill a chunk. */
  get pendingBytes(): number {
    return this.held;
  }

  /** Adds bytes; returns the chunks completed by them (usually zero or one), each as its parts. */
  push(data: Uint8Array): Buffer[][] {
    const out: Buffer[][] = [];
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

  /** The parts of the last, partial chunk (undefined when nothing is held). */
  flush(): Buffer[] | undefined {
    return this.held === 0 ? undefined : this.take();
  }

  private take(): Buffer[] {
    const parts = this.parts;
    this.parts = [];
    this.held = 0;
    return parts;
  }
}
