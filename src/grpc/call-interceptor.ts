/**
 * What the gateway does around every gRPC call, as one server interceptor (one grpc-js
 * wrapping layer): count it and time it, resolve the verified peer of its connection and
 * authorize it before any handler runs, bind the admitted call's context for its handler,
 * and give its first message a time limit.
 */
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ParleyError } from '../common';
import { FastHistogramVec, type FastHistogramSeries } from '../ops';
import type { TrustDomain } from '../spiffe';
import { peerLogFields, type PeerDirectory, type PeerIdentity, type TransportLogger } from '../tls';

/**
 * One admitted call, resolved once by the identity interceptor: who called (the verified
 * peer of the connection, its trust domain and SPIFFE ID), what, and the authorization
 * decision so far. Handlers finish the decision with `requireNamespace` once they know the
 * record namespace; the call is audited once, with its final decision.
 */
export interface CallContext {
  readonly peer: PeerIdentity;
  /** Full method name, `/package.Service/Method`. */
  readonly method: string;
  /**
   * The caller may use records of `namespace` in this call: the call's final decision
   * (audited once per call). `annotations` are the record's: a grant whose export selects by
   * annotations covers only the records that carry them (none when they are not given).
   * @throws ParleyError permission_denied
   */
  requireNamespace(namespace: string, annotations?: Readonly<Record<string, string>>): void;
  /** Whether a record of `namespace` (with `annotations`) may be shown to this call (List filtering; not audited per record). */
  maySee(namespace: string, annotations?: Readonly<Record<string, string>>): boolean;
  /** A capacity limit refused the call the policy allowed: its final decision, audited once (`result` e.g. concurrency_limit). */
  refuse(result: string, reason: string, namespace?: string): void;
  /** Called once by the transport when the call ends (status sent, or cancelled). */
  end(): void;
}

/** An admission the interceptor's decision was final for: every namespace is open to the call. */
export function decidedContext(peer: PeerIdentity, method: string): CallContext {
  return { peer, method, requireNamespace() {}, maySee: () => true, refuse() {}, end() {} };
}

/**
 * Where a call's context sits on its request metadata: grpc-js hands the handler the very
 * Metadata instance the interceptor passed on, and nothing a client sends can name a symbol
 * property (a property write where a WeakMap would hash and keep an ephemeron per call).
 */
const CONTEXT = Symbol('parley.callContext');
type WithContext = grpc.Metadata & { [CONTEXT]?: CallContext };

/** Binds a call's context to its request metadata (the identity interceptor, before the handler starts). */
export function bindCallContext(metadata: grpc.Metadata, context: CallContext): void {
  (metadata as WithContext)[CONTEXT] = context;
}

/**
 * The context of an admitted call. Fails closed: a call the identity interceptor did not
 * admit has none, and is refused.
 * @throws ParleyError unauthenticated
 */
export function callContextOf(call: { readonly metadata: grpc.Metadata }): CallContext {
  const context = (call.metadata as WithContext | undefined)?.[CONTEXT];
  if (context === undefined) throw new ParleyError('unauthenticated', 'grpc: no admitted caller for this call');
  return context;
}

export interface AuthorizationDecision {
  readonly allowed: boolean;
  /** Why: goes to the log and the audit, never to the caller. */
  readonly reason: string;
  /** The status of a refusal (default PERMISSION_DENIED). */
  readonly refusal?: 'permission_denied' | 'resource_exhausted' | 'unauthenticated';
  /**
   * The admitted call's context, which its handler receives (`callContextOf`); absent when
   * the decision is final for every namespace.
   */
  readonly context?: CallContext;
}

/** Decides whether a verified peer may call a method (`/package.Service/Method`). */
export type Authorize = (peer: PeerIdentity, methodPath: string, metadata?: grpc.Metadata) => AuthorizationDecision | Promise<AuthorizationDecision>;

/** The default until the policy engine plugs in: the own trust domain may call anything, nobody else anything. */
export function ownTrustDomainOnly(own: TrustDomain): Authorize {
  return (peer) =>
    peer.trustDomain.equals(own)
      ? { allowed: true, reason: `own trust domain ${own.name}` }
      : { allowed: false, reason: `trust domain ${peer.trustDomain.name} is not the own trust domain ${own.name}` };
}

