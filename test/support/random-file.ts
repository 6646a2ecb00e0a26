/** Large random files for benchmarks, written and hashed in pieces (never whole in memory). */
import { createHash, randomFill } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';

const PIECE_BYTES = 4 * 1024 * 1024;

function randomFillAsync(buf: Buffer, offset: number, size: number): Promise<void> {
  return new Promise((res, rej) => randomFill(buf, offset, size, (err) => (err ? rej(err) : res())));
}

/** Writes `size` random bytes to `path` without holding them in memory; returns the sha256 (hex). */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const piece = Buffer.alloc(PIECE_BYTES);
  try {
    for (let left = size; left > 0; ) {
      const n = Math.min(left, piece.length);
      await randomFillAsync(piece, 0, n);
      const view = piece.subarray(0, n);
      hash.update(view);
      // A copy per write: `piece` is refilled before the stream may have flushed it.
      if (!out.write(Buffer.from(view))) await once(out, 'drain');
      left -= n;
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return hash.digest('hex');
}

/** The sha256 (hex) of a file, read in 4 MiB pieces. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: PIECE_BYTES }) as AsyncIterable<Buffer>) hash.update(piece);
  return hash.digest('hex');
}
