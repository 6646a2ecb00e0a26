/**
 * The registry listener draws on the gRPC store's per-caller capacity (real PostgreSQL, real
 * mTLS): a blob GET is a Pull and an upload request a Push of the same StoreCapacity, so one
 * peer cannot take from the others through either face. Refusals are 429 TOOMANYREQUESTS
 * naming the limit, with Retry-After, counted in parley_store_capacity_refusals_total and
 * audited; every slot and upload buffer lease is given back however the request ends.
 */
import { createHash, randomBytes } from 'node:crypto';
import { status, type ClientReadableStream } from '@grpc/grpc-js';
import { DataSource } from 'typeorm';
import { AuditWriter } from '../../../src/authz';
import type { StoreClient } from '../../../src/store';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { issueSvid, storeClient } from '../../support/federation';
import { startTestGateway, type TestGateway } from '../../support/gateway';
import { waitFor } from '../../support/ports';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { stalledPull } from '../../support/stalled-pull';
import { TrustStore } from '../../../src/trust';
import { bodyOf, ociCode, openRegistryRequest, REGISTRY_ENV, registryRequest, type RegistryReply } from './registry-harness';

jest.setTimeout(120_000);

const KiB = 1024;
const PULL = '/parley.store.v1.StoreService/Pull';
const PUSH = '/parley.store.v1.StoreService/Push';
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const HEADER = (namespace: string) => ({ namespace, media_type: 'application/octet-stream', annotations: {} });

async function metrics(gw: TestGateway) {
  return scrapeMetrics(gw.gateway.listeners.ops!.port);
}

async function refusals(gw: TestGateway, limit: string): Promise<number> {
  const samples = await metrics(gw);
  return samples.filter((s) => s.name === 'parley_store_capacity_refusals_total' && s.labels.limit === limit).reduce((sum, s) => sum + s.value, 0);
}

async function running(gw: TestGateway, kind: 'pull' | 'push'): Promise<number> {
  return metricSum(await metrics(gw), 'parley_store_streams_running', { kind });
}

async function auditRows(gw: TestGateway, method: string, spiffeId: string, like: string): Promise<Array<{ decision: string; reason: string }>> {
  await gw.gateway.get(AuditWriter).flush();
  return gw.gateway.get(DataSource).query('SELECT decision, reason FROM authz_audit WHERE method = $1 AND spiffe_id = $2 AND reason LIKE $3 ORDER BY id', [method, spiffeId, like]);
}

function expectTooMany(reply: RegistryReply, key: string, retryAfter: string): void {
  expect([reply.status, ociCode(reply), reply.headers['retry-after']]).toEqual([429, 'TOOMANYREQUESTS', retryAfter]);
  expect((reply.json().errors as Array<{ message: string }>)[0].message).toContain(key);
}

