import type * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import type { PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { ParleyError } from '../common';
import { callContextOf, guardHandler } from '../grpc';
import type { TransportLogger } from '../tls';
import type { StoreLimits } from './domain/limits';
import { handlePull } from './pull.handler';
import { handlePush } from './push.handler';
import { handleDeleteReferrer, handlePullReferrer, handlePushReferrer } from './referrer.handlers';
import { recordNotFound } from './domain/record';
import { storeHandlerContext, type StoreHandlerContext } from './store-context';
import { StoreJanitor } from './store-janitor';
import type { StoreCapacity } from './store-capacity';
import type { StoreRepository } from './store.repository';
import { listVisible, parseListPage } from './list.handler';
import {
  refCid,
  storePackageDefinition,
  STORE_SERVICE,
  toWireRecord,
  wireRecordOf,
  type WireDeleteReferrerRequest,
  type WireDeleteRequest,
  type WireListRequest,
  type WireListResponse,
  type WireLookupRequest,
  type WireLookupResponse,
  type WirePullReferrerRequest,
  type WirePullRequest,
  type WirePullResponse,
  type WirePushReferrerRequest,
  type WirePushRequest,
  type WirePushResponse,
  type WireReferrer,
} from './store-wire';

export interface StoreServiceDeps {
  repository: StoreRepository;
  limits: StoreLimits;
  logger: TransportLogger;
  /** Store counters (pushed/pulled bytes, records). */
  metrics?: Registry;
  /** How often abandoned uploads are swept (ms); 0 disables the janitor. Default 5 minutes. */
  sweepIntervalMs?: number;
  /** The per-caller capacity and upload buffer the Pulls and Pushes share with the registry listener and sync imports; one of its own when absent. */
  capacity?: StoreCapacity;
}

export interface StoreServiceHandle {
  /** For reflection: `SecureGrpcServer.addProtos(handle.packageDefinition)`. */
  readonly packageDefinition: PackageDefinition;
  readonly janitor: StoreJanitor;
  /** Stops the janitor (the grpc server is shut down by its owner). */
  close(): Promise<void>;
}

/**
 * The service definition with Pull's response serializer sending `{ encoded }` messages
 * (chunks already in protobuf form, pull-frames.ts) as they are; every other message goes
 * through the generated serializer. A copy: the shared package definition is not changed.
 */
function withEncodedPullChunks(definition: ServiceDefinition): ServiceDefinition {
  const pull = definition.Pull;
  if (pull === undefined) throw new Error(`store proto does not define ${STORE_SERVICE}/Pull`);
  const generated = pull.responseSerialize;
  const responseSerialize = (message: object): Buffer => {
    const encoded = (message as { encoded?: unknown }).encoded;
    return Buffer.isBuffer(encoded) ? encoded : generated(message);
  };
  return { ...definition, Pull: { ...pull, responseSerialize } };
}

/**
 * Registers `parley.store.v1.StoreService` on a grpc-js server as raw handlers (streams
 * with write/drain backpressure, no Observables). Every handler is guarded: whatever it
 * throws becomes the call's status through `toGrpcStatus`.
 */
export function registerStoreService(grpcServer: grpc.Server, deps: StoreServiceDeps): StoreServiceHandle {
  const packageDefinition = storePackageDefinition();
  const definition = packageDefinition[STORE_SERVICE] as ServiceDefinition | undefined;
  if (definition === undefined) throw new Error(`store proto does not define ${STORE_SERVICE}`);
  const ctx = storeHandlerContext(deps);
  const guard = (name: string, handler: (call: never, callback: never) => Promise<void> | void): grpc.UntypedHandleCall =>
    guardHandler(handler as (call: unknown, callback?: unknown) => unknown, deps.logger, `/${STORE_SERVICE}/${name}`) as grpc.UntypedHandleCall;
  const implementation: grpc.UntypedServiceImplementation = {
    Push: guard('Push', (call: grpc.ServerReadableStream<WirePushRequest, WirePushResponse>, cb: grpc.sendUnaryData<WirePushResponse>) => handlePush(ctx, call, cb)),
    Pull: guard('Pull', (call: grpc.ServerWritableStream<WirePullRequest, WirePullResponse>) => handlePull(ctx, call)),
    Lookup: guard('Lookup', (call: grpc.ServerUnaryCall<WireLookupRequest, WireLookupResponse>, cb: grpc.sendUnaryData<WireLookupResponse>) => {
      // The common Lookup is answered at once from the record cache; the rest reads the database.
      const cached = cachedLookup(ctx, call);
      if (cached !== undefined) cb(null, cached);
      else return lookup(ctx, call).then((response) => cb(null, response));
    }),
    Delete: guard('Delete', async (call: grpc.ServerUnaryCall<WireDeleteRequest, object>, cb: grpc.sendUnaryData<object>) => {
      await remove(ctx, call);
      cb(null, {});
    }),
    List: guard('List', async (call: grpc.ServerUnaryCall<WireListRequest, WireListResponse>, cb: grpc.sendUnaryData<WireListResponse>) => cb(null, await list(ctx, call))),
    PushReferrer: guard('PushReferrer', (call: grpc.ServerUnaryCall<WirePushReferrerRequest, { cid: string }>, cb: grpc.sendUnaryData<{ cid: string }>) =>
      handlePushReferrer(ctx, call, cb),
    ),
    PullReferrer: guard('PullReferrer', (call: grpc.ServerWritableStream<WirePullReferrerRequest, WireReferrer>) => handlePullReferrer(ctx, call)),
    DeleteReferrer: guard('DeleteReferrer', (call: grpc.ServerUnaryCall<WireDeleteReferrerRequest, object>, cb: grpc.sendUnaryData<object>) =>
      handleDeleteReferrer(ctx, call, cb),
    ),
  };
  grpcServer.addService(withEncodedPullChunks(definition), implementation);
  const janitor = new StoreJanitor(deps.repository.payloads, deps.limits, deps.logger);
  const interval = deps.sweepIntervalMs ?? 5 * 60_000;
  if (interval > 0) janitor.start(interval);
  return { packageDefinition, janitor, close: () => janitor.stop() };
}

/**
 * The common Lookup, synchronously: one CID the record cache holds, as stored (it needs no
 * parsing). Undefined when the call needs `lookup`.
 * @throws ParleyError permission_denied, unauthenticated
 */
function cachedLookup(ctx: StoreHandlerContext, call: grpc.ServerUnaryCall<WireLookupRequest, WireLookupResponse>): WireLookupResponse | undefined {
  const caller = callContextOf(call);
  const refs = call.request.refs;
  if (refs === undefined || refs === null || refs.length !== 1) return undefined;
  const cached = ctx.repository.cachedByText(refs[0]?.cid);
  if (cached === undefined) return undefined;
  caller.requireNamespace(cached.namespace, cached.annotations);
  return { records: [wireRecordOf(cached)], missing: [] };
}

async function lookup(ctx: StoreHandlerContext, call: grpc.ServerUnaryCall<WireLookupRequest, WireLookupResponse>): Promise<WireLookupResponse> {
  const caller = callContextOf(call);
  const refs = call.request.refs ?? [];
  if (refs.length === 0) throw new ParleyError('invalid_argument', 'lookup: refs: at least one is required');
  if (refs.length > ctx.limits.maxLookupRefs) throw new ParleyError('resource_exhausted', `lookup: refs: more than ${ctx.limits.maxLookupRefs}`);
  const cids = refs.map((ref, i) => refCid(ref, `refs[${i}]`));
  const unique = [...new Map(cids.map((c) => [c.toString(), c])).values()];
  const found = new Map((await ctx.repository.findMany(unique)).map((r) => [r.cid.toString(), r]));
  const missing = unique.filter((c) => !found.has(c.toString()));
  if (missing.length > 0 && call.request.allow_missing !== true) throw recordNotFound(missing[0]);
  for (const r of found.values()) caller.requireNamespace(r.namespace, r.annotations);
  return {
    records: unique.flatMap((c) => {
      const r = found.get(c.toString());
      return r === undefined ? [] : [toWireRecord(r)];
    }),
    missing: missing.map((c) => ({ cid: c.toString() })),
  };
}

async function remove(ctx: StoreHandlerContext, call: grpc.ServerUnaryCall<WireDeleteRequest, object>): Promise<void> {
  const caller = callContextOf(call);
  const cid = refCid(call.request.ref, 'ref');
  const record = await ctx.repository.find(cid);
  if (record === undefined) throw recordNotFound(cid);
  caller.requireNamespace(record.namespace);
  if (!(await ctx.repository.delete(cid))) throw recordNotFound(cid);
  ctx.metrics?.deleted();
  ctx.logger.info({ cid: cid.toString(), spiffeId: caller.peer.id.toString() }, 'record deleted');
}

async function list(ctx: StoreHandlerContext, call: grpc.ServerUnaryCall<WireListRequest, WireListResponse>): Promise<WireListResponse> {
  const caller = callContextOf(call);
  const query = parseListPage(call.request, ctx.limits);
  return listVisible(query, (q) => ctx.repository.list(q), (r) => caller.maySee(r.namespace, r.annotations));
}
