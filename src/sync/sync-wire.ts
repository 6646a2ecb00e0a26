import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { loadProto } from '../common';

/** The sync proto, relative to proto/. */
export const SYNC_PROTO = 'parley/sync/v1/sync.proto';
export const SYNC_SERVICE = 'parley.sync.v1.SyncService';
export const REQUEST_CREDENTIALS_METHOD = `/${SYNC_SERVICE}/RequestRegistryCredentials`;
export const CREATE_SYNC_METHOD = `/${SYNC_SERVICE}/CreateSync`;

let cached: PackageDefinition | undefined;

/** The sync package definition (loaded once): for `addService`, clients and reflection. */
export function syncPackageDefinition(): PackageDefinition {
  cached ??= loadProto(SYNC_PROTO);
  return cached;
}

/** Full gRPC names of every sync rpc, from the proto. */
export function syncMethodNames(): string[] {
  const service = syncPackageDefinition()[SYNC_SERVICE] as Record<string, { path: string }> | undefined;
  if (service === undefined) throw new Error(`sync proto does not define ${SYNC_SERVICE}`);
  return Object.values(service).map((m) => m.path);
}

// Messages as proto-loader delivers and accepts them (keepCase, longs as strings, enums as names).
export interface WireTimestamp {
  seconds: string | number;
  nanos: number;
}
export interface WireSelection {
  namespaces?: string[];
  cids?: string[];
  annotations?: Record<string, string>;
}
export interface WireCreateSyncRequest {
  remote_address?: string;
  remote_spiffe_id?: string;
  remote_trust_domain?: string;
  selection?: WireSelection | null;
  continuous?: boolean;
  interval_seconds?: number;
  target_namespace?: string;
  oci_source?: WireOciSource | null;
}
export interface WireOciSource {
  url?: string;
  repository?: string;
  tags?: string[];
  username?: string;
  password?: string;
  token?: string;
  ca_pem?: string;
  insecure?: boolean;
}
export interface WireOciSourceInfo {
  url: string;
  repository: string;
  tags: string[];
  auth: string;
  username: string;
  custom_ca: boolean;
  insecure: boolean;
}
export interface WireSync {
  sync_id: string;
  status: string;
  failure_reason: string;
  message: string;
  remote_address: string;
  remote_spiffe_id: string;
  selection: WireSelection;
  continuous: boolean;
  interval_seconds: number;
  target_namespace: string;
  counters: { discovered: string; transferred: string; skipped: string; failed: string; bytes: string };
  attempt: number;
  next_attempt_at: WireTimestamp | null;
  created_at: WireTimestamp | null;
  updated_at: WireTimestamp | null;
  last_success_at: WireTimestamp | null;
  created_by: string;
  oci_source?: WireOciSourceInfo | null;
}
export interface WireGrantScope {
  export_id: string;
  namespaces: string[];
  annotations: Record<string, string>;
  actions: string[];
}
export interface WireCredentialsResponse {
  success: boolean;
  error_message: string;
  registry_address: string;
  repository_name: string;
  insecure: boolean;
  token: string;
  expires_at: WireTimestamp | null;
  scope: WireGrantScope[];
}

export function timestampOf(date: Date | undefined): WireTimestamp | null {
  if (date === undefined) return null;
  const ms = date.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

export function dateOf(ts: WireTimestamp | null | undefined): Date | undefined {
  if (ts === null || ts === undefined) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000));
}

/** A SyncService client (unary calls as promises). */
export class SyncClient {
  readonly raw: grpc.Client;

  constructor(address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}) {
    const definition = syncPackageDefinition()[SYNC_SERVICE] as grpc.ServiceDefinition;
    const Ctor = grpc.makeGenericClientConstructor(definition, 'SyncService');
    this.raw = new Ctor(address, credentials, options);
  }

  createSync(req: WireCreateSyncRequest): Promise<WireSync> {
    return this.unary('CreateSync', req);
  }
  getSync(syncId: string): Promise<WireSync> {
    return this.unary('GetSync', { sync_id: syncId });
  }
  listSyncs(pageSize = 0, pageToken = ''): Promise<{ syncs: WireSync[]; next_page_token: string }> {
    return this.unary('ListSyncs', { page_size: pageSize, page_token: pageToken });
  }
  deleteSync(syncId: string): Promise<void> {
    return this.unary<object>('DeleteSync', { sync_id: syncId }).then(() => undefined);
  }
  requestRegistryCredentials(deadline?: grpc.Deadline): Promise<WireCredentialsResponse> {
    return this.unary('RequestRegistryCredentials', {}, deadline);
  }

  close(): void {
    this.raw.close();
  }

  private unary<T>(name: string, request: unknown, deadline?: grpc.Deadline): Promise<T> {
    const fn = (this.raw as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>)[name].bind(this.raw);
    return new Promise<T>((resolve, reject) => {
      fn(request, new grpc.Metadata(), { deadline }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  }
}
