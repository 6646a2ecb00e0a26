import type * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../common';
import { recordNotFound } from './domain/record';
import { callContextOf, type CallContext } from '../grpc';
import type { StoreHandlerContext } from './store-context';
import { parseUint64, refCid, toWireRecord, type WirePullRequest, type WirePullResponse } from './store-wire';
import { MessageWriter } from './stream-io';

/**
 * Pull: the record's metadata, then its payload from `offset`, streamed from PostgreSQL's
 * binary COPY of the stored chunks. Writes wait for 'drain' and the COPY socket is only read
 * when the next chunk is wanted, so memory per pull is bounded by the write queue (4
 * messages) plus about one chunk, however slowly the client reads.
 */
export async function handlePull(ctx: StoreHandlerContext, call: grpc.ServerWritableStream<WirePullRequest, WirePullResponse>): Promise<void> {
  const caller = callContextOf(call);
  // A concurrency slot of the caller (SPIFFE ID and trust domain) for the whole pull: one peer never holds every stream connection.
  const release = ctx.capacity.admit('pull', caller);
  try {
    await streamRecord(ctx, call, caller);
  } catch (err) {
    if (ParleyError.is(err, 'timeout')) ctx.capacity.timedOut('pull_stall_timeout', caller, err.message);
    throw err;
  } finally {
    release();
  }
}

async function streamRecord(ctx: StoreHandlerContext, call: grpc.ServerWritableStream<WirePullRequest, WirePullResponse>, caller: CallContext): Promise<void> {
  const cid = refCid(call.request.ref, 'ref');
  const offset = parseUint64(call.request.offset, 'offset');
  const length = parseUint64(call.request.length, 'length');
  const record = await ctx.repository.find(cid);
  if (record === undefined) throw recordNotFound(cid);
  caller.requireNamespace(record.namespace, record.annotations);
  if (offset > record.size) throw new ParleyError('invalid_argument', `pull: offset ${offset} is beyond the end of record ${cid.toString()} (${record.size} bytes)`);
  const end = length === 0 ? record.size : Math.min(record.size, offset + length);
  const writer = new MessageWriter<WirePullResponse>(call, ctx.limits.pullStallTimeoutMs, 'pull');
  await writer.write({ record: toWireRecord(record) });

  if (offset >= end) {
    writer.end();
    return;
  }
  const { blobId, chunkBytes } = record;
  const first = Math.floor(offset / chunkBytes);
  const last = Math.ceil(end / chunkBytes);
  let seq = first;
  for await (const chunk of ctx.repository.blobs.streamChunks(blobId, first, last, chunkBytes)) {
    if (chunk.seq !== seq) break;
    const start = seq * chunkBytes;
    const expected = Math.min(chunkBytes, record.size - start);
    if (chunk.data.length !== expected) throw new ParleyError('internal', `pull: chunk ${seq} of record ${cid.toString()} has ${chunk.data.length} bytes, expected ${expected}`);
    seq++;
    const from = Math.max(offset - start, 0);
    const to = Math.min(end - start, chunk.data.length);
    await writer.write({ chunk: from === 0 && to === chunk.data.length ? chunk.data : chunk.data.subarray(from, to) });
    ctx.metrics?.pulled(to - from);
  }
  if (seq !== last) throw new ParleyError('not_found', `pull: record ${cid.toString()} was deleted during the pull`);
  writer.end();
}