export interface CallInterceptorOptions {
  peers: PeerDirectory;
  authorize: Authorize;
  logger: TransportLogger;
  /** Call counts, durations and calls in progress; refused calls count with their status too. */
  metrics?: CallMetrics;
  /**
   * How long after the handler (or grpc-js, for unary requests) first asks for a message it
   * must have arrived; no limit when omitted.
   */
  firstMessageTimeoutMs?: number;
  /** Each call ended by the first-message limit (metrics). */
  onFirstMessageTimeout?(method: string): void;
}

/**
 * Admission happens when the request metadata arrives — before the handler is started,
 * which grpc-js only does once the metadata is passed on: no verified peer →
 * UNAUTHENTICATED; refused → PERMISSION_DENIED (or RESOURCE_EXHAUSTED). Callers get generic
 * messages; the reason is logged. The first-message clock starts when the first message is
 * asked for (at once for unary and server-streaming calls, when the handler first reads for
 * client streams: a Push asks only once it holds its upload buffer) and stops when it
 * arrives; past the limit the call ends with DEADLINE_EXCEEDED, which resets the stream and
 * frees what grpc-js buffered of a partial message.
 */
export function callInterceptor(o: CallInterceptorOptions): grpc.ServerInterceptor {
  const limit = o.firstMessageTimeoutMs;
  if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) throw new TypeError('callInterceptor: firstMessageTimeoutMs must be a positive integer');
  const clock = limit === undefined ? undefined : new FirstMessageClock(limit);
  return (method, call) => new GatewayCall(call, method.path, o, clock);
}

/** One call through the interceptor: its admission, context, metrics and first-message clock. */
class GatewayCall extends grpc.ServerInterceptingCall implements ClockWaiter {
  private admitted: CallContext | undefined;
  private ended = false;
  private received = false;
  private readonly startedAt = performance.now();
  private readonly series: MethodSeries | undefined;
  clockPrev: ClockWaiter | undefined = undefined;
  clockNext: ClockWaiter | undefined = undefined;
  clockDeadline = Number.NaN;

  constructor(
    private readonly inner: grpc.ServerInterceptingCallInterface,
    private readonly method: string,
    private readonly o: CallInterceptorOptions,
    private readonly clock: FirstMessageClock | undefined,
  ) {
    super(inner, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => this.admit(metadata, nextMetadata),
          onReceiveMessage: (message, nextMessage) => {
            this.received = true;
            this.stopClock();
            nextMessage(message);
          },
          onReceiveHalfClose: (nextHalfClose) => nextHalfClose(),
          onCancel: () => this.end(grpc.status.CANCELLED),
        }),
      sendStatus: (status, nextStatus) => {
        this.end(status.code ?? grpc.status.UNKNOWN);
        nextStatus(status);
      },
    });
    this.series = o.metrics?.started(method);
  }

  override startRead(): void {
    if (this.clock !== undefined && !this.received && !this.ended) this.clock.start(this);
    super.startRead();
  }

  private admit(metadata: grpc.Metadata, next: (metadata: grpc.Metadata) => void): void {
    const peer = this.o.peers.peerOf(this.inner);
    if (peer === undefined) {
      this.o.logger.warn({ method: this.method, peer: this.inner.getPeer() }, 'call refused: no verified peer for this connection');
      this.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'authentication failed' });
      return;
    }
    let decision: AuthorizationDecision | Promise<AuthorizationDecision>;
    try {
      decision = this.o.authorize(peer, this.method, metadata);
    } catch (err) {
      this.authorizationFailed(err, peer);
      return;
    }
    if (decision instanceof Promise) decision.then((d) => this.decided(d, peer, metadata, next), (err: unknown) => this.authorizationFailed(err, peer));
    else this.decided(decision, peer, metadata, next);
  }

  private decided(d: AuthorizationDecision, peer: PeerIdentity, metadata: grpc.Metadata, next: (metadata: grpc.Metadata) => void): void {
    if (d !== null && typeof d === 'object' && d.allowed === true) {
      this.admitted = d.context ?? decidedContext(peer, this.method);
      bindCallContext(metadata, this.admitted);
      next(metadata);
      return;
    }
    this.o.logger.debug({ ...peerLogFields(peer), method: this.method, reason: String(d?.reason) }, 'call denied');
    if (d?.refusal === 'resource_exhausted') this.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'rate limit exceeded' });
    else if (d?.refusal === 'unauthenticated') this.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'authentication failed' });
    else this.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: 'permission denied' });
  }

  private authorizationFailed(err: unknown, peer: PeerIdentity): void {
    this.o.logger.error({ err, ...peerLogFields(peer), method: this.method }, 'authorization failed; call refused');
    this.sendStatus({ code: grpc.status.INTERNAL, details: 'internal error' });
  }

  /** The first message did not arrive within the limit (the clock). */
  firstMessageLate(): void {
    if (this.received || this.ended) return;
    const limitMs = this.clock?.limitMs;
    this.o.logger.info({ method: this.method, peer: this.inner.getPeer(), limitMs }, 'call ended: its first message did not arrive in time');
    this.o.onFirstMessageTimeout?.(this.method);
    this.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: `first message: none arrived within ${limitMs} ms` });
  }

  private stopClock(): void {
    this.clock?.stop(this);
  }

  /** Once per call: the status sent, or the client cancelled. */
  private end(code: number): void {
    if (this.ended) return;
    this.ended = true;
    this.stopClock();
    this.series?.ended(code, performance.now() - this.startedAt);
    const context = this.admitted;
    this.admitted = undefined;
    context?.end();
  }
}

