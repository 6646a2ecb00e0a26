import { SendWindow } from './send-window';

/** A send the test finishes by hand, recording its signal. */
interface Pending {
  readonly index: number;
  readonly signal: AbortSignal;
  resolve(value: string): void;
  reject(err: unknown): void;
}

function manualSends() {
  const pending: Pending[] = [];
  const send = (signal: AbortSignal, index: number) =>
    new Promise<string>((resolve, reject) => {
      pending.push({ index, signal, resolve, reject });
      signal.addEventListener('abort', () => reject(new Error(`send ${index} aborted`)));
    });
  return { pending, send };
}

const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('SendWindow', () => {
  let unhandled: unknown[];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled = [];
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    await ticks();
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  it('rejects a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => new SendWindow(limit)).toThrow(TypeError);
  });

  it('runs up to `limit` sends at once; a producer waits in submit while the window is full', async () => {
    const { pending, send } = manualSends();
    const window = new SendWindow<string>(3);
    for (let i = 0; i < 3; i++) await window.submit(send);
    expect(window.inFlight).toBe(3);
    let fourthStarted = false;
    const fourth = window.submit(send).then(() => (fourthStarted = true));
    await ticks();
    expect(fourthStarted).toBe(false); // held back: the fourth part is not even started
    expect(pending).toHaveLength(3);
    pending[1]!.resolve('b');
    await fourth;
    expect(pending.map((p) => p.index)).toEqual([0, 1, 2, 3]);
    expect(window.inFlight).toBe(3);
    expect(window.maxInFlight).toBe(3);
  });

  it('gives the results in submission order whatever order the sends finish in', async () => {
    const { pending, send } = manualSends();
    const window = new SendWindow<string>(4);
    for (let i = 0; i < 4; i++) await window.submit(send);
    for (const i of [3, 1, 0, 2]) pending[i]!.resolve(`part ${i}`);
    expect(await window.drain()).toEqual(['part 0', 'part 1', 'part 2', 'part 3']);
    await expect(window.submit(send)).rejects.toThrow(TypeError);
  });

  it('a window of one runs the sends one after the other', async () => {
    let running = 0;
    let most = 0;
    const window = new SendWindow<number>(1);
    for (let i = 0; i < 5; i++) {
      await window.submit(async (_signal, index) => {
        most = Math.max(most, ++running);
        await ticks(1);
        running--;
        return index;
      });
    }
    expect(await window.drain()).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(1);
    expect(window.maxInFlight).toBe(1);
  });

  it('overlaps sends with real asynchronous work, never beyond the limit', async () => {
    let running = 0;
    let most = 0;
    const window = new SendWindow<number>(3);
    for (let i = 0; i < 12; i++) {
      await window.submit(async (_signal, index) => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 2 + (index % 3)));
        running--;
        return index * 10;
      });
    }
    expect(await window.drain()).toEqual(Array.from({ length: 12 }, (_, i) => i * 10));
    expect(most).toBe(3);
    expect(window.count).toBe(12);
  });

  it('the first failure aborts the other sends and is what submit and drain throw', async () => {
    const { pending, send } = manualSends();
    const window = new SendWindow<string>(3);
    for (let i = 0; i < 3; i++) await window.submit(send);
    const waiting = window.submit(send); // the window is full: this producer waits
    const boom = new Error('part 2 failed');
    pending[1]!.reject(boom);
    await expect(waiting).rejects.toBe(boom);
    expect(pending[0]!.signal.aborted).toBe(true);
    expect(pending[2]!.signal.aborted).toBe(true);
    expect(pending).toHaveLength(3); // the waiting part was never started
    await expect(window.drain()).rejects.toBe(boom);
    expect(window.inFlight).toBe(0); // drain waited for the aborted sends to end
    await expect(window.submit(send)).rejects.toBe(boom);
  });

  it('a failure while nobody waits surfaces at the next submit, and settled reports it too', async () => {
    const window = new SendWindow<string>(2);
    const boom = new Error('no ETag');
    await window.submit(() => Promise.reject(boom));
    await ticks();
    await expect(window.settled()).rejects.toBe(boom);
    await expect(window.submit(() => Promise.resolve('x'))).rejects.toBe(boom);
  });

  it('a send that throws synchronously counts as a failed send', async () => {
    const window = new SendWindow<string>(2);
    const boom = new Error('sync');
    await window.submit(() => {
      throw boom;
    });
    await expect(window.drain()).rejects.toBe(boom);
  });

  it('cancel aborts the running sends with the reason, waits until they ended, and never throws', async () => {
    const { pending, send } = manualSends();
    const window = new SendWindow<string>(2);
    await window.submit(send);
    await window.submit(send);
    const reason = new Error('client cancelled');
    await window.cancel(reason);
    expect(pending.every((p) => p.signal.aborted && p.signal.reason === reason)).toBe(true);
    expect(window.inFlight).toBe(0);
    await window.cancel(); // twice is fine
    await expect(window.submit(send)).rejects.toThrow();
  });

  it('settled waits for the running sends and lets more be submitted', async () => {
    const window = new SendWindow<number>(2);
    await window.submit(async () => 1);
    await window.settled();
    expect(window.inFlight).toBe(0);
    await window.submit(async () => 2);
    expect(await window.drain()).toEqual([1, 2]);
  });
});
