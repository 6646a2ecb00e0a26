import type { Readable, Writable } from 'node:stream';
import { ParleyError } from '../common';

/** Messages a client-streaming call may hold decoded before the handler asks for them. */
const READ_AHEAD_MESSAGES = 1;
/** Messages a server stream queues before `write()` asks the handler to wait (grpc-js: 16). */
const WRITE_QUEUE_MESSAGES = 4;

type Cancellable = { cancelled?: boolean; on(event: 'cancelled', listener: () => void): unknown; off(event: 'cancelled', listener: () => void): unknown };

function cancelledError(what: string): ParleyError {
  return new ParleyError('cancelled', `${what}: the client cancelled the call`);
}

/**
 * Pull-style reading of a client stream with backpressure: a message is only requested
 * from grpc-js when the handler asks for it, so a handler that waits for the database makes
 * the HTTP/2 flow-control window, and then the client's `write()`, stall. grpc-js' Readable
 * reads ahead up to its high-water mark (16 messages: up to 16 x the maximum message size);
 * it is lowered to one message so the bound does not depend on what the client sends.
 */
export class MessageReader<T> {
  private ended = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(
    private readonly stream: Readable & Cancellable,
    private readonly idleMs: number,
    private readonly what: string,
  ) {
    const state = (stream as unknown as { _readableState?: { highWaterMark?: number } })._readableState;
    if (state !== undefined && typeof state.highWaterMark === 'number') state.highWaterMark = READ_AHEAD_MESSAGES;
    const poke = () => this.wake?.();
    stream.on('readable', poke);
    stream.on('end', () => {
      this.ended = true;
      poke();
    });
    stream.on('error', (err: unknown) => {
      this.failure ??= err;
      poke();
    });
    stream.on('close', () => {
      if (!this.ended) this.failure ??= cancelledError(what);
      poke();
    });
    stream.on('cancelled', () => {
      this.failure ??= cancelledError(what);
      poke();
    });
  }

  /** The next message; undefined once the client half-closed. Rejects on cancel, error or idle timeout. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const message = this.stream.read() as T | null;
      if (message !== null) return message;
      if (this.ended) return undefined;
      if (this.stream.cancelled || this.stream.destroyed) throw cancelledError(this.what);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.wake = undefined;
          reject(new ParleyError('timeout', `${this.what}: no message from the client for ${this.idleMs} ms`));
        }, this.idleMs);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }
}

/**
 * Writes to a server stream with backpressure: when grpc-js' buffer is full (`write()`
 * returns false) the next write waits for 'drain', so a slow client slows the handler
 * instead of making the server buffer the payload (the queue is lowered from grpc-js' 16
 * messages to 4: a few chunks, not 16). A client that vanishes ends the wait (CANCELLED).
 * The stall limit is measured on progress, not per write: the clock restarts only when a
 * message has been taken (its write completed, i.e. HTTP/2 flow control let it out), so a
 * pull whose client takes no whole message for `stallMs` gets DEADLINE_EXCEEDED, and a
 * slow but steady reader is not cut off because the queue as a whole drains slowly.
 */
export class MessageWriter<T> {
  private lastProgressMs: number;

  constructor(
    private readonly stream: Writable & Cancellable,
    private readonly stallMs: number,
    private readonly what: string,
    private readonly now: () => number = Date.now,
  ) {
    const state = (stream as unknown as { _writableState?: { highWaterMark?: number } })._writableState;
    if (state !== undefined && typeof state.highWaterMark === 'number') state.highWaterMark = WRITE_QUEUE_MESSAGES;
    this.lastProgressMs = now();
  }

  /** Writes a message; `taken` runs once grpc-js took it (serialized), or the stream failed. */
  async write(message: T, taken?: () => void): Promise<void> {
    if (this.stream.cancelled || this.stream.destroyed || this.stream.writableEnded) throw cancelledError(this.what);
    const onTaken = () => {
      this.lastProgressMs = this.now();
      taken?.();
    };
    if (this.stream.write(message, onTaken)) return;
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: unknown) => {
        clearTimeout(timer);
        this.stream.off('drain', onDrain);
        this.stream.off('close', onGone);
        this.stream.off('error', onGone);
        this.stream.off('cancelled', onGone);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onDrain = () => done();
      const onGone = () => done(cancelledError(this.what));
      const check = () => {
        const idle = this.now() - this.lastProgressMs;
        if (idle >= this.stallMs) done(new ParleyError('timeout', `${this.what}: the client took nothing for ${this.stallMs} ms`));
        else timer = setTimeout(check, this.stallMs - idle);
      };
      this.stream.on('drain', onDrain);
      this.stream.on('close', onGone);
      this.stream.on('error', onGone);
      this.stream.on('cancelled', onGone);
      check();
    });
  }

  end(): void {
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
  }
}