const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));
/** The status codes counted in an array slot (OK..UNAUTHENTICATED); any other in a map. */
const KNOWN_CODES = 17;

/** Buckets of `parley_grpc_call_duration_seconds`. */
export const CALL_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 120, 600];

/**
 * The call metrics of one method as plain numbers, looked up once per call and counted with a
 * few additions; the registry reads them when it is scraped.
 */
export class MethodSeries {
  inProgress = 0;
  /** Ended calls by status code (index = code). */
  readonly byCode = new Float64Array(KNOWN_CODES);
  /** Ended calls with a code outside OK..UNAUTHENTICATED. */
  readonly otherCodes = new Map<number, number>();

  constructor(
    readonly method: string,
    readonly duration: FastHistogramSeries,
  ) {}

  ended(code: number, elapsedMs: number): void {
    this.inProgress--;
    this.duration.observe(elapsedMs / 1000);
    if (Number.isInteger(code) && code >= 0 && code < KNOWN_CODES) this.byCode[code]!++;
    else this.otherCodes.set(code, (this.otherCodes.get(code) ?? 0) + 1);
  }
}

/**
 * Per-method call metrics: calls by method and final status code
 * (`parley_grpc_calls_total{method,code}`), call duration
 * (`parley_grpc_call_duration_seconds{method}`), calls in progress
 * (`parley_grpc_calls_in_progress{method}`). Counted per call in a MethodSeries, copied into
 * the exposed metrics when the registry is scraped.
 */
export class CallMetrics {
  /** Bounded by the served methods: grpc-js answers unknown ones before any interceptor. */
  private readonly series = new Map<string, MethodSeries>();
  private readonly duration: FastHistogramVec;

  constructor(registry: Registry) {
    const series = this.series;
    new Counter({
      name: 'parley_grpc_calls_total',
      help: 'gRPC calls by full method name and final status code',
      labelNames: ['method', 'code'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of series.values()) {
          s.byCode.forEach((n, code) => {
            if (n > 0) this.inc({ method: s.method, code: CODE_NAMES[code] ?? String(code) }, n);
          });
          for (const [code, n] of s.otherCodes) this.inc({ method: s.method, code: CODE_NAMES[code] ?? String(code) }, n);
        }
      },
    });
    this.duration = new FastHistogramVec(
      'parley_grpc_call_duration_seconds',
      'gRPC call duration from the request metadata to the final status, by method',
      CALL_DURATION_BUCKETS,
      registry,
    );
    new Gauge({
      name: 'parley_grpc_calls_in_progress',
      help: 'gRPC calls started and not yet ended, by method',
      labelNames: ['method'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of series.values()) this.set({ method: s.method }, s.inProgress);
      },
    });
  }

  /** A call of `method` started: its series, to end it with. */
  started(method: string): MethodSeries {
    let s = this.series.get(method);
    if (s === undefined) this.series.set(method, (s = new MethodSeries(method, this.duration.series({ method }))));
    s.inProgress++;
    return s;
  }
}

