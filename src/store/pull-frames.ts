/** Bytes before a chunk's data in its frame: PullResponse's tag (field 2, bytes) and the length as a varint (up to 5 bytes). */
const PREFIX_BYTES = 6;
const CHUNK_TAG = (2 << 3) | 2;

/**
 * The buffers one Pull assembles its chunks in, reused: each chunk's bytes are copied once
 * from the database stream into a frame that leaves room in front for the protobuf field
 * header, so the chunk is handed to grpc-js already encoded (no protobuf copy) and the
 * frame goes back to the free list once grpc-js has taken the message (its write
 * callback). A 256 MiB Pull allocates a handful of frames instead of 768 chunk-sized
 * buffers, which is what kept V8's collector busy. Frames belong to one Pull only.
 */
export class PullFrames {
  private readonly free: Buffer[] = [];
  private readonly frames = new WeakMap<Buffer, Buffer>();

  constructor(
    private readonly chunkBytes: number,
    private readonly keep = 8,
  ) {}

  /** A buffer of `len` bytes for a chunk's data (the payload backend's allocator). */
  readonly take = (len: number): Buffer => {
    if (len > this.chunkBytes) return Buffer.allocUnsafe(len);
    const frame = this.free.pop() ?? Buffer.allocUnsafeSlow(PREFIX_BYTES + this.chunkBytes);
    const data = frame.subarray(PREFIX_BYTES, PREFIX_BYTES + len);
    this.frames.set(data, frame);
    return data;
  };

  /** The PullResponse `{ chunk: data }` as protobuf bytes, in data's own frame; undefined when data is not a frame of this Pull. */
  encoded(data: Buffer): Buffer | undefined {
    const frame = this.frames.get(data);
    if (frame === undefined) return undefined;
    let header = 2;
    for (let n = data.length; n >= 0x80; n = Math.floor(n / 0x80)) header++;
    let at = PREFIX_BYTES - header;
    const start = at;
    frame[at++] = CHUNK_TAG;
    let n = data.length;
    while (n >= 0x80) {
      frame[at++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 0x80);
    }
    frame[at] = n;
    return frame.subarray(start, PREFIX_BYTES + data.length);
  }

  /** Hands a chunk's frame back once nothing reads it any more. */
  give(data: Buffer): void {
    const frame = this.frames.get(data);
    if (frame === undefined) return;
    this.frames.delete(data);
    if (this.free.length < this.keep) this.free.push(frame);
  }
}
