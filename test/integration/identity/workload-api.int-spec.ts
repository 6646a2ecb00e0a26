import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../../../src/common/errors';
import type { IdentitySnapshot } from '../../../src/identity/domain/identity';
import { fetchX509BundlesOnce } from '../../../src/identity/workload-api/fetch-x509-bundles';
import { WorkloadApiSource } from '../../../src/identity/workload-api/workload-api-client';
import { WorkloadApiServer, type WorkloadApiProvider, type WorkloadApiX509State } from '../../../src/identity/workload-api/workload-api-server';
import { securityMetadata, workloadApiProto } from '../../../src/identity/workload-api/workload-proto';
import { SpiffeId, TrustDomain } from '../../../src/spiffe';
import { freePort, waitFor } from '../../support/ports';
import { TestCa, type IssuedSvid } from '../../support/test-ca';

jest.setTimeout(20_000);

const ACME = TrustDomain.parse('acme.test');
const PARTNER = TrustDomain.parse('partner.test');
const ID = 'spiffe://acme.test/parley';
const FAST = { initialMs: 20, maxMs: 80 };

/** A provider whose state the test sets; every set notifies the open streams. */
class TestProvider implements WorkloadApiProvider {
  fetches = 0;
  private readonly listeners = new Set<() => void>();
  constructor(
    private state?: WorkloadApiX509State,
    private readonly bundles = new Map<string, Buffer>(),
  ) {}
  set(state: WorkloadApiX509State | undefined): void {
    this.state = state;
    for (const l of [...this.listeners]) l();
  }
  x509(): WorkloadApiX509State | undefined {
    this.fetches++;
    return this.state;
  }
  x509Bundles(): Map<string, Buffer> {
    return this.bundles;
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

let acme: TestCa;
let partner: TestCa;
let svid1: IssuedSvid;
let svid2: IssuedSvid;
let dir: string;
const cleanups: Array<() => Promise<void> | void> = [];

function state(svid: IssuedSvid, opts: { federated?: boolean; key?: Buffer; chain?: Buffer[]; federatedKey?: string } = {}): WorkloadApiX509State {
  const federated = opts.federated === false ? [] : ([[opts.federatedKey ?? 'spiffe://partner.test', partner.certDer]] as [string, Buffer][]);
  return {
    svids: [{ id: SpiffeId.parse(ID), chainDer: opts.chain ?? svid.chain, keyPkcs8Der: opts.key ?? svid.keyDer, bundleDer: acme.certDer, hint: 'internal' }],
    federatedBundles: new Map(federated),
  };
}

function serial(s: IssuedSvid | IdentitySnapshot | undefined): string | undefined {
  if (s === undefined) return undefined;
  return 'svid' in s ? s.svid.leaf.serialNumber : s.certificate.serialNumber;
}

let socketCounter = 0;
function socketAddress(): string {
  return `unix://${join(dir, `agent-${socketCounter++}.sock`)}`;
}

async function startServer(provider: WorkloadApiProvider, address = socketAddress()): Promise<{ server: WorkloadApiServer; address: string }> {
  const server = new WorkloadApiServer(provider, { graceMs: 50 });
  await server.listen(address);
  cleanups.push(() => server.close());
  return { server, address };
}

function source(address: string, extra: { startTimeoutMs?: number } = {}): WorkloadApiSource {
  const s = new WorkloadApiSource({ address, backoff: FAST, startTimeoutMs: extra.startTimeoutMs ?? 5000 });
  cleanups.push(() => s.stop());
  return s;
}

/** A raw client of the same proto, to send requests the way a misbehaving client would. */
function rawClient(address: string): InstanceType<grpc.ServiceClientConstructor> {
  const client = new (workloadApiProto().Client)(address, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  return client;
}

function streamStatus(call: grpc.ClientReadableStream<unknown>): Promise<grpc.StatusObject> {
  call.on('data', () => undefined);
  call.on('error', () => undefined);
  return new Promise((resolve) => call.on('status', resolve));
}

function unaryStatus(fn: (cb: (err: grpc.ServiceError | null) => void) => void): Promise<grpc.status> {
  return new Promise((resolve) => fn((err) => resolve(err ? err.code : grpc.status.OK)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-wl-'));
  acme = await TestCa.create({ trustDomain: 'acme.test' });
  partner = await TestCa.create({ trustDomain: 'partner.test' });
  svid1 = await acme.issueSvid({ id: ID });
  svid2 = await acme.issueSvid({ id: ID });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('WorkloadApiSource against WorkloadApiServer (real sockets)', () => {
  it('receives the svid, the own bundle and a federated bundle, kept per trust domain', async () => {
    const provider = new TestProvider(state(svid1), new Map([['spiffe://acme.test', acme.certDer], ['spiffe://partner.test', partner.certDer]]));
    const { address } = await startServer(provider);
    const s = source(address);
    const snap = await s.start();
    expect(snap.source).toBe('workload-api');
    expect(snap.svid.id.toString()).toBe(ID);
    expect(serial(snap)).toBe(serial(svid1));
    expect(snap.trustDomain.equals(ACME)).toBe(true);
    expect(snap.bundles.trustDomains().map((td) => td.name)).toEqual(['acme.test', 'partner.test']);
    expect(snap.bundles.getX509Authorities(ACME)?.map((c) => c.raw)).toEqual([acme.certDer]);
    expect(snap.bundles.getX509Authorities(PARTNER)?.map((c) => c.raw)).toEqual([partner.certDer]);
    expect(s.current()).toBe(snap);
    expect(s.lastError()).toBeUndefined();

    const bundles = await fetchX509BundlesOnce(address, 2000);
    expect(bundles.trustDomains().map((td) => td.name)).toEqual(['acme.test', 'partner.test']);
  });

  it('serves over tcp://127.0.0.1:port as well', async () => {
    const { address } = await startServer(new TestProvider(state(svid1)), `tcp://127.0.0.1:${await freePort()}`);
    expect(serial(await source(address).start())).toBe(serial(svid1));
  });

  it('follows rotation and drops a federated bundle absent from the next message', async () => {
    const provider = new TestProvider(state(svid1));
    const { address } = await startServer(provider);
    const s = source(address);
    await s.start();
    const seen: IdentitySnapshot[] = [];
    s.onUpdate((snap) => seen.push(snap));

    provider.set(state(svid2));
    await waitFor(() => seen.length >= 1, 3000, 10);
    expect(serial(seen[0])).toBe(serial(svid2));
    expect(seen[0].bundles.has(PARTNER)).toBe(true);

    provider.set(state(svid2, { federated: false }));
    await waitFor(() => seen.length >= 2, 3000, 10);
    expect(seen[1].bundles.has(PARTNER)).toBe(false);
    expect(seen[1].bundles.has(ACME)).toBe(true);
    expect(s.current()).toBe(seen[1]);
  });

  it('keeps the current snapshot while the agent is down and picks up the new svid after its restart', async () => {
    const { server, address } = await startServer(new TestProvider(state(svid1)));
    const s = source(address);
    await s.start();
    await server.close();
    await waitFor(() => s.lastError(), 3000, 10);
    expect(s.lastError()).toMatch(/^workload api: x509-svid stream from unix:\/\/\/.* failed: unavailable/);
    await sleep(3 * FAST.maxMs); // several failed reconnects while nobody listens
    expect(serial(s.current())).toBe(serial(svid1));

    await startServer(new TestProvider(state(svid2)), address);
    await waitFor(() => serial(s.current()) === serial(svid2), 5000, 10);
    expect(s.lastError()).toBeUndefined();
    expect(s.stats().failedStreams).toBeGreaterThanOrEqual(1);
  });

  it('answers InvalidArgument to requests without the security header, before anything else', async () => {
    const { address } = await startServer(new TestProvider(state(svid1)));
    const client = rawClient(address);
    const noHeader = await streamStatus(client.FetchX509SVID({}));
    expect(noHeader.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noHeader.details).toBe('security header missing from request');
    const wrong = new grpc.Metadata();
    wrong.set('workload.spiffe.io', 'false');
    expect((await streamStatus(client.FetchX509Bundles({}, wrong))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await streamStatus(client.FetchJWTBundles({}))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await unaryStatus((cb) => client.FetchJWTSVID({ audience: ['x'] }, cb))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await unaryStatus((cb) => client.ValidateJWTSVID({ audience: 'x', svid: 'y' }, cb))).toBe(grpc.status.INVALID_ARGUMENT);
    // With the header, the JWT RPCs say plainly that they are not implemented.
    expect(await unaryStatus((cb) => client.FetchJWTSVID({ audience: ['x'] }, securityMetadata(), cb))).toBe(grpc.status.UNIMPLEMENTED);
    expect((await streamStatus(client.FetchJWTBundles({}, securityMetadata()))).code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('stops retrying when the agent answers InvalidArgument, and start() says why', async () => {
    let calls = 0;
    const server = new grpc.Server();
    server.addService(workloadApiProto().service, {
      FetchX509SVID: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        calls++;
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'unsupported request from test' });
      },
    });
    const address = socketAddress();
    await new Promise<number>((res, rej) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    cleanups.push(() => void server.forceShutdown());
    const s = source(address);
    const err = await s.start().catch((e: unknown) => e);
    expect(ParleyError.is(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toBe(`workload api: ${address} rejected the request: unsupported request from test; not retrying`);
    await sleep(6 * FAST.maxMs);
    expect(calls).toBe(1);
    expect(s.lastError()).toContain('invalid_argument: unsupported request from test');
  });

  it('keeps retrying on PermissionDenied (no identity issued) and starts once the agent has one', async () => {
    const provider = new TestProvider(undefined);
    const { address } = await startServer(provider);
    const s = source(address);
    const started = s.start();
    await waitFor(() => provider.fetches >= 3, 3000, 10);
    expect(s.lastError()).toContain('permission_denied: no identity issued');
    provider.set(state(svid1));
    expect(serial(await started)).toBe(serial(svid1));
    expect(s.lastError()).toBeUndefined();
  });

  it('ignores malformed messages and keeps the previous svid', async () => {
    const provider = new TestProvider(state(svid1));
    const { address } = await startServer(provider);
    const s = source(address);
    await s.start();
    const seen: IdentitySnapshot[] = [];
    s.onUpdate((snap) => seen.push(snap));

    const bad: Array<[string, WorkloadApiX509State, RegExp]> = [
      ['garbage der', state(svid2, { chain: [Buffer.from('not a certificate at all')] }), /svid does not parse/],
      ['key of another svid', state(svid2, { key: svid1.keyDer }), /svid does not parse/],
      ['federated key not a trust domain', state(svid2, { federatedKey: 'spiffe://Partner.Test/x y' }), /federated bundle key is not a trust domain id/],
    ];
    for (const [i, [, st, why]] of bad.entries()) {
      provider.set(st);
      await waitFor(() => s.stats().invalidResponses === i + 1, 3000, 10);
      expect(s.lastError()).toMatch(why);
      expect(s.lastError()).toContain('ignored');
      expect(serial(s.current())).toBe(serial(svid1));
    }
    expect(seen).toHaveLength(0);

    provider.set(state(svid2));
    await waitFor(() => seen.length === 1, 3000, 10);
    expect(serial(s.current())).toBe(serial(svid2));
    expect(s.lastError()).toBeUndefined();
  });

  it('rejects start() after startTimeoutMs with the address and the last error when no agent answers', async () => {
    const address = socketAddress();
    const s = source(address, { startTimeoutMs: 300 });
    const t0 = Date.now();
    const err = await s.start().catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(ParleyError.is(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`^workload api: no X509-SVID from ${address} within 300 ms: x509-svid stream from ${address} failed: unavailable: `));
  });
});

describe('Workload API configuration', () => {
  const saved = process.env.SPIFFE_ENDPOINT_SOCKET;
  afterEach(() => {
    if (saved === undefined) delete process.env.SPIFFE_ENDPOINT_SOCKET;
    else process.env.SPIFFE_ENDPOINT_SOCKET = saved;
  });

  it('needs SPIFFE_ENDPOINT_SOCKET when no address is configured, and uses it when set', () => {
    delete process.env.SPIFFE_ENDPOINT_SOCKET;
    expect(() => new WorkloadApiSource()).toThrow(expect.objectContaining({ code: 'config_invalid', message: expect.stringContaining('SPIFFE_ENDPOINT_SOCKET') }));
    process.env.SPIFFE_ENDPOINT_SOCKET = 'unix:///run/spire/agent.sock';
    expect(new WorkloadApiSource().address).toBe('unix:///run/spire/agent.sock');
  });

  it.each(['unix://relative/agent.sock', 'unix:/tmp/agent.sock', '/tmp/agent.sock', 'tcp://localhost:8081', 'tcp://127.0.0.1', 'http://127.0.0.1:80', 'unix:///tmp/a.sock?x=1'])(
    'rejects the address %s as config_invalid',
    async (address) => {
      expect(() => new WorkloadApiSource({ address })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
      await expect(new WorkloadApiServer(new TestProvider()).listen(address)).rejects.toMatchObject({ code: 'config_invalid' });
    },
  );

  it('refuses to take over a live socket or a file that is not a socket', async () => {
    const { address } = await startServer(new TestProvider(state(svid1)));
    await expect(new WorkloadApiServer(new TestProvider()).listen(address)).rejects.toMatchObject({ code: 'conflict' });
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'x');
    await expect(new WorkloadApiServer(new TestProvider()).listen(`unix://${file}`)).rejects.toMatchObject({ code: 'conflict' });
  });
});
