import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { loadProto } from '../common';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface HealthRequest {
  service: string;
}
interface HealthResponse {
  status: ServingStatus;
}

export const HEALTH_PROTO = 'grpc/health/v1/health.proto';

/**
 * `grpc.health.v1.Health`: Check answers the current status of a service ("" is the whole
 * server), NOT_FOUND for unknown names; Watch streams the status now and on every change,
 * SERVICE_UNKNOWN for unknown names, until the caller cancels or `shutdown()`.
 */
export class HealthService {
  readonly packageDefinition: PackageDefinition = loadProto(HEALTH_PROTO);
  private readonly statuses = new Map<string, ServingStatus>([['', 'SERVING']]);
  private readonly watchers = new Map<string, Set<(status: ServingStatus) => void>>();
  private readonly streams = new Set<grpc.ServerWritableStream<HealthRequest, HealthResponse>>();
  private shutDown = false;

  /** Sets a service's status; after `shutdown()` every status stays NOT_SERVING. */
  setStatus(service: string, status: Exclude<ServingStatus, 'SERVICE_UNKNOWN'>): void {
    if (this.shutDown || this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const watcher of [...(this.watchers.get(service) ?? [])]) watcher(status);
  }

  status(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Everything NOT_SERVING (callers see it at once), then the watch streams end. */
  shutdown(): void {
    for (const service of this.statuses.keys()) this.setStatus(service, 'NOT_SERVING');
    this.shutDown = true;
    for (const stream of [...this.streams]) stream.end();
    this.streams.clear();
  }

  register(server: grpc.Server): void {
    const definition = (this.packageDefinition['grpc.health.v1.Health'] as ServiceDefinition) ?? missing();
    server.addService(definition, {
      Check: (call: grpc.ServerUnaryCall<HealthRequest, HealthResponse>, callback: grpc.sendUnaryData<HealthResponse>) => {
        const status = this.statuses.get(call.request.service ?? '');
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else callback(null, { status });
      },
      Watch: (call: grpc.ServerWritableStream<HealthRequest, HealthResponse>) => this.watch(call),
    });
  }

  private watch(call: grpc.ServerWritableStream<HealthRequest, HealthResponse>): void {
    const service = call.request.service ?? '';
    let set = this.watchers.get(service);
    if (set === undefined) {
      set = new Set();
      this.watchers.set(service, set);
    }
    const send = (status: ServingStatus) => {
      if (!call.writableEnded) call.write({ status });
    };
    const watchers = set;
    watchers.add(send);
    this.streams.add(call);
    const stop = () => {
      watchers.delete(send);
      if (watchers.size === 0) this.watchers.delete(service);
      this.streams.delete(call);
    };
    call.on('cancelled', stop);
    call.on('finish', stop);
    call.on('error', stop);
    send(this.statuses.get(service) ?? 'SERVICE_UNKNOWN');
  }
}

function missing(): never {
  throw new Error('health.proto does not define grpc.health.v1.Health');
}
