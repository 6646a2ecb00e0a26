/** Public API of the identity context: the gateway's own SVID and its sources. */
export { IdentitySource } from './domain/identity';
export { IdentityMonitor } from './identity-monitor';
export { IdentityModule } from './identity.module';
export { gatewaySpiffeId, openDevCa } from './create-source';
export { DevCaWorkloadProvider } from './dev-ca/dev-ca-workload-provider';
export { WorkloadApiSource } from './workload-api/workload-api-client';
export { WorkloadApiServer } from './workload-api/workload-api-server';
