import { Writable } from 'node:stream';
import { ParleyError } from '../common/errors';
import { MessageWriter } from './stream-io';

/** A real object-mode Writable whose writes complete only when `take()` is called: the client taking a message. */
function slowClient() {
  const pending: Array<() => void> = [];
  const stream = new Writable({
    objectMode: true,
    write(_message: unknown, _encoding, callback) {
      pending.push(() => callback());
    },
  });
  return {
    stream,
    take(): boolean {
      const next = pending.shift();
      next?.();
      return next !== undefined;
    },
  };
}

describe('MessageWriter stall limit', () => {
  afterEach(() => jest.useRealTimers());

  it('a client that takes a message now and then is never stalled, though the queue as a whole drains slower than the limit', async () => {
    jest.useFakeTimers();
    const client = slowClient();
    const writer = new MessageWriter<number>(client.stream, 1000, 'pull');
    // The client takes one message every 400 ms; the four queued messages need 1,600 ms to drain.
    const taking = setInterval(() => client.take(), 400);
    let outcome: unknown;
    void (async () => {
      for (let i = 0; i < 12; i++) await writer.write(i);
      return 'all written';
    })().then(
      (done) => (outcome = done),
      (err: unknown) => (outcome = err),
    );
    for (let step = 0; step < 100 && outcome === undefined; step++) await jest.advanceTimersByTimeAsync(100);
    clearInterval(taking);
    expect(outcome).toBe('all written');
  });

  it('a client that takes nothing for the limit fails the write with timeout, measured from the last message it took', async () => {
    jest.useFakeTimers();
    const client = slowClient();
    const writer = new MessageWriter<number>(client.stream, 1000, 'pull');
    for (let i = 0; i < 3; i++) await writer.write(i);
    const blocked = writer.write(3).catch((err: unknown) => err);
    // 600 ms later the client takes one message: the clock restarts there.
    await jest.advanceTimersByTimeAsync(600);
    client.take();
    await jest.advanceTimersByTimeAsync(900);
    expect(await Promise.race([blocked, Promise.resolve('still waiting')])).toBe('still waiting');
    await jest.advanceTimersByTimeAsync(100);
    const err = await blocked;
    expect(err).toBeInstanceOf(ParleyError);
    expect(err).toMatchObject({ code: 'timeout', message: 'pull: the client took nothing for 1000 ms' });
  });
});
