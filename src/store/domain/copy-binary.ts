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
 * completed. A field is assembled into one Buffer of its announced length (one copy).
 * Memory: the fields of one tuple plus at most one header's worth of carry-over bytes.
 */
import { ParleyError } from '../../common/errors';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags, extension length. */
const HEADER_BYTES = SIGNATURE.length + 8;

export type CopyField = Buffer | null;

export class CopyBinaryDecoder {
  private carry: Buffer = Buffer.alloc(0);
  private headerDone = false;
  private extensionLeft = 0;
  private ended = false;
  /** Fields of the tuple being decoded. */
  private fields: CopyField[] = [];
  private fieldCount = -1;
  /** The field being filled. */
  private field: Buffer | undefined;
  private fieldAt = 0;

  constructor(private readonly maxFieldBytes: number) {}

  /** Whether the end-of-data marker was seen. */
  get done(): boolean {
    return this.ended;
  }

  /** Decodes a piece of the stream; returns the tuples it completed. @throws ParleyError internal on malformed data */
  push(piece: Buffer): CopyField[][] {
    const out: CopyField[][] = [];
    const buf = this.carry.length === 0 ? piece : Buffer.concat([this.carry, piece]);
    this.carry = Buffer.alloc(0);
    let at = 0;
    for (;;) {
      if (this.field !== undefined) {
        const n = Math.min(this.field.length - this.fieldAt, buf.length - at);
        buf.copy(this.field, this.fieldAt, at, at + n);
        this.fieldAt += n;
        at += n;
        if (this.fieldAt < this.field.length) break;
        this.fields.push(this.field);
        this.field = undefined;
        this.completeTuple(out);
        continue;
      }
      if (!this.headerDone) {
        if (buf.length - at < HEADER_BYTES) break;
        if (!buf.subarray(at, at + SIGNATURE.length).equals(SIGNATURE)) throw malformed('bad signature');
        this.extensionLeft = buf.readUInt32BE(at + SIGNATURE.length + 4);
        at += HEADER_BYTES;
        this.headerDone = true;
        continue;
      }
      if (this.extensionLeft > 0) {
        const n = Math.min(this.extensionLeft, buf.length - at);
        this.extensionLeft -= n;
        at += n;
        if (this.extensionLeft > 0) break;
        continue;
      }
      if (this.ended) {
        if (at < buf.length) throw malformed('data after the end marker');
        break;
      }
      if (this.fieldCount < 0) {
        if (buf.length - at < 2) break;
        const count = buf.readInt16BE(at);
        at += 2;
        if (count === -1) {
          this.ended = true;
          continue;
        }
        if (count < 0) throw malformed('negative field count');
        this.fieldCount = count;
        this.completeTuple(out);
        continue;
      }
      if (buf.length - at < 4) break;
      const len = buf.readInt32BE(at);
      at += 4;
      if (len === -1) {
        this.fields.push(null);
        this.completeTuple(out);
        continue;
      }
      if (len < 0 || len > this.maxFieldBytes) throw malformed(`field of ${len} bytes`);
      this.field = Buffer.allocUnsafe(len);
      this.fieldAt = 0;
      if (len === 0) {
        this.fields.push(this.field);
        this.field = undefined;
        this.completeTuple(out);
      }
    }
    if (at < buf.length) this.carry = Buffer.from(buf.subarray(at));
    return out;
  }

  /** Checks that the stream ended cleanly (after the server finished the COPY). */
  finish(): void {
    if (!this.ended || this.carry.length > 0 || this.field !== undefined) throw malformed('stream ended early');
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
