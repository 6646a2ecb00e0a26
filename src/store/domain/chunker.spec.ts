import fc from 'fast-check';
import { Chunker } from './chunker';

describe('Chunker', () => {
  it('cuts any sequence of pieces into fixed-size chunks that concatenate to the input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }), (size, pieces) => {
        const c = new Chunker(size);
        const out: Buffer[] = [];
        for (const p of pieces) out.push(...c.push(p));
        const tail = c.flush();
        for (const chunk of out) expect(chunk.length).toBe(size);
        if (tail !== undefined) out.push(tail);
        expect(tail === undefined || (tail.length > 0 && tail.length < size)).toBe(true);
        expect(Buffer.concat(out).equals(Buffer.concat(pieces.map((p) => Buffer.from(p))))).toBe(true);
        expect(c.pendingBytes).toBe(0);
      }),
    );
  });

  it('holds at most one chunk of bytes', () => {
    const c = new Chunker(10);
    expect(c.push(Buffer.alloc(9))).toHaveLength(0);
    expect(c.pendingBytes).toBe(9);
    expect(c.push(Buffer.alloc(25))).toHaveLength(3);
    expect(c.pendingBytes).toBe(4);
  });

  it('refuses a bad chunk size', () => {
    expect(() => new Chunker(0)).toThrow(TypeError);
  });
});
