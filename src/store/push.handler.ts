import type * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../common';
import type { BudgetLease } from './domain/byte-budget';
import { ContentDigest } from './domain/content-digest';
import { callContextOf, type CallContext } from '../grpc';
import type { RecordDraft } from './domain/record';
import type { StoreHandlerContext } from './store-context';
import { parsePushHeader, wireRecordOf, type WirePushRequest, type WirePushResponse } from './store-wire';
import type { StoredRecord } from './store.repository';
import type { PayloadUpload } from './payload-backend';
import { MessageReader } from './stream-io';

/**
 * Push: header, then chunks. The payload is hashed as it arrives and written to the payload
 * backend as it comes (PostgreSQL: one binary COPY in one transaction); reading from the
 * client pauses while the backend's socket is full, so memory per push is about a chunk
 * plus socket buffers whatever the payload size. After the last byte the size and digest
 * are checked and the same transaction makes the record visible (or finds it exists). Any
 * failure, cancel included, aborts the upload before the call ends: a failed push stores
 * nothing. A push of bytes stored before answers `already_stored` (its header is not applied).
 */
export async function handlePush(
  ctx: StoreHandlerContext,
  call: grpc.ServerReadableStream<WirePushRequest, WirePushResponse>,
  callback: grpc.sendUnaryData<WirePushResponse>,
): Promise<void> {
  const caller = callContextOf(call);
  // A concurrency slot of the caller, then the push's share of the upload buffer: until it has both it reads nothing.
  const release = ctx.capacity.admit('push', caller);
  const gone = new AbortController();
  const onGone = () => gone.abort();
  call.once('cancelled', onGone);
  call.once('close', onGone);
  let lease: BudgetLease | undefined;
  try {
    lease = await ctx.capacity.reserveUpload(caller, gone.signal);
    await receivePush(ctx, call, callback, caller);
  } finally {
    call.off('cancelled', onGone);
    call.off('close', onGone);
    lease?.release();
    release();
  }
}

async function receivePush(
  ctx: StoreHandlerContext,
  call: grpc.ServerReadableStream<WirePushRequest, WirePushResponse>,
  callback: grpc.sendUnaryData<WirePushResponse>,
  caller: CallContext,
): Promise<void> {
  const { limits, repository } = ctx;
  const { peer } = caller;
  // Made only now: its listeners make grpc-js read the first message.
  const reader = new MessageReader<WirePushRequest>(call, limits.pushIdleTimeoutMs, 'push');
  let upload: PayloadUpload | undefined;
  let done = false;
  try {
    const first = await reader.next();
    if (first === undefined || first.part !== 'header' || !first.header) throw new ParleyError('invalid_argument', 'push: the first message must be the header');
    const header = parsePushHeader(first.header, limits);
    caller.requireNamespace(header.namespace);
    const digest = new ContentDigest({ maxBytes: limits.maxRecordBytes, expectedSize: header.expectedSize, expectedDigest: header.expectedDigest });
    const draft: RecordDraft = {
      namespace: header.namespace,
      mediaType: header.mediaType,
      annotations: header.annotations,
      creatorSpiffeId: peer.id.toString(),
      creatorTrustDomain: peer.trustDomain.name,
    };
    // Known content with an announced digest is only hashed (to prove the client has it), never staged again.
    const known = header.expectedDigest === undefined ? undefined : await repository.find(header.expectedDigest);
    if (known === undefined) upload = await repository.payloads.begin({ creatorSpiffeId: draft.creatorSpiffeId, chunkBytes: limits.chunkBytes, resumable: false });
    for (let message = await reader.next(); message !== undefined; message = await reader.next()) {
      if (message.part !== 'chunk') throw new ParleyError('invalid_argument', 'push: only the first message may be a header');
      const data = message.chunk;
      if (data === undefined || data.length === 0) continue;
      digest.update(data);
      await upload?.write(data);
    }
    await confirmHalfClose(call);
    const { cid, size } = digest.finish();
    if (upload !== undefined) {
      const { created } = await repository.commit(upload, cid, size, draft, () => throwIfCancelled(call));
      done = true;
      ctx.metrics?.pushed(size, created);
      ctx.logger.info({ cid: cid.toString(), size, created, namespace: draft.namespace, spiffeId: draft.creatorSpiffeId }, created ? 'record pushed' : 'record pushed again (already stored)');
      if (created) {
        callback(null, { cid: cid.toString(), already_stored: false, record: null });
        return;
      }
    }
    const stored = await repository.find(cid);
    if (stored === undefined) throw new ParleyError('unavailable', `push: record ${cid.toString()} was deleted while it was pushed again; retry the push`);
    if (upload === undefined) ctx.metrics?.pushed(size, false);
    callback(null, alreadyStored(stored, caller));
  } catch (err) {
    if (upload !== undefined && !done) await upload.abort();
    throw err;
  }
}

/**
 * The answer to a push of bytes stored before: the record keeps its first push's metadata.
 * Its namespace and annotations are shown only to a caller that may see them (that the CID
 * exists is no secret to someone holding the bytes: Lookup tells it too).
 */
function alreadyStored(stored: StoredRecord, caller: CallContext): WirePushResponse {
  const visible = caller.maySee(stored.namespace, stored.annotations);
  return { cid: stored.cid.toString(), already_stored: true, record: visible ? wireRecordOf(stored) : null };
}

/**
 * Node's HTTP/2 ends the request stream ('end') when the client resets it, just before
 * 'close'; grpc-js turns that into a half-close and reports the cancel a few ticks later.
 * A push is only committed after the event loop had the chance to report a cancel.
 */
async function confirmHalfClose(call: grpc.ServerReadableStream<unknown, unknown>): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  throwIfCancelled(call);
}

function throwIfCancelled(call: grpc.ServerReadableStream<unknown, unknown>): void {
  if (call.cancelled || call.destroyed) throw new ParleyError('cancelled', 'push: the client cancelled the call');
}
