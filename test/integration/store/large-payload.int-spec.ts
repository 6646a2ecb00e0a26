import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { requireSpiffeId } from '../../../src/spiffe';
import { ContentId } from '../../../src/store/domain/content-id';
import { StoreClient, storeChannelOptions } from '../../../src/store/store-client';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { TestCa } from '../../support/test-ca';
import { pairOf, trustStoreOf } from '../../support/tls-clients';
import { GATEWAY_ID, migratedDatabase, patternBytes, TRAINER_ID } from './store-harness';

jest.setTimeout(180_000);

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** Bound on the server process' growth above its warmed-up baseline, whatever the payload size. */
const MAX_GROWTH = 100 * MiB;

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

class Child {
  private waiting: Array<(msg: Record<string, unknown>) => void> = [];
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (msg: Record<string, unknown>) => this.waiting.shift()?.(msg));
  }
  next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  async ask(op: string, extra: object = {}): Promise<Record<string, unknown>> {
    const reply = this.next();
    this.proc.send({ op, ...extra });
    return reply;
  }
  async mem(gc = false): Promise<{ now: Mem; peak: Mem }> {
    return (await this.ask('mem', { gc })).mem as { now: Mem; peak: Mem };
  }
}

/** 1 MiB pieces of a deterministic payload, generated as they are sent (the client holds no copy). */
function* payloadPieces(size: number): Iterable<Buffer> {
  const piece = patternBytes(MiB, 99);
  for (let sent = 0, i = 0; sent < size; sent += MiB, i++) {
    const out = Buffer.from(piece.subarray(0, Math.min(MiB, size - sent)));
    out.writeUInt32LE(i, 0); // every piece differs
    yield out;
  }
}

const mib = (n: number) => Math.round((n / MiB) * 10) / 10;

describe('store: large payload round trip with bounded server memory (server in its own process)', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let child: Child;
  let client: StoreClient;

  beforeAll(async () => {
    db = await migratedDatabase('storemem');
    const acme = await TestCa.create({ trustDomain: 'acme.test' });
    const serverSvid = await acme.issueSvid({ id: GATEWAY_ID });
    const config = {
      databaseUrl: db.url,
      ownTrustDomain: 'acme.test',
      maxMessageBytes: 8 * MiB,
      svid: pairOf(serverSvid),
      bundles: { 'acme.test': acme.bundlePem() },
      limits: {},
    };
    const proc = fork(join(__dirname, 'fixtures', 'store-server.child.js'), [], {
      execArgv: ['--expose-gc', ...(process.env.STORE_CHILD_ARGS ? process.env.STORE_CHILD_ARGS.split(' ') : [])],
      env: { ...process.env, PARLEY_STORE_CHILD: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = new Child(proc);
    const { port } = (await child.next()) as { port: number };
    const trust = trustStoreOf(acme);
    const creds = spiffeChannelCredentials({ svid: pairOf(await acme.issueSvid({ id: TRAINER_ID })), trust, server: { id: requireSpiffeId(GATEWAY_ID) } });
    client = new StoreClient(`127.0.0.1:${port}`, creds, { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'parley.test' });
  });

  afterAll(async () => {
    client?.close();
    if (child) {
      const exited = new Promise((r) => child.proc.once('exit', r));
      child.proc.send({ op: 'stop' });
      await exited;
    }
    await db?.drop();
  });

  it(`pushes and pulls ${SIZE / MiB} MiB with matching digests; server RSS stays < ${MAX_GROWTH / MiB} MiB above baseline, also with a stalled reader`, async () => {
    // Warm up code paths, pools and TLS sessions, then take the baseline.
    const warm = patternBytes(8 * MiB, 5);
    const warmCid = await client.push({ namespace: 'bench/warm' }, warm);
    expect((await client.pullAll(warmCid)).data.equals(warm)).toBe(true);
    const baseline = (await child.mem(true)).now;

    const expected = createHash('sha256');
    for (const piece of payloadPieces(SIZE)) expected.update(piece);
    const expectedCid = ContentId.fromSha256(expected.digest()).toString();

    await child.ask('resetPeak');
    let t = performance.now();
    const cid = await client.push({ namespace: 'bench/large', expected_size: String(SIZE) }, payloadPieces(SIZE));
    const pushSeconds = (performance.now() - t) / 1000;
    expect(cid).toBe(expectedCid);
    const afterPush = await child.mem();

    await child.ask('resetPeak');
    t = performance.now();
    const got = createHash('sha256');
    let bytes = 0;
    for await (const msg of client.pull(cid) as AsyncIterable<{ chunk?: Buffer }>) {
      if (msg.chunk) {
        got.update(msg.chunk);
        bytes += msg.chunk.length;
      }
    }
    const pullSeconds = (performance.now() - t) / 1000;
    expect(bytes).toBe(SIZE);
    expect(ContentId.fromSha256(got.digest()).toString()).toBe(cid);
    const afterPull = await child.mem();

    // A reader that stops for 3 s after 32 MiB: the server waits for 'drain' instead of buffering the rest.
    await child.ask('resetPeak');
    const stalled = client.pull(cid);
    let stalledBytes = 0;
    let paused = false;
    await new Promise<void>((resolve, reject) => {
      stalled.on('data', (msg: { chunk?: Buffer }) => {
        stalledBytes += msg.chunk?.length ?? 0;
        if (!paused && stalledBytes >= 32 * MiB) {
          paused = true;
          stalled.pause();
          setTimeout(() => {
            stalled.cancel();
            resolve();
          }, 3_000);
        }
      });
      stalled.on('error', (err: { code?: number }) => (err.code === 1 ? resolve() : reject(err)));
    });
    const afterStall = await child.mem();

    const growth = (m: { peak: Mem }) => m.peak.rss - baseline.rss;
    console.log(
      [
        `store large payload: ${SIZE / MiB} MiB`,
        `push ${mib(SIZE / pushSeconds)} MiB/s, pull ${mib(SIZE / pullSeconds)} MiB/s`,
        `server baseline rss ${mib(baseline.rss)} MiB heap ${mib(baseline.heapUsed)} MiB`,
        `peak rss growth: push ${mib(growth(afterPush))} MiB, pull ${mib(growth(afterPull))} MiB, stalled pull ${mib(growth(afterStall))} MiB`,
        `peak heapUsed: push ${mib(afterPush.peak.heapUsed)} MiB, pull ${mib(afterPull.peak.heapUsed)} MiB, stalled ${mib(afterStall.peak.heapUsed)} MiB`,
        `peak arrayBuffers: push ${mib(afterPush.peak.arrayBuffers)} MiB, pull ${mib(afterPull.peak.arrayBuffers)} MiB, stalled ${mib(afterStall.peak.arrayBuffers)} MiB`,
      ].join('\n'),
    );
    expect(growth(afterPush)).toBeLessThan(MAX_GROWTH);
    expect(growth(afterPull)).toBeLessThan(MAX_GROWTH);
    expect(growth(afterStall)).toBeLessThan(MAX_GROWTH);
    expect(stalledBytes).toBeLessThan(SIZE);
  });
});
