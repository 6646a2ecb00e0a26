import * as grpc from '@grpc/grpc-js';
import type { TransportLogger } from '../tls';

export interface FirstMessageInterceptorOptions {
  /** How long after the handler (or grpc-js, for unary requests) first asks for a message it must have arrived. */
  timeoutMs: number;
  logger: TransportLogger;
  /** Each call ended by the limit (metrics). */
  onTimeout?(method: string): void;
}

/**
 * A time limit to the first message of every call: grpc-js buffers a request message until
 * it is complete, so a client that sends a call's headers and part of a message (or nothing)
 * would hold the stream and those bytes as long as the connection lives. The clock starts
 * when the first message is asked for — at once for unary and server-streaming calls, when
 * the handler first reads for client streams (a Push asks only once it holds its upload
 * buffer) — and stops when it arrives; past the limit the call ends with DEADLINE_EXCEEDED,
 * which resets the stream and frees what was buffered.
 */
export function firstMessageInterceptor(o: FirstMessageInterceptorOptions): grpc.ServerInterceptor {
  if (!Number.isInteger(o.timeoutMs) || o.timeoutMs <= 0) throw new TypeError('firstMessageInterceptor: timeoutMs must be a positive integer');
  return (method, call) => {
    let timer: NodeJS.Timeout | undefined;
    let received = false;
    const stop = () => {
      clearTimeout(timer);
      timer = undefined;
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMessage((message, next) => {
        received = true;
        stop();
        next(message);
      })
      .withOnCancel(stop)
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        stop();
        next(status);
      })
      .build();
    const arm = () => {
      if (received || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (received) return;
        o.logger.info({ method: method.path, peer: call.getPeer(), limitMs: o.timeoutMs }, 'call ended: its first message did not arrive in time');
        o.onTimeout?.(method.path);
        call.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: `first message: none arrived within ${o.timeoutMs} ms` });
      }, o.timeoutMs);
    };
    return new FirstMessageCall(call, responder, arm);
  };
}

/** Starts the first-message clock when the first message is asked for. */
class FirstMessageCall extends grpc.ServerInterceptingCall {
  constructor(
    call: grpc.ServerInterceptingCallInterface,
    responder: grpc.Responder,
    private readonly onFirstRead: () => void,
  ) {
    super(call, responder);
  }

  override startRead(): void {
    this.onFirstRead();
    super.startRead();
  }
}
