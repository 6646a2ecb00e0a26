/**
 * Every gRPC method the gateway serves, by full name (`/pkg.Service/Method`): what policy
 * rules may name (MethodRegistry). The lists come from the loaded proto definitions, so an
 * rpc added to a proto is known here without an edit.
 */
import type { PackageDefinition } from '@grpc/proto-loader';
import { HEALTH_PROTO, loadProto } from '../grpc';
import { storePackageDefinition, STORE_SERVICE } from '../store';

/** Reserved for the sync context (its proto is not served yet); named by the default policy. */
export const SYNC_CREDENTIALS_METHOD = '/parley.sync.v1.SyncService/RequestRegistryCredentials';

/** Full method names of `service` as the package definition declares them. */
export function serviceMethods(definition: PackageDefinition, service: string): string[] {
  const methods = definition[service] as Record<string, { path?: unknown }> | undefined;
  if (methods === undefined) throw new Error(`served methods: no service ${service} in its proto`);
  return Object.values(methods).map((m) => {
    if (typeof m.path !== 'string') throw new Error(`served methods: service ${service} has a method without a path`);
    return m.path;
  });
}

export const SERVED_METHODS: readonly string[] = Object.freeze([
  ...serviceMethods(storePackageDefinition(), STORE_SERVICE),
  ...serviceMethods(loadProto(HEALTH_PROTO), 'grpc.health.v1.Health'),
  ...serviceMethods(loadProto('grpc/reflection/v1/reflection.proto'), 'grpc.reflection.v1.ServerReflection'),
  ...serviceMethods(loadProto('grpc/reflection/v1alpha/reflection.proto'), 'grpc.reflection.v1alpha.ServerReflection'),
  SYNC_CREDENTIALS_METHOD,
]);
