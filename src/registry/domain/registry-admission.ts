/**
 * The pure parts of the registry's share of the store's per-caller capacity: how long a
 * refused client is told to wait (`Retry-After`), and an upload body that fails when its
 * client sends nothing for a while (so a request cut short never holds its Push slot and
 * upload buffer for ever). Pure: node:* only.
 */

/** Seconds a client refused by a concurrency limit is asked to wait: the running stream has to end first. */
export const CONCURRENCY_RETRY_AFTER_SECONDS = 5;

/**
 * The `Retry-After` of a capacity refusal, in whole seconds (at least 1): the time a push
 * already waited for upload buffer space (store.uploadBufferWait) for that limit, else
 * CONCURRENCY_RETRY_AFTER_SECONDS.
 */
export function retryAfterSeconds(limit: string | number | boolean | undefined, uploadBufferWaitMs: number): number {
  if (limit === 'upload_buffer') return Math.max(1, Math.ceil(uploadBufferWaitMs / 1000));
  return CONCURRENCY_RETRY_AFTER_SECONDS;
}

/**
 * The pieces of `source`, failing with `idle()` when the next one takes longer than
 * `idleMs` to come. Only the wait for the sender is timed: while the consumer works on a
 * piece no clock runs. On that failure `stop(err)` is called first, so the source gives up
 * its pending read; a consumer that stops early ends the source (its `return`).
 */
export async function* idleLimited<T>(source: AsyncIterable<T>, idleMs: number, stop: (err: Error) => void, idle: () => Error): AsyncGenerator<T> {
  if (!Number.isSafeInteger(idleMs) || idleMs <= 0) throw new TypeError('idleLimited: idleMs must be a positive integer');
  const pieces = source[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'idle'>((resolve) => {
        timer = setTimeout(() => resolve('idle'), idleMs);
      });
      let next: IteratorResult<T> | 'idle';
      try {
        next = await Promise.race([pieces.next(), timedOut]);
      } finally {
        clearTimeout(timer);
      }
      if (next === 'idle') {
        const err = idle();
        ended = true;
        stop(err);
        throw err;
      }
      if (next.done === true) {
        ended = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!ended) await pieces.return?.();
  }
}