/**
 * The first-message limit of every call of an interceptor, on one timer: calls wait in a list ordered by their
 * deadline (all share one limit, so appending keeps the order), the timer is set for the
 * earliest, and a call whose message arrives leaves the list in O(1). No timer is made or
 * cleared per call, and a waiting call allocates nothing: the list links live on the call.
 */

/** A call as the clock keeps it; the clock owns the `clock*` fields. */
export interface ClockWaiter {
  clockPrev: ClockWaiter | undefined;
  clockNext: ClockWaiter | undefined;
  /** When the first message is late (the clock's `now`), while waiting; NaN otherwise. */
  clockDeadline: number;
  /** The limit passed before `stop`: called once, after the call left the list. */
  firstMessageLate(): void;
}

export interface ClockTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): { unref?(): unknown };
}

const REAL_TIMERS: ClockTimers = { now: () => performance.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) };

export class FirstMessageClock {
  private head: ClockWaiter | undefined;
  private tail: ClockWaiter | undefined;
  /** When the pending timer fires (NaN: none pending). */
  private timerAt = Number.NaN;

  /** @throws TypeError when `limitMs` is not a positive integer */
  constructor(
    readonly limitMs: number,
    private readonly timers: ClockTimers = REAL_TIMERS,
  ) {
    if (!Number.isInteger(limitMs) || limitMs <= 0) throw new TypeError('FirstMessageClock: limitMs must be a positive integer');
  }

  /** Starts the call's clock (no-op while it runs). */
  start(w: ClockWaiter): void {
    if (this.isWaiting(w)) return;
    w.clockDeadline = this.timers.now() + this.limitMs;
    w.clockPrev = this.tail;
    w.clockNext = undefined;
    if (this.tail === undefined) this.head = w;
    else this.tail.clockNext = w;
    this.tail = w;
    if (Number.isNaN(this.timerAt)) this.schedule(w.clockDeadline);
  }

  /** Stops the call's clock (its message arrived, or it ended); no-op when not running. */
  stop(w: ClockWaiter): void {
    if (!this.isWaiting(w)) return;
    this.unlink(w);
  }

  /** Calls waiting now. */
  get size(): number {
    let n = 0;
    for (let w = this.head; w !== undefined; w = w.clockNext) n++;
    return n;
  }

  private isWaiting(w: ClockWaiter): boolean {
    return !Number.isNaN(w.clockDeadline) && w.clockDeadline !== undefined;
  }

  private unlink(w: ClockWaiter): void {
    if (w.clockPrev === undefined) this.head = w.clockNext;
    else w.clockPrev.clockNext = w.clockNext;
    if (w.clockNext === undefined) this.tail = w.clockPrev;
    else w.clockNext.clockPrev = w.clockPrev;
    w.clockPrev = undefined;
    w.clockNext = undefined;
    w.clockDeadline = Number.NaN;
  }

  private schedule(at: number): void {
    this.timerAt = at;
    const timer = this.timers.setTimeout(() => this.fire(), Math.max(1, Math.ceil(at - this.timers.now())));
    timer.unref?.();
  }

  /** Ends every call past its deadline, then sets the timer for the earliest left. */
  private fire(): void {
    this.timerAt = Number.NaN;
    const now = this.timers.now();
    let w = this.head;
    while (w !== undefined && w.clockDeadline <= now) {
      this.unlink(w);
      try {
        w.firstMessageLate();
      } catch {
        // one call's failure does not stop the clock of the others
      }
      w = this.head;
    }
    if (w !== undefined && Number.isNaN(this.timerAt)) this.schedule(w.clockDeadline);
  }
}