describe('registry capacity per peer', () => {
  let gw: TestGateway;
  let alice: PemKeyPair;
  let bob: PemKeyPair;
  let aliceGrpc: StoreClient;
  const big = randomBytes(8 * 1024 * KiB);
  const small = Buffer.from('a small blob');
  let bigPath: string;
  let smallPath: string;
  let bigCid: string;

  beforeAll(async () => {
    // One push reserves 2 x 256 KiB + 3 x 64 KiB = 704 KiB of upload buffer: a 1 MiB budget holds exactly one.
    gw = await startTestGateway({
      ...REGISTRY_ENV,
      PARLEY_STORE_PULLS_PER_SPIFFE_ID: '1',
      PARLEY_STORE_PUSHES_PER_SPIFFE_ID: '1',
      PARLEY_STORE_CHUNK_BYTES: String(64 * KiB),
      PARLEY_GRPC_MAX_MESSAGE_BYTES: String(256 * KiB),
      PARLEY_STORE_MAX_REFERRER_BYTES: String(64 * KiB),
      PARLEY_STORE_UPLOAD_BUFFER_BYTES: String(1024 * KiB),
      PARLEY_STORE_UPLOAD_BUFFER_WAIT: '1500ms',
    });
    alice = await issueSvid(gw, '/ml/alice');
    bob = await issueSvid(gw, '/ml/bob');
    aliceGrpc = storeClient(alice, gw.gateway.get(TrustStore), gw);
    bigCid = await aliceGrpc.push(HEADER('ml/shared'), big, { chunkBytes: 64 * KiB });
    await aliceGrpc.push(HEADER('ml/shared'), small);
    bigPath = `/v2/ml/shared/blobs/${sha(big)}`;
    smallPath = `/v2/ml/shared/blobs/${sha(small)}`;
  });
  afterAll(async () => {
    aliceGrpc?.close();
    await gw?.stop();
  });

  /** A blob GET of alice's whose body is not read (it holds her Pull slot while the server waits for her). */
  async function heldGet(): Promise<{ res: import('node:http').IncomingMessage; req: import('node:http').ClientRequest }> {
    const open = openRegistryRequest(gw, alice, 'GET', bigPath);
    open.req.end();
    const res = await open.response;
    res.pause();
    expect(res.statusCode).toBe(200);
    return { res, req: open.req };
  }

  it('a second concurrent blob GET of one SPIFFE ID is 429 (store.pullsPerSpiffeId), another ID is served, and a gRPC Pull shares the allowance', async () => {
    const pullRefusals = await refusals(gw, 'pulls_per_spiffe_id');
    const held = await heldGet();

    expectTooMany(await registryRequest(gw, alice, 'GET', smallPath), 'store.pullsPerSpiffeId', '5');
    // HEAD streams nothing and takes no slot.
    expect((await registryRequest(gw, alice, 'HEAD', smallPath)).status).toBe(200);
    const other = await registryRequest(gw, bob, 'GET', smallPath);
    expect([other.status, other.body.equals(small)]).toEqual([200, true]);
    // The same allowance on the gRPC face: alice's Pull is refused while her registry GET runs.
    const grpcHeld: Array<ClientReadableStream<unknown>> = [];
    expect(await stalledPull(aliceGrpc, bigCid, grpcHeld)).toMatchObject({ code: status.RESOURCE_EXHAUSTED });

    expect((await refusals(gw, 'pulls_per_spiffe_id')) - pullRefusals).toBe(2);
    const rows = await auditRows(gw, PULL, 'spiffe://acme.test/ml/alice', 'concurrency_limit:%');
    expect(rows).toEqual(Array(2).fill({ decision: 'deny', reason: 'concurrency_limit: spiffe://acme.test/ml/alice has 1 pulls running, the most store.pullsPerSpiffeId allows' }));

    // The held GET finishes (its client reads it all): the slot is back.
    held.res.resume();
    expect((await bodyOf(held.res)).equals(big)).toBe(true);
    await waitFor(async () => (await running(gw, 'pull')) === 0, 10_000);
    expect((await registryRequest(gw, alice, 'GET', smallPath)).status).toBe(200);
  });

  it('a running gRPC Pull holds the allowance the registry GET needs, until it ends', async () => {
    const grpcHeld: Array<ClientReadableStream<unknown>> = [];
    expect(await stalledPull(aliceGrpc, bigCid, grpcHeld)).toBe('stalled');
    expectTooMany(await registryRequest(gw, alice, 'GET', smallPath), 'store.pullsPerSpiffeId', '5');
    for (const pull of grpcHeld) pull.cancel();
    await waitFor(async () => (await running(gw, 'pull')) === 0, 10_000);
    const after = await registryRequest(gw, alice, 'GET', smallPath);
    expect([after.status, after.body.equals(small)]).toEqual([200, true]);
  });

  it('a client that aborts mid-body gives its slot back, as does a GET that fails', async () => {
    const held = await heldGet();
    expect(await running(gw, 'pull')).toBe(1);
    const first = await new Promise<Buffer>((resolve) => {
      held.res.once('data', resolve);
      held.res.resume();
    });
    expect(first.length).toBeGreaterThan(0);
    held.req.destroy();
    await waitFor(async () => (await running(gw, 'pull')) === 0, 10_000);
    expect((await registryRequest(gw, alice, 'GET', smallPath)).status).toBe(200);
    // A GET that fails gives its slot back too.
    expect((await registryRequest(gw, alice, 'GET', `/v2/ml/shared/blobs/sha256:${'0'.repeat(64)}`)).status).toBe(404);
    expect((await registryRequest(gw, alice, 'GET', smallPath)).status).toBe(200);
  });

  it('uploads are Pushes: one at a time per ID (store.pushesPerSpiffeId), and past the upload buffer 429 after store.uploadBufferWait, leaving nothing', async () => {
    const start = await registryRequest(gw, alice, 'POST', '/v2/ml/shared/blobs/uploads/');
    expect(start.status).toBe(202); // opening a session carries no bytes and takes nothing
    const location = start.headers.location as string;
    const piece = randomBytes(200 * KiB);
    // alice's PATCH sends half its body and waits: it holds her Push slot and one push's upload buffer.
    const patch = openRegistryRequest(gw, alice, 'PATCH', location, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(piece.length) });
    patch.req.on('error', () => undefined); // a failure shows as the response's
    patch.req.write(piece.subarray(0, 100 * KiB));
    await waitFor(async () => metricSum(await metrics(gw), 'parley_store_upload_buffer_reserved_bytes') === 704 * KiB, 10_000);

    const blob = randomBytes(10 * KiB);
    expectTooMany(await registryRequest(gw, alice, 'POST', `/v2/ml/shared/blobs/uploads/?digest=${sha(blob)}`, { 'Content-Type': 'application/octet-stream' }, blob), 'store.pushesPerSpiffeId', '5');

    const bufferRefusals = await refusals(gw, 'upload_buffer');
    const blobsBefore = await gw.gateway.get(DataSource).query('SELECT count(*)::int AS n FROM store_blobs');
    const startedAt = Date.now();
    const refused = await registryRequest(gw, bob, 'POST', `/v2/ml/shared/blobs/uploads/?digest=${sha(blob)}`, { 'Content-Type': 'application/octet-stream' }, blob);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1400);
    expectTooMany(refused, 'store.uploadBufferBytes', '2');
    expect(await gw.gateway.get(DataSource).query('SELECT count(*)::int AS n FROM store_blobs')).toEqual(blobsBefore);
    expect((await registryRequest(gw, bob, 'HEAD', `/v2/ml/shared/blobs/${sha(blob)}`)).status).toBe(404);
    expect((await refusals(gw, 'upload_buffer')) - bufferRefusals).toBe(1);
    expect(await auditRows(gw, PUSH, 'spiffe://acme.test/ml/bob', 'upload_buffer:%')).toEqual([
      { decision: 'deny', reason: 'upload_buffer: no upload buffer space for 1500 ms (store.uploadBufferBytes is in use by other pushes)' },
    ]);
    expect(await auditRows(gw, PUSH, 'spiffe://acme.test/ml/alice', 'concurrency_limit:%')).toHaveLength(1);

    // alice's PATCH ends: her slot and the buffer are given back, and bob's upload goes through.
    patch.req.end(piece.subarray(100 * KiB));
    const patched = await patch.response;
    expect([patched.statusCode, patched.headers.range]).toEqual([202, `0-${piece.length - 1}`]);
    await bodyOf(patched);
    await waitFor(async () => metricSum(await metrics(gw), 'parley_store_upload_buffer_reserved_bytes') === 0, 10_000);
    const put = await registryRequest(gw, alice, 'PUT', `${location}?digest=${sha(piece)}`, { 'Content-Length': '0' });
    expect(put.status).toBe(201);
    const accepted = await registryRequest(gw, bob, 'POST', `/v2/ml/shared/blobs/uploads/?digest=${sha(blob)}`, { 'Content-Type': 'application/octet-stream' }, blob);
    expect(accepted.status).toBe(201);
    expect((await registryRequest(gw, bob, 'GET', `/v2/ml/shared/blobs/${sha(blob)}`)).body.equals(blob)).toBe(true);
    expect(await running(gw, 'push')).toBe(0);
  });

  it('one SPIFFE ID holds at most a quarter of the replica\'s upload sessions; another ID still opens one', async () => {
    const locations: string[] = [];
    for (let i = 0; i < 16; i++) {
      const opened = await registryRequest(gw, alice, 'POST', '/v2/ml/shared/blobs/uploads/');
      expect(opened.status).toBe(202);
      locations.push(opened.headers.location as string);
    }
    const refused = await registryRequest(gw, alice, 'POST', '/v2/ml/shared/blobs/uploads/');
    expectTooMany(refused, 'upload sessions open', '5');
    expect((await auditRows(gw, PUSH, 'spiffe://acme.test/ml/alice', 'concurrency_limit:%')).at(-1)).toEqual({
      decision: 'deny',
      reason: 'concurrency_limit: spiffe://acme.test/ml/alice has 16 upload sessions open, the most one SPIFFE ID may hold of the 64 of a replica',
    });
    const other = await registryRequest(gw, bob, 'POST', '/v2/ml/shared/blobs/uploads/');
    expect(other.status).toBe(202);
    // A cancelled session gives its place back.
    expect((await registryRequest(gw, alice, 'DELETE', locations.pop()!)).status).toBe(204);
    const again = await registryRequest(gw, alice, 'POST', '/v2/ml/shared/blobs/uploads/');
    expect(again.status).toBe(202);
    locations.push(again.headers.location as string);
    for (const location of locations) expect((await registryRequest(gw, alice, 'DELETE', location)).status).toBe(204);
    expect((await registryRequest(gw, bob, 'DELETE', other.headers.location as string)).status).toBe(204);
  });
});

