/**
 * Incremental decoder of PostgreSQL's binary COPY format (COPY … TO STDOUT (FORMAT binary)),
 * used to stream payload chunks: the server sends raw bytea bytes (no hex or base64
 * encoding, no per-row protocol round trips), about 6x the throughput of SELECTing them.
 *
 * Format: an 11-byte signature, int32 flags, int32 extension length and extension; then per
 * tuple an int16 field count and per field an int32 length (-1 = NULL) and that many bytes;
 * a field count of -1 ends the data. Integers are big-endian.
 *
 * `push` takes the stream as it arrives in pieces of any size and returns the tuples that
 * completed. A field is assembled into one Buffer of its announced length (one copy), made
 * by the caller's allocator when it reuses buffers. Header bytes split across pieces are
 * gathered in a small scratch buffer. Memory: the fields of one tuple plus 19 bytes.
 */
import { ParleyError } from '../../common/errors';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags, extension length. */
const HEADER_BYTES = SIGNATURE.length + 8;

export type CopyField = Buffer | null;

/** Makes the buffer a field of `len` bytes is assembled in (column `index` of its tuple); must be exactly `len` bytes long. */
export type FieldAllocator = (len: number, index: number) => Buffer;

const allocUnsafe: FieldAllocator = (len) => Buffer.allocUnsafe(len);

export class CopyBinaryDecoder {
  /** Header bytes split across pieces, gathered here (never a concat of the pieces). */
  private readonly scratch = Buffer.alloc(HEADER_BYTES);
  private scratchHave = 0;
  private headerDone = false;
  private extensionLeft = 0;
  private ended = false;
  /** Fields of the tuple being decoded. */
  private fields: CopyField[] = [];
  private fieldCount = -1;
  /** The field being filled. */
  private field: Buffer | undefined;
  private fieldAt = 0;

  /**
   * @param allocField where each field is assembled: by default a new buffer; a caller that
   *   reuses buffers (Pull) passes its own
   */
  constructor(
    private readonly maxFieldBytes: number,
    private readonly allocField: FieldAllocator = allocUnsafe,
  ) {}

  /** Whether the end-of-data marker was seen. */
  get done(): boolean {
    return this.ended;
  }

  /** Decodes a piece of the stream; returns the tuples it completed. @throws ParleyError internal on malformed data */
  push(piece: Buffer): CopyField[][] {
    const out: CopyField[][] = [];
    let at = 0;
    while (at < piece.length) {
      if (this.field !== undefined) {
        const n = Math.min(this.field.length - this.fieldAt, piece.length - at);
        piece.copy(this.field, this.fieldAt, at, at + n);
        this.fieldAt += n;
        at += n;
        if (this.fieldAt < this.field.length) break;
        this.endField(this.field, out);
        continue;
      }
      if (this.extensionLeft > 0) {
        const n = Math.min(this.extensionLeft, piece.length - at);
        this.extensionLeft -= n;
        at += n;
        continue;
      }
      if (this.ended) throw malformed('data after the end marker');
      const need = !this.headerDone ? HEADER_BYTES : this.fieldCount < 0 ? 2 : 4;
      const got = this.take(piece, at, need);
      at = got.next;
      if (got.src === undefined) break;
      this.header(got.src, got.off, out);
    }
    return out;
  }

  /** Checks that the stream ended cleanly (after the server finished the COPY). */
  finish(): void {
    if (!this.ended || this.scratchHave > 0 || this.field !== undefined) throw malformed('stream ended early');
  }

  /** `n` header bytes from `at`: in the piece itself, or gathered in the scratch buffer when split across pieces (src undefined: not all there yet). */
  private take(piece: Buffer, at: number, n: number): { src: Buffer | undefined; off: number; next: number } {
    if (this.scratchHave === 0 && piece.length - at >= n) return { src: piece, off: at, next: at + n };
    const k = Math.min(n - this.scratchHave, piece.length - at);
    piece.copy(this.scratch, this.scratchHave, at, at + k);
    this.scratchHave += k;
    if (this.scratchHave < n) return { src: undefined, off: 0, next: at + k };
    this.scratchHave = 0;
    return { src: this.scratch, off: 0, next: at + k };
  }

  /** Acts on a complete header: the file header, a tuple's field count or a field's length. */
  private header(src: Buffer, off: number, out: CopyField[][]): void {
    if (!this.headerDone) {
      if (src.compare(SIGNATURE, 0, SIGNATURE.length, off, off + SIGNATURE.length) !== 0) throw malformed('bad signature');
      this.extensionLeft = src.readUInt32BE(off + SIGNATURE.length + 4);
      this.headerDone = true;
      return;
    }
    if (this.fieldCount < 0) {
      const count = src.readInt16BE(off);
      if (count === -1) this.ended = true;
      else if (count < 0) throw malformed('negative field count');
      else {
        this.fieldCount = count;
        this.completeTuple(out);
      }
      return;
    }
    const len = src.readInt32BE(off);
    if (len === -1) return this.endField(null, out);
    if (len < 0 || len > this.maxFieldBytes) throw malformed(`field of ${len} bytes`);
    const field = this.allocField(len, this.fields.length);
    if (field.length !== len) throw new TypeError('copy decoder: the field allocator returned a buffer of the wrong size');
    if (len === 0) return this.endField(field, out);
    this.field = field;
    this.fieldAt = 0;
  }

  private endField(field: CopyField, out: CopyField[][]): void {
    this.fields.push(field);
    this.field = undefined;
    this.completeTuple(out);
  }

  private completeTuple(out: CopyField[][]): void {
    if (this.fieldCount >= 0 && this.fields.length === this.fieldCount) {
      out.push(this.fields);
      this.fields = [];
      this.fieldCount = -1;
    }
  }
}

function malformed(why: string): ParleyError {
  return new ParleyError('internal', `database: malformed binary copy data: ${why}`);
}

/** Reads a binary int4 field. */
export function int4Field(field: CopyField): number {
  if (field === null || field.length !== 4) throw malformed('expected an int4 field');
  return field.readInt32BE(0);
}

/** The header of a binary COPY FROM STDIN stream (no flags, no extension). */
export function copyHeader(): Buffer {
  return Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
}

/** Bytes of a chunk row's prefix: field count, blob_id (int8), seq (int4) and data's length. */
export const CHUNK_ROW_PREFIX_BYTES = 2 + 4 + 8 + 4 + 4 + 4;

/**
 * The bytes before `data` of a store_chunks row (blob_id bigint, seq integer, data bytea):
 * written before the data itself, which goes to the socket uncopied (a field may span any
 * number of CopyData messages).
 */
export function chunkRowPrefix(blobId: bigint, seq: number, dataBytes: number, into: Buffer = Buffer.allocUnsafe(CHUNK_ROW_PREFIX_BYTES)): Buffer {
  if (into.length < CHUNK_ROW_PREFIX_BYTES || !Number.isSafeInteger(seq) || seq < 0 || seq > 0x7fffffff || dataBytes < 0 || dataBytes > 0x7fffffff) {
    throw new TypeError('chunk row prefix: seq or length out of range');
  }
  let at = into.writeInt16BE(3, 0);
  at = into.writeInt32BE(8, at);
  at = into.writeBigInt64BE(blobId, at);
  at = into.writeInt32BE(4, at);
  at = into.writeInt32BE(seq, at);
  into.writeInt32BE(dataBytes, at);
  return into.subarray(0, CHUNK_ROW_PREFIX_BYTES);
}

/** The end marker of a binary COPY FROM STDIN stream. */
export function copyTrailer(): Buffer {
  return Buffer.from([0xff, 0xff]);
}
