import fc from 'fast-check';
import { ChunkParts } from './chunk-parts';

describe('ChunkParts', () => {
  it('cuts any sequence of pieces into fixed-size chunks that concatenate to the input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }), (size, pieces) => {
        const c = new ChunkParts(size);
        const out: Buffer[] = [];
        for (const p of pieces) out.push(...c.push(p).map((parts) => Buffer.concat(parts)));
        const parts = c.flush();
        const tail = parts === undefined ? undefined : Buffer.concat(parts);
        for (const chunk of out) expect(chunk.length).toBe(size);
        if (tail !== undefined) out.push(tail);
        expect(tail === undefined || (tail.length > 0 && tail.length < size)).toBe(true);
        expect(Buffer.concat(out).equals(Buffer.concat(pieces.map((p) => Buffer.from(p))))).toBe(true);
        expect(c.pendingBytes).toBe(0);
      }),
    );
  });

  it('holds at most one chunk of bytes', () => {
    const c = new ChunkParts(10);
    expect(c.push(Buffer.alloc(9))).toHaveLength(0);
    expect(c.pendingBytes).toBe(9);
    expect(c.push(Buffer.alloc(25))).toHaveLength(3);
    expect(c.pendingBytes).toBe(4);
  });

  it('hands out views of the received buffers, not copies', () => {
    const c = new ChunkParts(4);
    const received = Buffer.from('abcdefgh');
    const [first, second] = c.push(received);
    received[0] = 0x41;
    received[5] = 0x46;
    expect(Buffer.concat(first!).toString()).toBe('Abcd');
    expect(Buffer.concat(second!).toString()).toBe('eFgh');
  });

  it('refuses a bad chunk size', () => {
    expect(() => new ChunkParts(0)).toThrow(TypeError);
  });
});