describe('registry requests whose client stops', () => {
  let gw: TestGateway;
  let alice: PemKeyPair;
  const big = randomBytes(8 * 1024 * KiB);

  beforeAll(async () => {
    gw = await startTestGateway({ ...REGISTRY_ENV, PARLEY_STORE_PULLS_PER_SPIFFE_ID: '1', PARLEY_STORE_PULL_STALL_TIMEOUT: '1500ms', PARLEY_STORE_PUSH_IDLE_TIMEOUT: '1500ms' });
    alice = await issueSvid(gw, '/ml/alice');
    const client = storeClient(alice, gw.gateway.get(TrustStore), gw);
    try {
      await client.push(HEADER('ml/shared'), big);
    } finally {
      client.close();
    }
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('a blob GET whose client reads nothing is ended after store.pullStallTimeout (pull_stall_timeout) and gives its slot back', async () => {
    const stalls = await refusals(gw, 'pull_stall_timeout');
    const open = openRegistryRequest(gw, alice, 'GET', `/v2/ml/shared/blobs/${sha(big)}`);
    open.req.end();
    const res = await open.response;
    res.pause(); // reads nothing more: the server's writes wait, then it gives up
    const startedAt = Date.now();
    await waitFor(async () => (await refusals(gw, 'pull_stall_timeout')) - stalls === 1, 10_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
    expect(await running(gw, 'pull')).toBe(0);
    res.destroy();
    const again = await registryRequest(gw, alice, 'GET', `/v2/ml/shared/blobs/${sha(big)}`, { Range: 'bytes=0-9' });
    expect([again.status, again.body.equals(big.subarray(0, 10))]).toEqual([206, true]);
  });

  it('an upload request whose client stops sending fails after store.pushIdleTimeout and gives its Push slot and upload buffer back', async () => {
    const start = await registryRequest(gw, alice, 'POST', '/v2/ml/shared/blobs/uploads/');
    const patch = openRegistryRequest(gw, alice, 'PATCH', start.headers.location as string, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(100 * KiB) });
    patch.req.on('error', () => undefined);
    patch.response.catch(() => undefined);
    patch.req.write(randomBytes(10 * KiB));
    await waitFor(async () => (await running(gw, 'push')) === 1, 10_000);
    const startedAt = Date.now();
    await waitFor(async () => (await running(gw, 'push')) === 0 && metricSum(await metrics(gw), 'parley_store_upload_buffer_reserved_bytes') === 0, 10_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
    // The session stays open (a client may go on from where it stands).
    const status = await registryRequest(gw, alice, 'GET', start.headers.location as string);
    expect(status.status).toBe(204);
  });
});
