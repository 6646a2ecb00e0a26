/** Public API of the admin context: the REST API's module, its gate and listener. */
export { AdminHttpsListener, AdminModule } from './admin.module';
export { AdminGatekeeper } from './admin-auth';
export { AdminMetrics } from './admin-metrics';
export { mountAdminMiddleware } from './admin-start';
export { mountOpenApi } from './openapi';
export { AllowlistDto } from './allowlists.dto';
export { RevocationDto } from './revocations.dto';
export type { ExportDto, ExportListDto } from './exports.dto';
export type { SyncDto, SyncPageDto } from './syncs.dto';
export { ADMIN_PERMISSIONS, ADMIN_ROLES, ROLE_PERMISSIONS, describeBinding, roleBindingsOf } from './domain/roles';
export type { AdminPermission, AdminRole, RoleBinding } from './domain/roles';
