import type * as grpc from '@grpc/grpc-js';
import type { PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import { callContextOf, guardHandler, type CallContext } from '../grpc';
import type { PeerIdentity } from '../tls';
import type { TransportLogger } from '../tls';
import { checkSyncRequest } from './domain/sync-request';
import type { GrantService } from './grant-service';
import type { SyncRepository, SyncRow } from './sync.repository';
import { SYNC_SERVICE, syncPackageDefinition, timestampOf, type WireCreateSyncRequest, type WireCredentialsResponse, type WireSync } from './sync-wire';

export interface SyncServiceDeps {
  repository: SyncRepository;
  grants: GrantService;
  ownTrustDomain: string;
  /** Where partners reach this gateway's gRPC listener (registry_address); empty when not configured. */
  advertisedAddress?: string;
  /**
   * Whether `peer` may write records into `namespace` (the policy's decision for Push there):
   * a sync writes where its creator could push, or it is refused.
   */
  mayWrite(peer: PeerIdentity, namespace: string): { allowed: boolean; reason: string };
  /** Called after CreateSync (the local worker claims at once). */
  onCreated?(sync: SyncRow): void;
  logger: TransportLogger;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_PAGE = 500;

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
  server.addService(definition, {
    CreateSync: unary<WireCreateSyncRequest, WireSync>('CreateSync', (call, peer, context) => createSync(deps, call.request, peer, context)),
    GetSync: unary<{ sync_id?: string }, WireSync>('GetSync', async (call) => toWireSync(await requireSync(deps, call.request.sync_id))),
    ListSyncs: unary<{ page_size?: number; page_token?: string }, { syncs: WireSync[]; next_page_token: string }>('ListSyncs', (call) => listSyncs(deps, call.request)),
    DeleteSync: unary<{ sync_id?: string }, object>('DeleteSync', async (call, peer) => {
      const id = syncId(call.request.sync_id);
      const status = await deps.repository.requestDelete(id);
      if (status === undefined) throw new ParleyError('not_found', `sync ${id} not found`);
      deps.logger.info({ syncId: id, status, by: peer.id.toString() }, 'sync deleted');
      return {};
    }),
    RequestRegistryCredentials: unary<object, WireCredentialsResponse>('RequestRegistryCredentials', async (_call, peer, context) => credentials(deps, peer, context)),
  });
  return { packageDefinition };
}

async function createSync(deps: SyncServiceDeps, req: WireCreateSyncRequest, peer: PeerIdentity, context: CallContext): Promise<WireSync> {
  const { value, errors } = checkSyncRequest(
    {
      remoteAddress: req.remote_address,
      remoteSpiffeId: req.remote_spiffe_id,
      remoteTrustDomain: req.remote_trust_domain,
      namespaces: req.selection?.namespaces,
      cids: req.selection?.cids,
      annotations: req.selection?.annotations,
      continuous: req.continuous,
      intervalSeconds: req.interval_seconds,
      targetNamespace: req.target_namespace,
    },
    deps.ownTrustDomain,
  );
  if (value === undefined) throw new ValidationError('create sync: invalid request', [...errors]);
  const write = deps.mayWrite(peer, value.targetNamespace);
  if (!write.allowed) {
    context.refuse('permission_denied', `may not push into target namespace ${value.targetNamespace}: ${write.reason}`, value.targetNamespace);
    throw new ParleyError('permission_denied', `create sync: ${peer.id.toString()} may not push into ${value.targetNamespace}`);
  }
  const row = await deps.repository.create({ ...value, createdBy: peer.id.toString() });
  deps.logger.info({ syncId: row.id, partner: row.remoteSpiffeId, by: row.createdBy }, 'sync created');
  deps.onCreated?.(row);
  return toWireSync(row);
}

async function listSyncs(deps: SyncServiceDeps, req: { page_size?: number; page_token?: string }): Promise<{ syncs: WireSync[]; next_page_token: string }> {
  const size = req.page_size === undefined || req.page_size === 0 ? 100 : Math.min(MAX_PAGE, req.page_size);
  const before = req.page_token ? parsePageToken(req.page_token) : undefined;
  const rows = await deps.repository.list(size + 1, before);
  const page = rows.slice(0, size);
  const last = page.at(-1);
  const next = rows.length > size && last !== undefined ? Buffer.from(JSON.stringify({ c: last.createdAt.toISOString(), i: last.id })).toString('base64url') : '';
  return { syncs: page.map(toWireSync), next_page_token: next };
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

async function requireSync(deps: SyncServiceDeps, id: string | undefined): Promise<SyncRow> {
  const checked = syncId(id);
  const row = await deps.repository.get(checked);
  if (row === undefined) throw new ParleyError('not_found', `sync ${checked} not found`);
  return row;
}

function syncId(id: string | undefined): string {
  if (typeof id !== 'string' || !UUID.test(id)) throw new ParleyError('invalid_argument', 'sync_id: must be a sync id (a lowercase UUID)', { details: { field: 'sync_id' } });
  return id;
}

function parsePageToken(token: string): { createdAt: Date; id: string } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { c: string; i: string };
    const createdAt = new Date(t.c);
    if (!Number.isNaN(createdAt.getTime()) && UUID.test(t.i)) return { createdAt, id: t.i };
  } catch {
    // falls through
  }
  throw new ParleyError('invalid_argument', 'page_token: not a token of this listing', { details: { field: 'page_token' } });
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
  };
}
