import { PassThrough } from 'node:stream';
import { CONCURRENCY_RETRY_AFTER_SECONDS, idleLimited, retryAfterSeconds } from './registry-admission';

async function collect(source: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of source) parts.push(p);
  return Buffer.concat(parts).toString();
}

describe('retryAfterSeconds', () => {
  it.each([
    ['pulls_per_spiffe_id', 30_000, CONCURRENCY_RETRY_AFTER_SECONDS],
    ['pushes_per_trust_domain', 30_000, CONCURRENCY_RETRY_AFTER_SECONDS],
    [undefined, 30_000, CONCURRENCY_RETRY_AFTER_SECONDS],
    ['upload_buffer', 30_000, 30],
    ['upload_buffer', 1500, 2],
    ['upload_buffer', 10, 1],
  ])('%s (store.uploadBufferWait %i ms): %i s', (limit, waitMs, seconds) => {
    expect(retryAfterSeconds(limit, waitMs)).toBe(seconds);
  });
});

describe('idleLimited', () => {
  const idle = () => new Error('idle');

  it('passes every piece of a sender that keeps sending, however long the whole takes', async () => {
    const source = new PassThrough();
    const body = collect(idleLimited(source, 80, (err) => source.destroy(err), idle));
    for (const piece of ['a', 'b', 'c', 'd']) {
      await new Promise((r) => setTimeout(r, 40));
      source.write(piece);
    }
    source.end();
    await expect(body).resolves.toBe('abcd');
  });

  it('fails with idle() and stops the source when the next piece does not come in time', async () => {
    const source = new PassThrough();
    const stopped: Error[] = [];
    source.write('first');
    const body = collect(idleLimited(source, 50, (err) => (stopped.push(err), source.destroy(err)), idle));
    await expect(body).rejects.toThrow('idle');
    expect(stopped.map((e) => e.message)).toEqual(['idle']);
    expect(source.destroyed).toBe(true);
  });

  it('runs no clock while the consumer works on a piece', async () => {
    const source = new PassThrough();
    source.end('slow consumer');
    const parts: string[] = [];
    for await (const p of idleLimited(source, 20, (err) => source.destroy(err), idle)) {
      await new Promise((r) => setTimeout(r, 60));
      parts.push(String(p));
    }
    expect(parts.join('')).toBe('slow consumer');
  });

  it('ends the source when the consumer stops early', async () => {
    const source = new PassThrough();
    source.write('x');
    for await (const p of idleLimited(source, 1000, (err) => source.destroy(err), idle)) {
      expect(String(p)).toBe('x');
      break;
    }
    expect(source.destroyed).toBe(true);
  });

  it('refuses a time limit that is not a positive integer', async () => {
    await expect(collect(idleLimited(new PassThrough(), 0, () => undefined, idle))).rejects.toThrow(TypeError);
  });
});
