/**
 * The other capacity limits, each on a real gateway with real TLS: concurrent Pushes per
 * caller, the upload buffer budget (a push waits, reading nothing, then is refused), the
 * first-message time limit of every call, and the HTTP/2 preface time limit. Each refusal
 * is RESOURCE_EXHAUSTED / DEADLINE_EXCEEDED / a closed connection, and is counted.
 */
import { randomBytes } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { status } from '@grpc/grpc-js';
import { requireSpiffeId } from '../../../src/spiffe';
import { StoreClient, storeChannelOptions } from '../../../src/store';
import { spiffeChannelCredentials } from '../../../src/tls/client-credentials';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { waitFor } from '../../support/ports';
import { metricSum, scrapeMetrics } from '../../support/prometheus';
import { framedPushChunk, framedPushHeader, grpcFrame, grpcStatusOf, openCall, rawSession, silentTlsConnection, type RawClientIdentity } from '../../support/raw-grpc';
import { TrustStore } from '../../../src/trust';

jest.setTimeout(120_000);

const PUSH = '/parley.store.v1.StoreService/Push';
const LOOKUP = '/parley.store.v1.StoreService/Lookup';
const KiB = 1024;
const HEADER = { namespace: 'ns', media_type: 'application/octet-stream', annotations: {} };

