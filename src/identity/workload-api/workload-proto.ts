/**
 * The SPIFFE Workload API protocol (proto/spiffe/workload/workload.proto), loaded at run time
 * with @grpc/proto-loader, plus the message shapes as proto-loader decodes them
 * (keepCase, bytes as Buffer, defaults filled in).
 */
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFile } from '../../common';

/** The metadata every Workload API request carries; servers reject requests without it. */
export const SECURITY_HEADER = 'workload.spiffe.io';
export const WORKLOAD_PROTO = 'spiffe/workload/workload.proto';
export const SERVICE_NAME = 'SpiffeWorkloadAPI';

export interface X509SvidMessage {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
  hint: string;
}

export interface X509SvidResponseMessage {
  svids: X509SvidMessage[];
  crl: Buffer[];
  federated_bundles: Record<string, Buffer>;
}

export interface X509BundlesResponseMessage {
  crl: Buffer[];
  bundles: Record<string, Buffer>;
}

export interface WorkloadApiProto {
  service: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
}

let cached: WorkloadApiProto | undefined;

/** The loaded service (cached): its definition for servers and a client constructor. */
export function workloadApiProto(): WorkloadApiProto {
  if (cached) return cached;
  const file = protoFile(WORKLOAD_PROTO);
  const protoRoot = file.slice(0, file.length - WORKLOAD_PROTO.length - 1);
  const definition = protoLoader.loadSync(file, {
    keepCase: true,
    longs: String,
    enums: String,
    bytes: Buffer,
    defaults: true,
    arrays: true,
    objects: true,
    includeDirs: [protoRoot, ...googleProtoDirs()],
  });
  const Client = grpc.loadPackageDefinition(definition)[SERVICE_NAME] as grpc.ServiceClientConstructor;
  cached = { service: Client.service, Client };
  return cached;
}

/** Metadata with the Workload API security header. */
export function securityMetadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(SECURITY_HEADER, 'true');
  return md;
}

/** True when the request carries exactly `workload.spiffe.io: true` (as SPIRE checks it). */
export function hasSecurityHeader(md: grpc.Metadata): boolean {
  const values = md.get(SECURITY_HEADER);
  return values.length === 1 && values[0] === 'true';
}

/**
 * Where the google/protobuf/*.proto files live. protobufjs bundles the well-known types
 * (struct.proto among them) and resolves them without a file; its directory is added so
 * files it ships on disk are found too.
 */
function googleProtoDirs(): string[] {
  try {
    return [dirname(require.resolve('protobufjs/package.json'))];
  } catch {
    return [];
  }
}
