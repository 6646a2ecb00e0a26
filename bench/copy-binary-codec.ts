/**
 * PostgreSQL's binary COPY format, as the bare baseline server reads and writes it: its own
 * small codec (not src/store's), so that work on the gateway's decoder never moves the
 * baseline. Format: an 11-byte signature, int32 flags, int32 header-extension length and
 * the extension; then per row an int16 field count and per field an int32 length (-1 for
 * NULL) and the bytes; an int16 -1 ends the data.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_BYTES = SIGNATURE.length + 8;
/** A field whose length has not been read yet. */
const NO_LENGTH = -2;

/** Rows of a binary COPY TO STDOUT stream, decoded as the pieces arrive. */
export class CopyBinaryRows {
  private readonly pieces: Buffer[] = [];
  private buffered = 0;
  private headerRead = false;
  private row: Array<Buffer | null> | undefined;
  private fieldsLeft = 0;
  private fieldLength = NO_LENGTH;
  private ended = false;

  /** The rows completed by `piece` (each an array of fields). */
  push(piece: Buffer): Array<Array<Buffer | null>> {
    if (this.ended) throw new Error('copy: data after the end marker');
    this.pieces.push(piece);
    this.buffered += piece.length;
    const rows: Array<Array<Buffer | null>> = [];
    for (;;) {
      if (!this.headerRead) {
        if (this.buffered < HEADER_BYTES) break;
        const head = this.read(HEADER_BYTES, false);
        if (!head.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('copy: not a binary COPY stream');
        const extension = head.readUInt32BE(SIGNATURE.length + 4);
        if (this.buffered < HEADER_BYTES + extension) break;
        this.read(HEADER_BYTES + extension, true);
        this.headerRead = true;
      } else if (this.row === undefined) {
        if (this.buffered < 2) break;
        const fields = this.read(2, true).readInt16BE(0);
        if (fields === -1) {
          this.ended = true;
          break;
        }
        this.row = [];
        this.fieldsLeft = fields;
      } else if (this.fieldsLeft === 0) {
        rows.push(this.row);
        this.row = undefined;
      } else if (this.fieldLength === NO_LENGTH) {
        if (this.buffered < 4) break;
        this.fieldLength = this.read(4, true).readInt32BE(0);
        if (this.fieldLength === -1) this.endField(null);
      } else {
        if (this.buffered < this.fieldLength) break;
        this.endField(this.read(this.fieldLength, true));
      }
    }
    return rows;
  }

  /** Throws unless the stream ended with its end marker. */
  finish(): void {
    if (!this.ended) throw new Error('copy: stream ended before its end marker');
  }

  private endField(value: Buffer | null): void {
    this.row!.push(value);
    this.fieldLength = NO_LENGTH;
    this.fieldsLeft--;
  }

  /** The next `n` buffered bytes (a view when they lie in one piece, else one copy); `consume` drops them. */
  private read(n: number, consume: boolean): Buffer {
    const first = this.pieces[0]!;
    let out: Buffer;
    if (first.length >= n) out = first.subarray(0, n);
    else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      for (const piece of this.pieces) {
        const take = Math.min(piece.length, n - at);
        piece.copy(out, at, 0, take);
        at += take;
        if (at === n) break;
      }
    }
    if (consume) this.drop(n);
    return out;
  }

  private drop(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.pieces[0]!;
      if (first.length <= n) {
        this.pieces.shift();
        n -= first.length;
      } else {
        this.pieces[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

/** The header of a binary COPY FROM STDIN stream (no flags, no extension). */
export function copyHeader(): Buffer {
  return Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
}

/** The bytes before `data` of a row (bigint, integer, bytea): write them, then `data` itself, uncopied. */
export function chunkRowPrefix(blobId: number, seq: number, dataBytes: number): Buffer {
  const prefix = Buffer.allocUnsafe(2 + 4 + 8 + 4 + 4 + 4);
  let at = prefix.writeInt16BE(3, 0);
  at = prefix.writeInt32BE(8, at);
  at = prefix.writeBigInt64BE(BigInt(blobId), at);
  at = prefix.writeInt32BE(4, at);
  at = prefix.writeInt32BE(seq, at);
  prefix.writeInt32BE(dataBytes, at);
  return prefix;
}

/** The end marker of a binary COPY FROM STDIN stream. */
export function copyTrailer(): Buffer {
  return Buffer.from([0xff, 0xff]);
}
