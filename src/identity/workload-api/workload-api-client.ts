/**
 * Identity from the SPIFFE Workload API (a SPIRE agent): one FetchX509SVID stream, every
 * message the full state. Invalid messages are ignored (the current SVID stays), transient
 * failures reconnect with exponential backoff and jitter, InvalidArgument stops for good
 * (CONFORMANCE §5). The current snapshot survives agent restarts and outages.
 */
import * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../../common';
import { parseWorkloadEndpoint, type WorkloadEndpoint } from '../../spiffe';
import type { IdentitySnapshot } from '../domain/identity';
import { IdentitySourceBase } from '../identity-source-base';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { snapshotFromX509Response } from './x509-response';
import { securityMetadata, workloadApiProto, type X509SvidResponseMessage } from './workload-proto';

export interface WorkloadApiLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface WorkloadApiSourceOptions {
  /** `unix:///abs/path` or `tcp://ip:port`; default `$SPIFFE_ENDPOINT_SOCKET`. */
  address?: string;
  logger?: WorkloadApiLogger;
  /** Reconnect backoff; default 1 s doubling up to 30 s. */
  backoff?: Partial<BackoffOptions>;
  /** How long `start()` waits for the first valid X509-SVID; default 30 s. */
  startTimeoutMs?: number;
}

export interface WorkloadApiSourceStats {
  /** Messages that did not parse and were ignored. */
  invalidResponses: number;
  /** Streams that ended or failed (each one followed by a reconnect unless stopped). */
  failedStreams: number;
}

const NO_LOG: WorkloadApiLogger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const DEFAULT_START_TIMEOUT_MS = 30_000;

/**
 * The endpoint to use: `address`, else `$SPIFFE_ENDPOINT_SOCKET`.
 * @throws ParleyError `config_invalid` when there is none or it does not parse
 */
