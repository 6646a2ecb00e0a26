import * as grpc from '@grpc/grpc-js';
import type { Duplex } from 'node:stream';

export interface GrpcServerOptions {
  /** Server interceptors, outermost first; they run before any handler. */
  interceptors?: grpc.ServerInterceptor[];
  /** Connections get a GOAWAY after this age (±10 % jitter), so changed trust does not live on. */
  maxConnectionAgeMs?: number;
  /** After the GOAWAY, calls get this long to finish before the connection is closed. */
  maxConnectionAgeGraceMs?: number;
  maxReceiveMessageLength?: number;
  maxSendMessageLength?: number;
  /** HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams?: number;
  /** Further grpc-js server options. */
  options?: grpc.ServerOptions;
}

export interface GrpcServerHandle {
  readonly server: grpc.Server;
  /** Hands a connection (already verified by the mTLS listener) to the server. */
  inject(socket: Duplex): void;
  /** Graceful shutdown: running calls get `graceMs`, then everything is cancelled. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * A grpc-js server that owns no port: connections come from our own TLS listener through
 * `createConnectionInjector` with insecure server credentials (TLS is already terminated
 * and the peer verified by then).
 */
export function createGrpcServer(opts: GrpcServerOptions = {}): GrpcServerHandle {
  const options: grpc.ServerOptions = { ...opts.options, interceptors: [...(opts.interceptors ?? [])] };
  setPositive(options, 'grpc.max_connection_age_ms', opts.maxConnectionAgeMs);
  setPositive(options, 'grpc.max_connection_age_grace_ms', opts.maxConnectionAgeGraceMs);
  setPositive(options, 'grpc.max_receive_message_length', opts.maxReceiveMessageLength);
  setPositive(options, 'grpc.max_send_message_length', opts.maxSendMessageLength);
  setPositive(options, 'grpc.max_concurrent_streams', opts.maxConcurrentStreams);
  const server = new grpc.Server(options);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  let stopped: Promise<void> | undefined;
  return {
    server,
    inject: (socket) => injector.injectConnection(socket),
    shutdown(graceMs = 5_000) {
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return stopped;
    },
  };
}

function setPositive(options: grpc.ServerOptions, key: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`createGrpcServer: ${key} must be a positive integer`);
  options[key] = value;
}
