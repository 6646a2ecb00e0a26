import { join } from 'node:path';
import { startGateway, type Gateway, type Svid } from './support/gateway';
import { DESCRIPTOR_SET, jsonLines, peer, python, run } from './support/peers';

/**
 * Stock clients that know nothing of SPIFFE: Python grpcio (C-core) and grpcurl verify the
 * gateway with the ordinary host-name check (identity.devCa.dnsNames), learn StoreService
 * through reflection and call every method. openssl s_client inspects the handshake.
 */
describe('stock gRPC clients against the gateway (dev CA with dnsNames)', () => {
  let gw: Gateway;
  let client: Svid;
  let addr: string;

  beforeAll(async () => {
    gw = await startGateway({ identity: { devCa: { dnsNames: ['localhost'] } }, tls: { minVersion: 'TLSv1.2' } });
    client = await gw.issue('spiffe://parley.local/ns/interop/client');
    addr = `localhost:${gw.grpcPort}`;
  });
  afterAll(() => gw?.stop());

  const tlsArgs = () => ['-cacert', client.bundle, '-cert', client.cert, '-key', client.key];
  const grpcurl = (...args: string[]) => run(peer('grpcurl'), [...tlsArgs(), ...args], { timeoutMs: 30_000 });

  it('grpcurl lists the services and describes StoreService through reflection', async () => {
    const list = await grpcurl(addr, 'list');
    expect(list).toMatchObject({ code: 0 });
    expect(list.stdout.split('\n')).toEqual(expect.arrayContaining(['parley.store.v1.StoreService', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']));
    const methods = await grpcurl(addr, 'list', 'parley.store.v1.StoreService');
    expect(methods.stdout.trim().split('\n').sort()).toEqual(
      ['Delete', 'DeleteReferrer', 'List', 'Lookup', 'Pull', 'PullReferrer', 'Push', 'PushReferrer'].map((m) => `parley.store.v1.StoreService.${m}`),
    );
    const header = await grpcurl(addr, 'describe', 'parley.store.v1.PushHeader');
    expect(header).toMatchObject({ code: 0 });
    expect(header.stdout).toContain('map<string, string> annotations = 3;');
    expect(header.stdout).toContain('optional uint64 expected_size = 4;');
    const pull = await grpcurl(addr, 'describe', 'parley.store.v1.StoreService.Pull');
    expect(pull.stdout).toContain('rpc Pull ( .parley.store.v1.PullRequest ) returns ( stream .parley.store.v1.PullResponse );');
  });

  it('grpcurl calls every StoreService method', async () => {
    const call = async (method: string, body: string) => {
      const r = await grpcurl('-d', body, addr, `parley.store.v1.StoreService/${method}`);
      if (r.code !== 0) throw new Error(`grpcurl ${method}: ${r.stderr}`);
      return r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout.split('\n}\n')[0] + (r.stdout.includes('\n}\n') ? '\n}' : '')) as Record<string, unknown>);
    };
    const payload = Buffer.from('hello from grpcurl').toString('base64');
    const pushed = await call('Push', `{"header":{"namespace":"interop/grpcurl","mediaType":"text/plain","expectedSize":"18"}} {"chunk":"${payload}"}`);
    const cid = pushed.cid as string;
    expect(cid).toMatch(/^b/);
    expect(await call('Lookup', `{"refs":[{"cid":"${cid}"}]}`)).toMatchObject({ records: [{ cid, size: '18' }] });
    expect(JSON.stringify(await call('Pull', `{"ref":{"cid":"${cid}"}}`))).toContain('record');
    expect(await call('List', '{"namespace":"interop/grpcurl"}')).toMatchObject({ records: [{ cid }] });
    const ref = await call('PushReferrer', `{"record":{"cid":"${cid}"},"referrer":{"type":"signature","mediaType":"text/plain","data":"c2ln"}}`);
    expect(await call('PullReferrer', `{"record":{"cid":"${cid}"}}`)).toMatchObject({ cid: ref.cid });
    await call('DeleteReferrer', `{"record":{"cid":"${cid}"},"cid":"${ref.cid as string}"}`);
    await call('Delete', `{"ref":{"cid":"${cid}"}}`);
    const gone = await grpcurl('-d', `{"refs":[{"cid":"${cid}"}]}`, addr, 'parley.store.v1.StoreService/Lookup');
    expect(gone.stderr).toContain('NotFound');
  });

  it('grpcurl health-checks each service by name', async () => {
    for (const service of ['', 'parley.store.v1.StoreService', 'grpc.health.v1.Health']) {
      const r = await grpcurl('-d', JSON.stringify({ service }), addr, 'grpc.health.v1.Health/Check');
      expect({ service, out: r.stdout.trim(), code: r.code }).toEqual({ service, out: '{\n  "status": "SERVING"\n}', code: 0 });
    }
  });

  it('grpcio verifies the gateway by host name, reflects StoreService and calls every method', async () => {
    const r = await python('client.py', ['--addr', addr, '--root', client.bundle, '--cert', client.cert, '--key', client.key]);
    const out = jsonLines(r.stdout);
    expect({ code: r.code, stderr: r.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
    const health = Object.fromEntries(out.filter((l) => l.step === 'health').map((l) => [l.service, l.status ?? l.code]));
    expect(health).toEqual({ '': 'SERVING', 'parley.store.v1.StoreService': 'SERVING', 'grpc.health.v1.Health': 'SERVING', 'no.such.Service': 'NOT_FOUND' });
    expect(out.find((l) => l.step === 'reflect')).toMatchObject({
      file: 'parley/store/v1/store.proto',
      dependencies: ['google/protobuf/timestamp.proto'],
      mapEntry: 'AnnotationsEntry',
      mapEntryOption: true,
      optionalHasPresence: true,
      realOneofs: [],
    });
    const calls = Object.fromEntries(out.filter((l) => !['health', 'reflect'].includes(l.step as string)).map((l) => [l.step, l.code]));
    expect(calls).toEqual({ Push: 'OK', Lookup: 'OK', Pull: 'OK', List: 'OK', PushReferrer: 'OK', PullReferrer: 'OK', DeleteReferrer: 'OK', Delete: 'OK' });
  });

  it('grpcio without a client certificate is told certificate_required; one from another CA unknown_ca', async () => {
    const none = jsonLines((await python('client.py', ['--addr', addr, '--root', client.bundle, '--steps', 'health'])).stdout);
    expect(none[0]).toMatchObject({ code: 'UNAUTHENTICATED', message: 'client certificate refused: certificate_required' });
    // A self-signed SVID of a trust domain the gateway holds no bundle for, minted by openssl.
    const key = join(gw.dir, 'stranger.key');
    const cert = join(gw.dir, 'stranger.pem');
    const minted = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/O=stranger', '-days', '1',
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'subjectAltName=critical,URI:spiffe://other.test/ns/x/stranger', '-addext', 'keyUsage=critical,digitalSignature', '-keyout', key, '-out', cert]);
    expect(minted.code).toBe(0);
    const r = jsonLines((await python('client.py', ['--addr', addr, '--root', client.bundle, '--cert', cert, '--key', key, '--steps', 'health'])).stdout);
    expect(r[0]).toMatchObject({ code: 'UNAUTHENTICATED', message: 'client certificate refused: unknown_ca' });
  });

  it('go-spiffe (MTLSClientConfig + AuthorizeID(gateway)) calls Health, Push, Lookup, Pull; a wrong gateway ID is refused by the client', async () => {
    const args = ['client', '--addr', `127.0.0.1:${gw.grpcPort}`, '--cert', client.cert, '--key', client.key, '--bundle', client.bundle, '--descriptors', DESCRIPTOR_SET];
    const ok = await run(peer('parley-interop'), [...args, '--gateway-id', 'spiffe://parley.local/parley/gateway', '--steps', 'health,health:parley.store.v1.StoreService,push,lookup,pull']);
    const steps = jsonLines(ok.stdout);
    expect(steps.map((s) => [s.step, s.code])).toEqual([['health:', 'OK'], ['health:parley.store.v1.StoreService', 'OK'], ['push', 'OK'], ['lookup', 'OK'], ['pull', 'OK']]);
    expect(steps[4]).toMatchObject({ same: true });
    const wrong = jsonLines((await run(peer('parley-interop'), [...args, '--gateway-id', 'spiffe://parley.local/not/the/gateway', '--steps', 'health'])).stdout);
    expect(wrong[0]).toMatchObject({ code: 'Unavailable' });
    expect(String(wrong[0].message)).toContain('unexpected ID');
  });

  const sClient = (...args: string[]) => run('openssl', ['s_client', '-connect', `127.0.0.1:${gw.grpcPort}`, '-servername', 'localhost', ...args], { timeoutMs: 20_000 });

  it('openssl: the CertificateRequest names no CA', async () => {
    for (const version of ['-tls1_3', '-tls1_2']) {
      const r = await sClient(version, '-cert', client.cert, '-key', client.key);
      expect({ version, out: r.stdout }).toEqual({ version, out: expect.stringContaining('No client certificate CA names sent') });
    }
  });

  it('openssl: TLS 1.2 offers only ECDHE AEAD suites (no CBC, no SHA-1, no RSA key exchange)', async () => {
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'AES128-GCM-SHA256']) {
      const r = await sClient('-tls1_2', '-cipher', cipher);
      expect({ cipher, negotiated: /Cipher is (\S+)/.exec(r.stdout)?.[1] }).toEqual({ cipher, negotiated: '(NONE)' });
    }
    const good = await sClient('-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256');
    expect(/Cipher is (\S+)/.exec(good.stdout)?.[1]).toBe('ECDHE-ECDSA-AES128-GCM-SHA256');
  });
});
