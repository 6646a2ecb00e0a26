import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import {
  storePackageDefinition,
  STORE_SERVICE,
  type WireListRequest,
  type WireListResponse,
  type WireLookupResponse,
  type WirePullResponse,
  type WirePushHeader,
  type WirePushResponse,
  type WireRecord,
  type WireReferrer,
} from './store-wire';

const MiB = 1024 * 1024;

export interface StoreChannelTuning {
  /** Largest message received; default 16 MiB (the server sends 1 MiB chunks by default). */
  maxReceiveMessageBytes?: number;
  /** Largest message sent; default 16 MiB. */
  maxSendMessageBytes?: number;
  /** HTTP/2 flow-control window; default 16 MiB (roughly doubles download throughput over the 64 KiB default). */
  flowControlWindowBytes?: number;
}

/** grpc-js channel options for store clients: raised message sizes and a large flow-control window. */
export function storeChannelOptions(t: StoreChannelTuning = {}): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': t.maxReceiveMessageBytes ?? 16 * MiB,
    'grpc.max_send_message_length': t.maxSendMessageBytes ?? 16 * MiB,
    'grpc-node.flow_control_window': t.flowControlWindowBytes ?? 16 * MiB,
  };
}

export interface PushOptions {
  /** Size of the chunks the payload is cut into; default 1 MiB. */
  chunkBytes?: number;
  /** Aborting cancels the call (the server stores nothing). */
  signal?: AbortSignal;
  deadline?: grpc.Deadline;
}

/** What a Push did. */
export interface PushResult {
  readonly cid: string;
  /** The record was stored before this push (false from a gateway that does not say). */
  readonly alreadyStored: boolean;
  /** When `alreadyStored`: the record as stored, if the caller may see its namespace. */
  readonly record?: WireRecord;
}

function pushResult(res: WirePushResponse | undefined): PushResult {
  const alreadyStored = res?.already_stored === true;
  return { cid: res?.cid ?? '', alreadyStored, ...(alreadyStored && res?.record ? { record: res.record } : {}) };
}

/**
 * A raw grpc-js client of `parley.store.v1.StoreService` with backpressure on both
 * directions: `push` waits for 'drain' when grpc-js' buffer is full, `pull` is an async
 * iterator over the response stream (reading pauses when the consumer is slow).
 * Credentials come from the caller (`spiffeChannelCredentials`).
 */
export class StoreClient {
  readonly raw: grpc.Client;

  constructor(address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = storeChannelOptions()) {
    const definition = storePackageDefinition()[STORE_SERVICE] as ServiceDefinition;
    const Ctor = grpc.makeGenericClientConstructor(definition as grpc.ServiceDefinition, 'StoreService');
    this.raw = new Ctor(address, credentials, options);
  }

  /** Pushes a payload (bytes, or any iterable of byte chunks); resolves with the CID. */
  async push(header: WirePushHeader, payload: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, opts: PushOptions = {}): Promise<string> {
    return (await this.pushRecord(header, payload, opts)).cid;
  }

