import type * as grpc from '@grpc/grpc-js';
import type { GrpcOptions } from '@nestjs/microservices';
import { ServerGrpc } from '@nestjs/microservices';
import type { TransportLogger } from '../tls/tls-logger';
import { guardHandler, type GrpcHandler } from './call-guard';

export type GrpcTransportOptions = Omit<GrpcOptions['options'], 'url' | 'credentials'>;

/**
 * NestJS transport strategy that registers `@GrpcMethod`, `@GrpcStreamMethod` and
 * `@GrpcStreamCall` controllers on a grpc-js server we built (fed by our mTLS listener,
 * behind our interceptors) instead of binding a port of its own. Every handler is guarded:
 * an exception — including in `@GrpcStreamCall` handlers, which NestJS leaves as an
 * unhandled rejection — ends that call with a status and never reaches the process.
 * The owner of the grpc-js server shuts it down; closing the NestJS app does not.
 *
 *   app.connectMicroservice({ strategy: new GrpcTransportStrategy(handle.server, { package, protoPath }, logger) });
 */
export class GrpcTransportStrategy extends ServerGrpc {
  constructor(
    private readonly target: grpc.Server,
    options: GrpcTransportOptions,
    private readonly transportLogger: TransportLogger,
  ) {
    super(options as GrpcOptions['options']);
  }

  override async createClient(): Promise<grpc.Server> {
    return this.target;
  }

  override async close(): Promise<void> {
    // The server belongs to the gateway, which drains it after the listener stops.
  }

  override createServiceMethod(...args: Parameters<ServerGrpc['createServiceMethod']>): ReturnType<ServerGrpc['createServiceMethod']> {
    const [methodHandler, protoNativeHandler] = args;
    const method = super.createServiceMethod(...args) as GrpcHandler;
    const path = (protoNativeHandler as { path?: string } | undefined)?.path ?? methodHandler.name;
    return guardHandler(method, this.transportLogger, path);
  }
}
