import type * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../common';
import { ContentId } from './domain/content-id';
import { parseAnnotations, parseMediaType, parseReferrerType } from './domain/names';
import { recordNotFound } from './domain/record';
import { callContextOf, type CallContext } from '../grpc';
import type { StoreHandlerContext } from './store-context';
import {
  refCid,
  toWireReferrer,
  type WireDeleteReferrerRequest,
  type WirePullReferrerRequest,
  type WirePushReferrerRequest,
  type WireReferrer,
} from './store-wire';
import { MessageWriter } from './stream-io';

/** Referrers sent per database page by PullReferrer. */
const PULL_PAGE = 8;

export async function handlePushReferrer(
  ctx: StoreHandlerContext,
  call: grpc.ServerUnaryCall<WirePushReferrerRequest, { cid: string }>,
  callback: grpc.sendUnaryData<{ cid: string }>,
): Promise<void> {
  const caller = callContextOf(call);
  const { peer } = caller;
  const record = refCid(call.request.record, 'record');
  await requireRecordNamespace(ctx, caller, record);
  const doc = call.request.referrer;
  if (!doc) throw new ParleyError('invalid_argument', 'push referrer: referrer: required');
  const data = doc.data ?? Buffer.alloc(0);
  if (data.length > ctx.limits.maxReferrerBytes) {
    throw new ParleyError('resource_exhausted', `push referrer: referrer.data: larger than ${ctx.limits.maxReferrerBytes} bytes`);
  }
  const cid = await ctx.repository.referrers.put(
    record,
    {
      type: parseReferrerType(doc.type, 'referrer.type'),
      mediaType: parseMediaType(doc.media_type, 'referrer.media_type'),
      data,
      annotations: parseAnnotations(doc.annotations, ctx.limits, 'referrer.annotations'),
      creatorSpiffeId: peer.id.toString(),
      creatorTrustDomain: peer.trustDomain.name,
    },
    ctx.limits.maxReferrersPerRecord,
  );
  ctx.logger.info({ record: record.toString(), cid: cid.toString(), type: doc.type, spiffeId: peer.id.toString() }, 'referrer pushed');
  callback(null, { cid: cid.toString() });
}

export async function handlePullReferrer(ctx: StoreHandlerContext, call: grpc.ServerWritableStream<WirePullReferrerRequest, WireReferrer>): Promise<void> {
  const caller = callContextOf(call);
  const record = refCid(call.request.record, 'record');
  const type = call.request.type ? parseReferrerType(call.request.type, 'type') : undefined;
  await requireRecordNamespace(ctx, caller, record);
  const writer = new MessageWriter<WireReferrer>(call, ctx.limits.pullStallTimeoutMs, 'pull referrer');
  let after = 0n;
  for (;;) {
    const page = await ctx.repository.referrers.page(record, type, after, PULL_PAGE);
    for (const doc of page) await writer.write(toWireReferrer(doc));
    if (page.length < PULL_PAGE) break;
    after = page[page.length - 1].seq;
  }
  writer.end();
}

export async function handleDeleteReferrer(
  ctx: StoreHandlerContext,
  call: grpc.ServerUnaryCall<WireDeleteReferrerRequest, object>,
  callback: grpc.sendUnaryData<object>,
): Promise<void> {
  const caller = callContextOf(call);
  const { peer } = caller;
  const record = refCid(call.request.record, 'record');
  const cid = ContentId.parse(call.request.cid, 'cid');
  await requireRecordNamespace(ctx, caller, record);
  await ctx.repository.referrers.delete(record, cid);
  ctx.logger.info({ record: record.toString(), cid: cid.toString(), spiffeId: peer.id.toString() }, 'referrer deleted');
  callback(null, {});
}

/** The record must exist (NOT_FOUND) and its namespace be open to the caller (PERMISSION_DENIED). */
async function requireRecordNamespace(ctx: StoreHandlerContext, caller: CallContext, record: ContentId): Promise<void> {
  const found = await ctx.repository.find(record);
  if (found === undefined) throw recordNotFound(record);
  caller.requireNamespace(found.namespace, found.annotations);
}