describe('capacity limits', () => {
  let gw: TestGateway;
  const sessions: ClientHttp2Session[] = [];
  const clients: StoreClient[] = [];

  async function identity(id: string): Promise<RawClientIdentity> {
    const ca = await devCaOf(gw);
    const issued = await ca.issue(requireSpiffeId(id));
    return { certPem: issued.certPem, keyPem: issued.keyPem, caPem: ca.bundlePem() };
  }
  async function session(id: string): Promise<ClientHttp2Session> {
    const s = await rawSession(gw.gateway.listeners.grpc!.port, await identity(id));
    sessions.push(s);
    return s;
  }
  async function client(id: string): Promise<StoreClient> {
    const raw = await identity(id);
    const credentials = spiffeChannelCredentials({
      svid: { certChainPem: raw.certPem, keyPem: raw.keyPem },
      trust: gw.gateway.get(TrustStore),
      server: { id: requireSpiffeId('spiffe://acme.test/parley/gateway') },
    });
    const c = new StoreClient(`127.0.0.1:${gw.gateway.listeners.grpc!.port}`, credentials, { ...storeChannelOptions(), 'grpc.ssl_target_name_override': 'acme.test' });
    clients.push(c);
    return c;
  }
  const metrics = () => scrapeMetrics(gw.gateway.listeners.ops!.port);

  beforeAll(async () => {
    // One push's upload buffer is 2 x 256 KiB + 3 x 64 KiB = 704 KiB: a 1 MiB budget holds exactly one.
    gw = await startTestGateway({
      PARLEY_STORE_CHUNK_BYTES: String(64 * KiB),
      PARLEY_STORE_MAX_REFERRER_BYTES: String(64 * KiB),
      PARLEY_GRPC_MAX_MESSAGE_BYTES: String(256 * KiB),
      PARLEY_STORE_UPLOAD_BUFFER_BYTES: String(1024 * KiB),
      PARLEY_STORE_UPLOAD_BUFFER_WAIT: '1500ms',
      PARLEY_STORE_PUSHES_PER_SPIFFE_ID: '2',
      PARLEY_STORE_PUSHES_PER_TRUST_DOMAIN: '3',
      PARLEY_GRPC_FIRST_MESSAGE_TIMEOUT: '1s',
      PARLEY_TLS_HTTP2_PREFACE_TIMEOUT: '1s',
    });
  });
  afterEach(() => {
    for (const s of sessions.splice(0)) s.destroy();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
  });

  it('a push waits for upload buffer space (reading nothing), goes on when it is given back, and is refused after store.uploadBufferWait', async () => {
    const s = await session('spiffe://acme.test/ns/buffer');
    const holder = openCall(s, PUSH, [framedPushHeader(HEADER), framedPushChunk(randomBytes(10 * KiB))]);
    await waitFor(async () => metricSum(await metrics(), 'parley_store_upload_buffer_reserved_bytes') === 704 * KiB, 10_000);
    // A second push finds the budget spent: it waits, and completes once the first is done.
    const waiting = openCall(s, PUSH, [framedPushHeader(HEADER), framedPushChunk(Buffer.from('second'))]);
    waiting.end();
    const waitingStatus = grpcStatusOf(waiting);
    await waitFor(async () => metricSum(await metrics(), 'parley_store_upload_buffer_waiting') === 1, 10_000);
    holder.end();
    expect((await grpcStatusOf(holder)).code).toBe(status.OK);
    expect((await waitingStatus).code).toBe(status.OK);

    // A push that never finishes holds the budget; the next one is refused after the wait.
    const idle = openCall(s, PUSH, [framedPushHeader(HEADER), framedPushChunk(randomBytes(KiB))]);
    await waitFor(async () => metricSum(await metrics(), 'parley_store_upload_buffer_reserved_bytes') === 704 * KiB, 10_000);
    const refused = openCall(s, PUSH, [framedPushHeader(HEADER)]);
    refused.end();
    expect(await grpcStatusOf(refused)).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      message: 'push: no upload buffer space for 1500 ms (store.uploadBufferBytes is in use by other pushes); retry later',
    });
    expect(metricSum(await metrics(), 'parley_store_capacity_refusals_total', { limit: 'upload_buffer' })).toBe(1);
    idle.close();
    await waitFor(async () => metricSum(await metrics(), 'parley_store_upload_buffer_reserved_bytes') === 0, 10_000);
  });

  it('pushes per SPIFFE ID and per trust domain are capped (store.pushesPerSpiffeId, store.pushesPerTrustDomain)', async () => {
    const a = await session('spiffe://acme.test/ns/pusher-a');
    const b = await session('spiffe://acme.test/ns/pusher-b');
    // Header-less pushes that wait for upload buffer space still hold their concurrency slot.
    const open = [openCall(a, PUSH), openCall(a, PUSH)];
    await waitFor(async () => metricSum(await metrics(), 'parley_store_streams_running', { kind: 'push' }) === 2, 10_000);
    const third = openCall(a, PUSH);
    expect(await grpcStatusOf(third)).toEqual({ code: status.RESOURCE_EXHAUSTED, message: 'push: concurrency limit: spiffe://acme.test/ns/pusher-a has 2 pushes running, the most store.pushesPerSpiffeId allows; retry later' });
    open.push(openCall(b, PUSH));
    await waitFor(async () => metricSum(await metrics(), 'parley_store_streams_running', { kind: 'push' }) === 3, 10_000);
    const overDomain = openCall(b, PUSH);
    expect(await grpcStatusOf(overDomain)).toEqual({ code: status.RESOURCE_EXHAUSTED, message: 'push: concurrency limit: trust domain acme.test has 3 pushes running, the most store.pushesPerTrustDomain allows; retry later' });
    const samples = await metrics();
    expect(metricSum(samples, 'parley_store_capacity_refusals_total', { limit: 'pushes_per_spiffe_id' })).toBe(1);
    expect(metricSum(samples, 'parley_store_capacity_refusals_total', { limit: 'pushes_per_trust_domain' })).toBe(1);
    for (const stream of open) stream.close();
    await waitFor(async () => metricSum(await metrics(), 'parley_store_streams_running', { kind: 'push' }) === 0, 10_000);
    // Slots are given back: a whole push goes through.
    const pusher = await client('spiffe://acme.test/ns/pusher-a');
    expect(await pusher.push(HEADER, Buffer.from('after the cap'))).toMatch(/^b/);
  });

  it('a call whose first message never comes ends with DEADLINE_EXCEEDED (grpc.firstMessageTimeout): a unary request cut short, a push header that never comes', async () => {
    const s = await session('spiffe://acme.test/ns/silent');
    // A Lookup request that announces 1000 bytes and sends 10: grpc-js would wait for the rest as long as the connection lives.
    const partial = Buffer.concat([grpcFrame(Buffer.alloc(1000)).subarray(0, 5), Buffer.alloc(10)]);
    const lookup = openCall(s, LOOKUP, [partial]);
    expect(await grpcStatusOf(lookup)).toEqual({ code: status.DEADLINE_EXCEEDED, message: 'first message: none arrived within 1000 ms' });
    const push = openCall(s, PUSH);
    expect(await grpcStatusOf(push)).toEqual({ code: status.DEADLINE_EXCEEDED, message: 'first message: none arrived within 1000 ms' });
    const samples = await metrics();
    expect(metricSum(samples, 'parley_grpc_first_message_timeouts_total', { method: LOOKUP })).toBe(1);
    expect(metricSum(samples, 'parley_grpc_first_message_timeouts_total', { method: PUSH })).toBe(1);
  });

  it('a connection that never sends the HTTP/2 preface is closed (tls.http2PrefaceTimeout); one that does is served', async () => {
    const socket = await silentTlsConnection(gw.gateway.listeners.grpc!.port, await identity('spiffe://acme.test/ns/mute'));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Bounded: the limit is 1 s; 30 s is the test's own patience, not a speed claim.
    let patience: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => (patience = setTimeout(() => r('still open'), 30_000)))]);
    clearTimeout(patience);
    socket.destroy();
    expect(outcome).toBe('closed');
    expect(metricSum(await metrics(), 'parley_grpc_connections_refused_total', { reason: 'no_http2_preface' })).toBe(1);
    const speaking = await client('spiffe://acme.test/ns/speaking');
    await expect(speaking.lookup([], true)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });
});
