import fc from 'fast-check';
import { ParleyError } from '../../common/errors';
import { chunkRowPrefix, CopyBinaryDecoder, copyHeader, copyTrailer, int4Field, type CopyField } from './copy-binary';

/** What PostgreSQL sends for these tuples (signature, flags, extension, tuples, trailer). */
function encode(tuples: CopyField[][], extension = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')];
  const head = Buffer.alloc(8);
  head.writeUInt32BE(extension.length, 4);
  parts.push(head, extension);
  for (const t of tuples) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(t.length);
    parts.push(count);
    for (const f of t) {
      const len = Buffer.alloc(4);
      len.writeInt32BE(f === null ? -1 : f.length);
      parts.push(len);
      if (f !== null) parts.push(f);
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function decodeIn(pieces: Buffer[], max = 1 << 20): CopyField[][] {
  const d = new CopyBinaryDecoder(max);
  const out = pieces.flatMap((p) => d.push(p));
  d.finish();
  return out;
}

function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out;
}

describe('CopyBinaryDecoder', () => {
  it('decodes (seq, data) tuples as PostgreSQL sends them', () => {
    const seq = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    const tuples = [
      [seq(0), Buffer.from('hello')],
      [seq(1), Buffer.alloc(0)],
      [seq(2), null],
    ];
    const out = decodeIn([encode(tuples, Buffer.from('ext'))]);
    expect(out.map((t) => int4Field(t[0]!))).toEqual([0, 1, 2]);
    expect(out.map((t) => t[1])).toEqual([Buffer.from('hello'), Buffer.alloc(0), null]);
  });

  it('gives the same tuples however the stream is cut', () => {
    const field = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)));
    const tuples = fc.array(fc.array(field, { minLength: 0, maxLength: 4 }), { maxLength: 12 });
    fc.assert(
      fc.property(tuples, fc.array(fc.nat(), { maxLength: 40 }), (ts, cuts) => {
        const whole = encode(ts);
        expect(decodeIn(split(whole, cuts))).toEqual(ts);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses malformed data with a clear error, never a crash', () => {
    const good = encode([[Buffer.from('x')]]);
    const bad = Buffer.from(good);
    bad[0] = 0x51;
    expect(() => decodeIn([bad])).toThrow(/bad signature/);
    expect(() => decodeIn([good.subarray(0, good.length - 2)])).toThrow(/ended early/);
    expect(() => decodeIn([Buffer.concat([good, Buffer.from([0])])])).toThrow(/after the end marker/);
    expect(() => decodeIn([encode([[Buffer.alloc(64)]])], 63)).toThrow(/field of 64 bytes/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeIn([Buffer.concat([good.subarray(0, 19), Buffer.from(bytes)])], 1000);
        } catch (err) {
          expect(err).toBeInstanceOf(ParleyError);
        }
      }),
    );
  });

  it('assembles fields in the buffers its allocator gives (column index passed), copying each byte once', () => {
    const data = Buffer.from('payload bytes of a chunk');
    const stream = encode([[Buffer.from([0, 0, 0, 7]), data]]);
    const frame = Buffer.alloc(64, 0xee);
    const asked: Array<[number, number]> = [];
    const d = new CopyBinaryDecoder(1 << 20, (len, index) => {
      asked.push([len, index]);
      return index === 1 ? frame.subarray(6, 6 + len) : Buffer.alloc(len);
    });
    const out = [stream.subarray(0, 25), stream.subarray(25, 30), stream.subarray(30)].flatMap((p) => d.push(p));
    d.finish();
    expect(asked).toEqual([
      [4, 0],
      [data.length, 1],
    ]);
    expect(out[0]![1]!.buffer).toBe(frame.buffer);
    expect(frame.subarray(6, 6 + data.length).equals(data)).toBe(true);
    expect(frame[5]).toBe(0xee);
    expect(() => new CopyBinaryDecoder(10, () => Buffer.alloc(1)).push(stream)).toThrow(TypeError);
  });
});

describe('binary COPY FROM STDIN encoding of chunk rows', () => {
  it('is what the decoder reads back: (blob_id int8, seq int4, data) rows between header and trailer', () => {
    const a = Buffer.from('first chunk');
    const b = Buffer.alloc(0);
    const stream = Buffer.concat([copyHeader(), chunkRowPrefix(42n, 0, a.length), a, chunkRowPrefix(42n, 1, 0), b, copyTrailer()]);
    const rows = decodeIn([stream]);
    expect(rows.map((r) => [r[0]!.readBigInt64BE(0), int4Field(r[1]!), r[2]!.toString()])).toEqual([
      [42n, 0, 'first chunk'],
      [42n, 1, ''],
    ]);
    expect(() => chunkRowPrefix(1n, -1, 0)).toThrow(TypeError);
    expect(() => chunkRowPrefix(1n, 0, 2 ** 31)).toThrow(TypeError);
  });
});
