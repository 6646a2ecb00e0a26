import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { DescriptorIndex } from './descriptor-index';
import { loadDescriptorSet, loadProto } from '../common';

interface ReflectionRequest {
  host?: string;
  message_request?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

type ReflectionResponse = Record<string, unknown>;

const VERSIONS = ['v1', 'v1alpha'] as const;

/**
 * gRPC server reflection (`grpc.reflection.v1` and `v1alpha`). Files come from the protoc
 * compiled descriptor set of the repository's protos (what grpcurl, grpcio and protodesc
 * accept); a proto outside it (tests) falls back to protobufjs's descriptors. Lists the
 * services of the definitions it is given (add every proto the server serves) and itself.
 * Extensions are not indexed: extension queries answer NOT_FOUND or an empty list.
 */
export class ReflectionService {
  private readonly index = new DescriptorIndex();
  private readonly exposed = new Set<string>();
  private readonly protos = VERSIONS.map((v) => ({ v, definition: loadProto(`grpc/reflection/${v}/reflection.proto`) }));

  constructor(definitions: PackageDefinition[] = []) {
    this.index.addFileDescriptorSet(loadDescriptorSet());
    for (const d of definitions) this.add(d);
    for (const p of this.protos) this.add(p.definition);
  }

  add(definition: PackageDefinition): void {
    this.index.add(definition);
    for (const [name, value] of Object.entries(definition)) if (isService(value)) this.exposed.add(name);
  }

  register(server: grpc.Server): void {
    for (const { v, definition } of this.protos) {
      const service = definition[`grpc.reflection.${v}.ServerReflection`] as ServiceDefinition;
      server.addService(service, {
        ServerReflectionInfo: (call: grpc.ServerDuplexStream<ReflectionRequest, ReflectionResponse>) => this.serve(call),
      });
    }
  }

  private serve(call: grpc.ServerDuplexStream<ReflectionRequest, ReflectionResponse>): void {
    call.on('data', (request: ReflectionRequest) => {
      if (!call.writableEnded) call.write(this.answer(request));
    });
    call.on('end', () => call.end());
    call.on('error', () => call.end());
  }

  answer(request: ReflectionRequest): ReflectionResponse {
    const base = { valid_host: request.host ?? '', original_request: request };
    const files = (list: Buffer[] | undefined, what: string) =>
      list === undefined ? { ...base, error_response: notFound(what) } : { ...base, file_descriptor_response: { file_descriptor_proto: list } };
    switch (request.message_request) {
      case 'list_services':
        return { ...base, list_services_response: { service: [...this.exposed].sort().map((name) => ({ name })) } };
      case 'file_by_filename':
        return files(this.index.fileByName(request.file_by_filename ?? ''), `file ${request.file_by_filename}`);
      case 'file_containing_symbol':
        return files(this.index.fileContainingSymbol(request.file_containing_symbol ?? ''), `symbol ${request.file_containing_symbol}`);
      case 'file_containing_extension':
        return { ...base, error_response: notFound('extension') };
      case 'all_extension_numbers_of_type': {
        const type = request.all_extension_numbers_of_type ?? '';
        if (!this.index.hasSymbol(type)) return { ...base, error_response: notFound(`type ${type}`) };
        return { ...base, all_extension_numbers_response: { base_type_name: type, extension_number: [] } };
      }
      default:
        return { ...base, error_response: { error_code: grpc.status.INVALID_ARGUMENT, error_message: 'unsupported reflection request' } };
    }
  }
}

/** A service definition of proto-loader: methods with a `path`; messages carry `format`. */
function isService(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || 'format' in value) return false;
  const methods = Object.values(value as Record<string, unknown>);
  return methods.length > 0 && methods.every((m) => typeof (m as { path?: unknown })?.path === 'string');
}

function notFound(what: string): { error_code: number; error_message: string } {
  return { error_code: grpc.status.NOT_FOUND, error_message: `${what} not found`.slice(0, 300) };
}