  /**
   * Pushes a payload; resolves with the CID and whether the record was stored before (then
   * the header was not applied: `record` is what is stored, when the caller may see it).
   */
  async pushRecord(header: WirePushHeader, payload: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, opts: PushOptions = {}): Promise<PushResult> {
    const chunkBytes = opts.chunkBytes ?? MiB;
    let call: grpc.ClientWritableStream<unknown> | undefined;
    const result = new Promise<PushResult>((resolve, reject) => {
      call = this.method<grpc.ClientWritableStream<unknown>>('Push')(new grpc.Metadata(), { deadline: opts.deadline }, (err: grpc.ServiceError | null, res?: WirePushResponse) =>
        err ? reject(err) : resolve(pushResult(res)),
      );
    });
    const active = call as grpc.ClientWritableStream<unknown>;
    const onAbort = () => active.cancel();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted === true) active.cancel();
    try {
      let sourceError: unknown;
      const writeAll = async () => {
        try {
          await writeMessage(active, { header });
          for await (const piece of pieces(payload)) {
            for (let at = 0; at < piece.length; at += chunkBytes) {
              await writeMessage(active, { chunk: piece.subarray(at, Math.min(piece.length, at + chunkBytes)) });
            }
          }
          active.end();
        } catch (err) {
          // The call ended (its status settles `result`), or the payload source failed: cancel then.
          if (!(err instanceof CallEndedError)) {
            sourceError = err;
            active.cancel();
          }
        }
      };
      await Promise.race([writeAll(), result.catch(() => undefined)]);
      try {
        return await result;
      } catch (err) {
        throw sourceError ?? err;
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Streams a record: the metadata first, then its payload chunks. Break out of the loop to cancel. */
  pull(cid: string, opts: { offset?: number; length?: number; deadline?: grpc.Deadline } = {}): grpc.ClientReadableStream<WirePullResponse> {
    return this.method<grpc.ClientReadableStream<WirePullResponse>>('Pull')(
      { ref: { cid }, offset: String(opts.offset ?? 0), length: String(opts.length ?? 0) },
      new grpc.Metadata(),
      { deadline: opts.deadline },
    );
  }

  /** Pulls a whole record into memory (small records and tests). */
  async pullAll(cid: string, opts: { offset?: number; length?: number } = {}): Promise<{ record: WireRecord; data: Buffer }> {
    let record: WireRecord | undefined;
    const parts: Buffer[] = [];
    for await (const msg of this.pull(cid, opts) as AsyncIterable<{ record?: WireRecord; chunk?: Buffer }>) {
      if (msg.record) record = msg.record;
      else if (msg.chunk) parts.push(msg.chunk);
    }
    if (record === undefined) throw new Error('pull: the stream carried no record');
    return { record, data: Buffer.concat(parts) };
  }

  /** `signal` cancels the call (CANCELLED). */
  lookup(cids: string[], allowMissing = false, opts: { signal?: AbortSignal } = {}): Promise<WireLookupResponse> {
    return this.unary('Lookup', { refs: cids.map((cid) => ({ cid })), allow_missing: allowMissing }, opts.signal);
  }

  delete(cid: string): Promise<void> {
    return this.unary<object>('Delete', { ref: { cid } }).then(() => undefined);
  }

  list(req: WireListRequest = {}): Promise<WireListResponse> {
    return this.unary('List', req);
  }

  pushReferrer(recordCid: string, referrer: WireReferrer): Promise<string> {
    return this.unary<{ cid: string }>('PushReferrer', { record: { cid: recordCid }, referrer }).then((r) => r.cid);
  }

  async pullReferrers(recordCid: string, type = ''): Promise<WireReferrer[]> {
    const out: WireReferrer[] = [];
    const stream = this.method<grpc.ClientReadableStream<WireReferrer>>('PullReferrer')({ record: { cid: recordCid }, type }, new grpc.Metadata(), {});
    for await (const doc of stream as AsyncIterable<WireReferrer>) out.push(doc);
    return out;
  }

  deleteReferrer(recordCid: string, cid: string): Promise<void> {
    return this.unary<object>('DeleteReferrer', { record: { cid: recordCid }, cid }).then(() => undefined);
  }

  close(): void {
    this.raw.close();
  }

  private method<T>(name: string): (...args: unknown[]) => T {
    const fn = (this.raw as unknown as Record<string, (...args: unknown[]) => T>)[name];
    return fn.bind(this.raw);
  }

  private unary<T>(name: string, request: unknown, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = () => call.cancel();
      const call = this.method<grpc.ClientUnaryCall>(name)(request, (err: grpc.ServiceError | null, res: T) => {
        signal?.removeEventListener('abort', cancel);
        if (err) reject(err);
        else resolve(res);
      });
      if (signal?.aborted === true) call.cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    });
  }
}

async function* pieces(payload: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (payload instanceof Uint8Array) yield payload;
  else yield* payload;
}

/** Writes one message; waits for 'drain' when grpc-js' buffer is full. Rejects when the call ends first. */
export function writeMessage(call: grpc.ClientWritableStream<unknown>, message: unknown): Promise<void> {
  if (call.destroyed || call.writableEnded) return Promise.reject(new CallEndedError());
  if (call.write(message)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      call.off('drain', onDrain);
      call.off('close', onClose);
      call.off('error', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new CallEndedError());
    call.on('drain', onDrain);
    call.on('close', onClose);
    call.on('error', onClose);
  });
}

class CallEndedError extends Error {
  constructor() {
    super('push: the call has ended');
  }
}
