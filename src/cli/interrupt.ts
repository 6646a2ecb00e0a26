/**
 * Ctrl-C (SIGINT) and SIGTERM during a transfer: the first signal aborts the transfer, which
 * stops cleanly and says what it kept (`TransferInterrupted`); a second one exits at once.
 * Either way the exit code is 128 + the signal's number (130 for SIGINT, 143 for SIGTERM),
 * what a shell reports for a command the signal ended.
 */
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type InterruptSignal = (typeof SIGNALS)[number];

/** 130 for SIGINT, 143 for SIGTERM. */
export function interruptExitCode(signal: InterruptSignal): number {
  return 128 + constants.signals[signal];
}

/** A transfer a signal stopped; the message says what was kept and what to run next. */
export class TransferInterrupted extends Error {
  readonly exitCode: number;

  constructor(
    readonly signal: InterruptSignal,
    message: string,
  ) {
    super(message);
    this.name = 'TransferInterrupted';
    this.exitCode = interruptExitCode(signal);
  }

  /** The signal an `InterruptWatch` aborted with (its abort reason). */
  static of(aborted: AbortSignal, message: string): TransferInterrupted {
    const reason: unknown = aborted.reason;
    return new TransferInterrupted(reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT', message);
  }
}

export interface InterruptWatch {
  /** Aborted by the first SIGINT or SIGTERM; its reason is the signal's name. */
  readonly signal: AbortSignal;
  /** Removes the handlers (the default action of the signals is back). */
  close(): void;
}

/** After an interrupted transfer is closed, how long its clean-up may keep the process before it exits. */
const LINGER_MS = 1000;

/**
 * Handles SIGINT and SIGTERM until `close()`: the first aborts `signal`, a second exits the
 * process at once with 128 + its number. Once an aborted watch is closed, the process exits
 * (with the exit code set by then) if it is still running after a second: a connection still
 * being set up (a gateway that never answers the handshake) cannot hold it. `exit` is for tests.
 */
export function watchInterrupts(exit: (code: number) => void = (code) => process.exit(code), lingerMs = LINGER_MS): InterruptWatch {
  const controller = new AbortController();
  const handlers = SIGNALS.map((name) => {
    const handler = () => {
      if (controller.signal.aborted) exit(interruptExitCode(name));
      else controller.abort(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    close: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
      const signal = controller.signal;
      if (signal.aborted) {
        const code = interruptExitCode(signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT');
        setTimeout(() => exit(typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : code), lingerMs).unref();
      }
    },
  };
}
