/**
 * The store benchmark's client, one for every server (gateway or bare): a worker thread of
 * the bench process (so its event loop is nobody else's) with one grpc-js channel per
 * target, mTLS with the test CA's client SVID. The main thread sends it one operation at a
 * time (StoreLoad) and gets the measurement back.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { STORE_SERVICE, storePackageDefinition, type WirePullResponse } from '../src/store/store-wire';

const MiB = 1024 * 1024;

export interface StoreLoadCredentials {
  caPem: string;
  keyPem: string;
  certChainPem: string;
}

export type StoreLoadOp =
  | { op: 'pull'; target: string; cid: string }
  | { op: 'push'; target: string; seed: number; size: number }
  | { op: 'lookup'; target: string; cid: string; ms: number; concurrency: number }
  | { op: 'delete'; target: string; cid: string }
  | { op: 'close' };

export interface PullResult {
  bytes: number;
  ms: number;
}
export interface PushResult {
  cid: string;
  ms: number;
}
export interface LookupResult {
  calls: number;
  ms: number;
}

/** The client worker, seen from the bench's main thread. */
export class StoreLoad {
  private readonly worker: Worker;
  constructor(credentials: StoreLoadCredentials) {
    this.worker = new Worker(join(__dirname, 'store-load.js'), { workerData: credentials });
  }
  pull(target: string, cid: string): Promise<PullResult> {
    return this.ask({ op: 'pull', target, cid });
  }
  push(target: string, seed: number, size: number): Promise<PushResult> {
    return this.ask({ op: 'push', target, seed, size });
  }
  lookup(target: string, cid: string, ms: number, concurrency: number): Promise<LookupResult> {
    return this.ask({ op: 'lookup', target, cid, ms, concurrency });
  }
  delete(target: string, cid: string): Promise<object> {
    return this.ask({ op: 'delete', target, cid });
  }
  async close(): Promise<void> {
    await this.ask({ op: 'close' });
    await this.worker.terminate();
  }
  private ask<T>(message: StoreLoadOp): Promise<T> {
    return new Promise((resolve, reject) => {
      this.worker.once('message', (reply: T & { error?: string }) => (reply.error !== undefined ? reject(new Error(reply.error)) : resolve(reply)));
      this.worker.postMessage(message);
    });
  }
}

type StoreClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** The worker's side. */
function runWorker(credentials: StoreLoadCredentials): void {
  const Ctor = grpc.makeGenericClientConstructor(storePackageDefinition()[STORE_SERVICE] as ServiceDefinition as grpc.ServiceDefinition, 'StoreService');
  const creds = grpc.credentials.createSsl(Buffer.from(credentials.caPem), Buffer.from(credentials.keyPem), Buffer.from(credentials.certChainPem), {
    // The servers' SVIDs name a SPIFFE ID, no host name; the chain is checked against the CA.
    checkServerIdentity: () => undefined,
  });
  // As the proto's comments advise clients of large payloads.
  const options = { 'grpc.max_receive_message_length': 16 * MiB, 'grpc.max_send_message_length': 16 * MiB, 'grpc-node.flow_control_window': 16 * MiB, 'grpc.ssl_target_name_override': 'parley.test' };
  const clients = new Map<string, StoreClient>();
  const client = (target: string): StoreClient => {
    let c = clients.get(target);
    if (c === undefined) clients.set(target, (c = new Ctor(target, creds, options) as unknown as StoreClient));
    return c;
  };
  const base = Buffer.alloc(MiB, 7);

  const pull = (target: string, cid: string) =>
    new Promise<PullResult>((resolve, reject) => {
      const start = performance.now();
      let bytes = 0;
      const call = client(target).Pull({ ref: { cid }, offset: '0', length: '0' }) as grpc.ClientReadableStream<WirePullResponse>;
      call.on('data', (m: { chunk?: Buffer }) => {
        if (m.chunk) bytes += m.chunk.length;
      });
      call.on('error', reject);
      call.on('end', () => resolve({ bytes, ms: performance.now() - start }));
    });

  const push = async (target: string, seed: number, size: number): Promise<PushResult> => {
    const start = performance.now();
    let call!: grpc.ClientWritableStream<object>;
    const done = new Promise<string>((resolve, reject) => {
      call = client(target).Push((err: grpc.ServiceError | null, res: { cid: string }) => (err ? reject(err) : resolve(res.cid))) as grpc.ClientWritableStream<object>;
    });
    done.catch(() => undefined); // awaited below
    const write = async (m: object) => {
      if (!call.write(m)) await new Promise((r) => call.once('drain', r));
    };
    await write({ header: { namespace: 'bench/push', expected_size: String(size) } });
    for (let i = 0; i * MiB < size; i++) {
      // Different bytes for every round and piece (a repeated payload is deduplicated).
      const piece = Buffer.from(base.subarray(0, Math.min(MiB, size - i * MiB)));
      piece.writeUInt32LE(seed, 0);
      piece.writeUInt32LE(i, 4);
      await write({ chunk: piece });
    }
    call.end();
    const cid = await done;
    return { cid, ms: performance.now() - start };
  };

  const lookup = async (target: string, cid: string, ms: number, concurrency: number): Promise<LookupResult> => {
    const c = client(target);
    const one = () => new Promise<void>((resolve, reject) => c.Lookup({ refs: [{ cid }] }, (err: Error | null) => (err ? reject(err) : resolve())));
    const start = performance.now();
    const until = start + ms;
    let calls = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          await one();
          calls++;
        }
      }),
    );
    return { calls, ms: performance.now() - start };
  };

  const remove = (target: string, cid: string) =>
    new Promise<object>((resolve, reject) => client(target).Delete({ ref: { cid } }, (err: Error | null) => (err ? reject(err) : resolve({}))));

  parentPort!.on('message', (m: StoreLoadOp) => {
    const work = async (): Promise<object> => {
      switch (m.op) {
        case 'pull':
          return pull(m.target, m.cid);
        case 'push':
          return push(m.target, m.seed, m.size);
        case 'lookup':
          return lookup(m.target, m.cid, m.ms, m.concurrency);
        case 'delete':
          return remove(m.target, m.cid);
        case 'close':
          for (const c of clients.values()) c.close();
          return {};
      }
    };
    work().then(
      (reply) => parentPort!.postMessage(reply),
      (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

if (!isMainThread && (workerData as { certChainPem?: string } | null)?.certChainPem !== undefined) runWorker(workerData as StoreLoadCredentials);
