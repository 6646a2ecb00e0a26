import type { ServiceDefinition } from '@grpc/proto-loader';
import { PullFrames } from './pull-frames';
import { STORE_SERVICE, storePackageDefinition } from './store-wire';

const generated = (storePackageDefinition()[STORE_SERVICE] as ServiceDefinition).Pull!;

describe('PullFrames', () => {
  it.each([0, 1, 127, 128, 300, 16_383, 16_384, 1024 * 1024])('encodes a %i-byte chunk exactly as the generated serializer does', (len) => {
    const frames = new PullFrames(1024 * 1024);
    const data = frames.take(len);
    for (let i = 0; i < len; i++) data[i] = (i * 7) & 0xff;
    const encoded = frames.encoded(data)!;
    expect(encoded.equals(generated.responseSerialize({ chunk: Buffer.from(data) }))).toBe(true);
    expect(generated.responseDeserialize(encoded)).toMatchObject({ chunk: Buffer.from(data) });
  });

  it('reuses a frame only after it was given back, and knows only its own frames', () => {
    const frames = new PullFrames(16, 1);
    const a = frames.take(16);
    const b = frames.take(8);
    expect(a.buffer).not.toBe(b.buffer);
    expect(frames.encoded(Buffer.alloc(4))).toBeUndefined();
    frames.give(a);
    frames.give(a); // twice: no double reuse
    frames.give(b); // beyond `keep`: dropped
    const c = frames.take(10);
    expect(c.buffer).toBe(a.buffer);
    expect(frames.take(10).buffer).not.toBe(a.buffer);
    expect(frames.encoded(a)).toBeUndefined(); // a's view is no longer a live chunk
  });

  it('does not frame a chunk larger than the chunk size', () => {
    const frames = new PullFrames(8);
    const big = frames.take(9);
    expect(big.length).toBe(9);
    expect(frames.encoded(big)).toBeUndefined();
  });
});