export function resolveWorkloadEndpoint(address: string | undefined = process.env.SPIFFE_ENDPOINT_SOCKET): { address: string; endpoint: WorkloadEndpoint } {
  if (address === undefined || address === '') {
    throw new ParleyError('config_invalid', 'workload api: no endpoint address: set SPIFFE_ENDPOINT_SOCKET or identity.workloadApi.address');
  }
  try {
    return { address, endpoint: parseWorkloadEndpoint(address) };
  } catch (err) {
    throw new ParleyError('config_invalid', `workload api: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export class WorkloadApiSource extends IdentitySourceBase {
  readonly kind = 'workload-api' as const;
  readonly address: string;
  private readonly endpoint: WorkloadEndpoint;
  private readonly log: WorkloadApiLogger;
  private readonly backoff: BackoffOptions;
  private readonly startTimeoutMs: number;
  private state: 'new' | 'running' | 'halted' | 'stopped' = 'new';
  private client?: InstanceType<grpc.ServiceClientConstructor>;
  private call?: grpc.ClientReadableStream<X509SvidResponseMessage>;
  private retryTimer?: NodeJS.Timeout;
  private startTimer?: NodeJS.Timeout;
  private startPromise?: Promise<IdentitySnapshot>;
  private pending?: { resolve: (s: IdentitySnapshot) => void; reject: (e: ParleyError) => void };
  private attempt = 0;
  private lastReason?: string;
  private readonly counters: WorkloadApiSourceStats = { invalidResponses: 0, failedStreams: 0 };

  /** @throws ParleyError `config_invalid` (no or bad address); TypeError on bad options */
  constructor(options: WorkloadApiSourceOptions = {}) {
    super();
    const { address, endpoint } = resolveWorkloadEndpoint(options.address ?? process.env.SPIFFE_ENDPOINT_SOCKET);
    this.address = address;
    this.endpoint = endpoint;
    this.log = options.logger ?? NO_LOG;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    backoffDelay(0, this.backoff); // validates the options
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    if (!(this.startTimeoutMs > 0)) throw new TypeError('workload api: startTimeoutMs must be positive');
  }

  /**
   * Opens the stream; resolves with the first valid snapshot. Rejects (and stops the source)
   * after `startTimeoutMs`, or at once when the agent answers InvalidArgument.
   */
  start(): Promise<IdentitySnapshot> {
    if (this.startPromise) return this.startPromise;
    if (this.state === 'stopped') return Promise.reject(new ParleyError('cancelled', 'workload api: source already stopped'));
    this.state = 'running';
    this.startPromise = new Promise<IdentitySnapshot>((resolve, reject) => (this.pending = { resolve, reject }));
    this.startTimer = setTimeout(() => this.onStartTimeout(), this.startTimeoutMs);
    this.connect();
    return this.startPromise;
  }

  /** Cancels the stream and every timer; the current snapshot stays readable. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    this.settle(new ParleyError('cancelled', 'workload api: stopped before the first x509-svid arrived'));
    this.teardown();
  }

  stats(): WorkloadApiSourceStats {
    return { ...this.counters };
  }

  private connect(): void {
    if (this.state !== 'running') return;
    const { Client } = workloadApiProto();
    this.client ??= new Client(this.endpoint.target, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': this.backoff.initialMs,
      'grpc.max_reconnect_backoff_ms': this.backoff.maxMs,
    });
    const call = this.client.FetchX509SVID({}, securityMetadata()) as grpc.ClientReadableStream<X509SvidResponseMessage>;
    this.call = call;
    this.log.debug({ address: this.address }, 'workload api: x509-svid stream opened');
    call.on('data', (msg: X509SvidResponseMessage) => {
      if (this.call === call) this.onMessage(msg);
    });
    call.on('error', () => undefined); // reported through 'status'
    call.on('status', (status: grpc.StatusObject) => {
      if (this.call === call) this.onStatus(status);
    });
  }

  private onMessage(msg: X509SvidResponseMessage): void {
    let snapshot: IdentitySnapshot;
    try {
      snapshot = snapshotFromX509Response(msg);
    } catch (err) {
      this.counters.invalidResponses++;
      this.failWith(`x509-svid response from ${this.address} ignored: ${err instanceof Error ? err.message : String(err)}`);
      this.log.error({ address: this.address, invalidResponses: this.counters.invalidResponses }, `workload api: ${this.lastReason}`);
      return;
    }
    this.attempt = 0;
    this.log.info(
      {
        spiffeId: snapshot.svid.id.toString(),
        serial: snapshot.svid.leaf.serialNumber,
        notAfter: snapshot.svid.notAfter.toISOString(),
        trustDomains: snapshot.bundles.trustDomains().map((td) => td.name),
      },
      'workload api: x509-svid received',
    );
    try {
      this.publish(snapshot);
    } catch (err) {
      this.log.error({ err }, 'workload api: identity listener failed');
    }
    this.settle(snapshot);
  }

  private onStatus(status: grpc.StatusObject): void {
    this.call = undefined;
    if (this.state !== 'running') return;
    this.counters.failedStreams++;
    const code = (grpc.status[status.code] ?? String(status.code)).toLowerCase();
    const why = status.code === grpc.status.OK ? 'ended by the agent' : `${code}: ${status.details}`;
    this.failWith(`x509-svid stream from ${this.address} failed: ${why}`);
    this.closeClient();
    if (status.code === grpc.status.INVALID_ARGUMENT) {
      this.state = 'halted';
      clearTimeout(this.startTimer);
      this.log.error({ address: this.address, code }, `workload api: ${this.lastReason}; not retrying`);
      this.settle(
        new ParleyError('unavailable', `workload api: ${this.address} rejected the request: ${status.details || code}; not retrying`, {
          details: { grpcCode: code, address: this.address },
        }),
      );
      return;
    }
    const delay = backoffDelay(Math.min(this.attempt++, 30), this.backoff);
    this.log.warn({ address: this.address, code, retryInMs: delay }, `workload api: ${this.lastReason}; reconnecting`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  private onStartTimeout(): void {
    this.startTimer = undefined;
    if (!this.pending) return;
    const why = this.lastReason ?? 'no response from the agent';
    this.log.error({ address: this.address, timeoutMs: this.startTimeoutMs }, 'workload api: no x509-svid at start');
    this.settle(
      new ParleyError('unavailable', `workload api: no X509-SVID from ${this.address} within ${this.startTimeoutMs} ms: ${why}`, {
        details: { address: this.address, timeoutMs: this.startTimeoutMs },
      }),
    );
    // A source whose start failed does nothing further: no stream keeps the process alive.
    this.state = 'halted';
    this.teardown();
  }

  private settle(outcome: IdentitySnapshot | ParleyError): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    clearTimeout(this.startTimer);
    this.startTimer = undefined;
    if (outcome instanceof ParleyError) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  private failWith(reason: string): void {
    this.lastReason = reason;
    this.fail(`workload api: ${reason}`);
  }

  private teardown(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.startTimer);
    this.retryTimer = undefined;
    this.startTimer = undefined;
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.closeClient();
  }

  private closeClient(): void {
    this.client?.close();
    this.client = undefined;
  }
}
