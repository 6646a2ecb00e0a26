/** Public API of the gRPC transport context. */
export { createGrpcServer } from './grpc-server';
export type { GrpcServerHandle, GrpcServerOptions } from './grpc-server';
export { callInterceptor, CallMetrics, ownTrustDomainOnly, bindCallContext, callContextOf, decidedContext } from './call-interceptor';
export type { Authorize, AuthorizationDecision, CallContext, CallInterceptorOptions } from './call-interceptor';
export { HealthService, HEALTH_PROTO } from './health.service';
export type { ServingStatus } from './health.service';
export { ReflectionService } from './reflection.service';
export { guardHandler, failCall } from './call-guard';
export { SecureGrpcServer } from './secure-grpc-server';
export type { SecureGrpcServerOptions } from './secure-grpc-server';
export { builtinMethods } from './builtin-services';
export { GrpcListener, GrpcModule } from './grpc.module';
