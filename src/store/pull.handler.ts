import type * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../common/errors';
import { recordNotFound } from './domain/record';
import type { StoreHandlerContext } from './store-context';
import { parseUint64, refCid, toWireRecord, type WirePullRequest, type WirePullResponse } from './store-wire';
import { MessageWriter } from './stream-io';

/** Chunk reads in flight (on separate pooled connections) while a chunk is written. */
const READ_AHEAD = 2;

/**
 * Pull: the record's metadata, then its payload from `offset` in stored chunks. Two chunk
 * reads run ahead (in parallel, ~1.7x the throughput of one) while a chunk is written;
 * writes wait for 'drain', so memory per pull is bounded by the write queue (4 messages)
 * plus three chunks however slowly the client reads.
 */
export async function handlePull(ctx: StoreHandlerContext, call: grpc.ServerWritableStream<WirePullRequest, WirePullResponse>): Promise<void> {
  ctx.requirePeer(call);
  const cid = refCid(call.request.ref, 'ref');
  const offset = parseUint64(call.request.offset, 'offset');
  const length = parseUint64(call.request.length, 'length');
  const record = await ctx.repository.find(cid);
  if (record === undefined) throw recordNotFound(cid);
  if (offset > record.size) throw new ParleyError('invalid_argument', `pull: offset ${offset} is beyond the end of record ${cid.toString()} (${record.size} bytes)`);
  const end = length === 0 ? record.size : Math.min(record.size, offset + length);
  const writer = new MessageWriter<WirePullResponse>(call, ctx.limits.pullStallTimeoutMs, 'pull');
  await writer.write({ record: toWireRecord(record) });

  if (offset >= end) {
    writer.end();
    return;
  }
  const { blobId, chunkBytes } = record;
  const read = (seq: number): Promise<Buffer | undefined> => {
    const pending = ctx.repository.blobs.readChunk(blobId, seq);
    pending.catch(() => undefined); // awaited below; a pull that ends early must not leave an unhandled rejection
    return pending;
  };
  let seq = Math.floor(offset / chunkBytes);
  let nextRead = seq;
  const ahead: Array<Promise<Buffer | undefined>> = [];
  const fill = () => {
    while (ahead.length < READ_AHEAD && nextRead * chunkBytes < end) ahead.push(read(nextRead++));
  };
  fill();
  while (ahead.length > 0) {
    const data = await (ahead.shift() as Promise<Buffer | undefined>);
    fill();
    const start = seq * chunkBytes;
    const expected = Math.min(chunkBytes, record.size - start);
    if (data === undefined) throw new ParleyError('not_found', `pull: record ${cid.toString()} was deleted during the pull`);
    if (data.length !== expected) throw new ParleyError('internal', `pull: chunk ${seq} of record ${cid.toString()} has ${data.length} bytes, expected ${expected}`);
    seq++;
    const from = Math.max(offset - start, 0);
    const to = Math.min(end - start, data.length);
    await writer.write({ chunk: from === 0 && to === data.length ? data : data.subarray(from, to) });
  }
  writer.end();
}
