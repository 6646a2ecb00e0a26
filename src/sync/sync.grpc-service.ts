import type * as grpc from '@grpc/grpc-js';
import type { PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { ParleyError } from '../common';
import { callContextOf, guardHandler, type CallContext } from '../grpc';
import type { PeerIdentity } from '../tls';
import type { TransportLogger } from '../tls';
import type { GrantService } from './grant-service';
import type { SyncService } from './sync-service';
import type { SyncRow } from './sync.repository';
import { SYNC_SERVICE, syncPackageDefinition, timestampOf, type WireCreateSyncRequest, type WireCredentialsResponse, type WireOciSource, type WireSync } from './sync-wire';
import type { OciSourceInput } from './domain/oci-source';

export interface SyncServiceDeps {
  syncs: SyncService;
  grants: GrantService;
  /** Where partners reach this gateway's gRPC listener (registry_address); empty when not configured. */
  advertisedAddress?: string;
  /**
   * Whether `peer` may write records into `namespace` (the policy's decision for Push there):
   * a sync writes where its creator could push, or it is refused.
   */
  mayWrite(peer: PeerIdentity, namespace: string): { allowed: boolean; reason: string };
  logger: TransportLogger;
}

/** Registers `parley.sync.v1.SyncService` (unary raw handlers, every one guarded like the store's). */
export function registerSyncService(server: grpc.Server, deps: SyncServiceDeps): { packageDefinition: PackageDefinition } {
  const packageDefinition = syncPackageDefinition();
  const definition = packageDefinition[SYNC_SERVICE] as ServiceDefinition | undefined;
  if (definition === undefined) throw new Error(`sync proto does not define ${SYNC_SERVICE}`);
  const unary =
    <Req, Res>(name: string, handle: (call: grpc.ServerUnaryCall<Req, Res>, peer: PeerIdentity, context: CallContext) => Promise<Res>) =>
    (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) =>
      guardHandler(
        async () => {
          // The caller as the call interceptor admitted it (throws unauthenticated when it did not).
          const context = callContextOf(call);
          callback(null, await handle(call, context.peer, context));
        },
        deps.logger,
        `/${SYNC_SERVICE}/${name}`,
      )(call, callback);
  const { syncs } = deps;
  server.addService(definition, {
    CreateSync: unary<WireCreateSyncRequest, WireSync>('CreateSync', (call, peer, context) => createSync(deps, call.request, peer, context)),
    GetSync: unary<{ sync_id?: string }, WireSync>('GetSync', async (call) => toWireSync(await syncs.get(call.request.sync_id))),
    ListSyncs: unary<{ page_size?: number; page_token?: string }, { syncs: WireSync[]; next_page_token: string }>('ListSyncs', async (call) => {
      const page = await syncs.list(call.request.page_size, call.request.page_token);
      return { syncs: page.syncs.map(toWireSync), next_page_token: page.nextPageToken };
    }),
    DeleteSync: unary<{ sync_id?: string }, object>('DeleteSync', async (call, peer) => (await syncs.delete(call.request.sync_id, peer.id.toString()), {})),
    RequestRegistryCredentials: unary<object, WireCredentialsResponse>('RequestRegistryCredentials', async (_call, peer, context) => credentials(deps, peer, context)),
  });
  return { packageDefinition };
}

async function createSync(deps: SyncServiceDeps, req: WireCreateSyncRequest, peer: PeerIdentity, context: CallContext): Promise<WireSync> {
  const value = deps.syncs.check({
    remoteAddress: req.remote_address,
    remoteSpiffeId: req.remote_spiffe_id,
    remoteTrustDomain: req.remote_trust_domain,
    namespaces: req.selection?.namespaces,
    cids: req.selection?.cids,
    annotations: req.selection?.annotations,
    continuous: req.continuous,
    intervalSeconds: req.interval_seconds,
    targetNamespace: req.target_namespace,
    ...(req.oci_source ? { source: ociSourceInput(req.oci_source) } : {}),
  });
  const write = deps.mayWrite(peer, value.targetNamespace);
  if (!write.allowed) {
    context.refuse('permission_denied', `may not push into target namespace ${value.targetNamespace}: ${write.reason}`, value.targetNamespace);
    throw new ParleyError('permission_denied', `create sync: ${peer.id.toString()} may not push into ${value.targetNamespace}`);
  }
  return toWireSync(await deps.syncs.create(value, peer.id.toString()));
}

/** A grant for what is exported to the caller; a refusal is audited with its reason (the caller sees the generic text). */
async function credentials(deps: SyncServiceDeps, peer: PeerIdentity, context: CallContext): Promise<WireCredentialsResponse> {
  let issued;
  try {
    issued = await deps.grants.issue(peer);
  } catch (err) {
    if (ParleyError.is(err, 'permission_denied') && err.details.reason === 'nothing_exported') context.refuse('permission_denied', 'nothing is exported to you');
    throw err;
  }
  const { token, claims } = issued;
  const namespaces = [...new Set(claims.scope.flatMap((s) => s.namespaces))];
  return {
    success: true,
    error_message: '',
    registry_address: deps.advertisedAddress ?? '',
    repository_name: namespaces.length === 1 ? namespaces[0] : '',
    insecure: false,
    token,
    expires_at: timestampOf(new Date(claims.exp * 1000)),
    scope: claims.scope.map((s) => ({ export_id: s.exportId, namespaces: [...s.namespaces], annotations: { ...(s.annotations ?? {}) }, actions: [...s.actions] })),
  };
}

export function toWireSync(r: SyncRow): WireSync {
  const c = r.counters;
  return {
    sync_id: r.id,
    status: `SYNC_STATUS_${r.status}`,
    failure_reason: `FAILURE_REASON_${r.failureReason}`,
    message: r.message,
    remote_address: r.remoteAddress,
    remote_spiffe_id: r.remoteSpiffeId,
    selection: { namespaces: [...r.selection.namespaces], cids: [...r.selection.cids], annotations: { ...r.selection.annotations } },
    continuous: r.continuous,
    interval_seconds: r.intervalMs === undefined ? 0 : Math.round(r.intervalMs / 1000),
    target_namespace: r.targetNamespace,
    counters: { discovered: String(c.discovered), transferred: String(c.transferred), skipped: String(c.skipped), failed: String(c.failed), bytes: String(c.bytes) },
    attempt: r.attempt,
    next_attempt_at: timestampOf(r.status === 'FAILED' || r.status === 'DELETED' ? undefined : r.nextAttemptAt),
    created_at: timestampOf(r.createdAt),
    updated_at: timestampOf(r.updatedAt),
    last_success_at: timestampOf(r.lastSuccessAt),
    created_by: r.createdBy,
    ...(r.source === undefined
      ? {}
      : { oci_source: { url: r.source.url, repository: r.source.repository, tags: [...r.source.tags], auth: r.source.auth, username: r.source.username ?? '', custom_ca: r.source.caPem !== undefined, insecure: r.source.insecure } }),
  };
}

/** The wire's OCI source as the sync rules read it (empty strings are absent). */
function ociSourceInput(w: WireOciSource): OciSourceInput {
  const credentials = w.token ? { bearer: { token: w.token } } : w.username || w.password ? { basic: { username: w.username ?? '', password: w.password ?? '' } } : undefined;
  return { kind: 'oci', url: w.url, repository: w.repository, tags: w.tags ?? [], ...(credentials === undefined ? {} : { credentials }), ...(w.ca_pem ? { ca: w.ca_pem } : {}), insecure: w.insecure === true };
}
