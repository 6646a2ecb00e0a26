import { loadProto, serviceMethods } from '../common';
import { HEALTH_PROTO } from './health.service';

/** Methods of the services every gRPC endpoint serves itself: Health and both reflection versions. */
export function builtinMethods(): string[] {
  return [
    ...serviceMethods(loadProto(HEALTH_PROTO), 'grpc.health.v1.Health'),
    ...serviceMethods(loadProto('grpc/reflection/v1/reflection.proto'), 'grpc.reflection.v1.ServerReflection'),
    ...serviceMethods(loadProto('grpc/reflection/v1alpha/reflection.proto'), 'grpc.reflection.v1alpha.ServerReflection'),
  ];
}
