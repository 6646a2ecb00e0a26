/**
 * BundleEndpointServer on 127.0.0.1: the served bundle fetched back with fetchBundle over
 * https_spiffe, the HTTP answers (404/405/HEAD/503), no client certificate requested, and
 * SVID rotation seen by new connections.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { connect } from 'node:tls';
import pino from 'pino';
import { BundleEndpointServer } from '../../../src/federation/bundle-endpoint-server';
import { fetchBundle } from '../../../src/federation/bundle-fetcher';
import type { FederationRelationship } from '../../../src/federation/domain';
import { BundleSet, SpiffeBundle, TrustDomain } from '../../../src/spiffe';
import { FixedSvidProvider } from '../../../src/tls';
import { TestCa, type IssuedSvid } from '../../support/test-ca';

jest.setTimeout(30_000);

const OWN = 'acme.test';
const ENDPOINT_ID = 'spiffe://acme.test/parley/bundle-endpoint';
const ROTATED_ID = 'spiffe://acme.test/parley/bundle-endpoint-next';

interface Answer {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  body: string;
}

function call(port: number, method: string, path: string, caPem: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, ca: caPem, agent: false, checkServerIdentity: () => undefined, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The leaf certificate a new TLS connection is served. */
function servedLeafSerial(port: number, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: caPem, checkServerIdentity: () => undefined }, () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
      socket.destroy();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

describe('BundleEndpointServer', () => {
  let ca: TestCa;
  let first: IssuedSvid;
  let provider: FixedSvidProvider;
  let bundle: SpiffeBundle;
  let doc: string | undefined;
  let server: BundleEndpointServer;
  let port: number;
  const trust = () => new BundleSet([bundle]);
  const rel = (id = ENDPOINT_ID): FederationRelationship => ({
    trustDomain: OWN,
    profile: 'https_spiffe',
    endpointUrls: [`https://127.0.0.1:${port}/`],
    endpointSpiffeId: id,
  });

  beforeAll(async () => {
    ca = await TestCa.create({ trustDomain: OWN });
    first = await ca.issueSvid({ id: ENDPOINT_ID });
    provider = new FixedSvidProvider({ certChainPem: first.chainPem, keyPem: first.keyPem });
    bundle = SpiffeBundle.fromX509Authorities(TrustDomain.parse(OWN), [ca.certificate], { sequence: 5n, refreshHint: 300 });
    doc = bundle.serialize();
    server = new BundleEndpointServer({
      host: '127.0.0.1',
      port: 0,
      profile: 'https_spiffe',
      identity: provider,
      document: () => doc,
      logger: pino({ level: 'silent' }),
    });
    port = (await server.listen()).port;
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves the bundle that fetchBundle reads back over https_spiffe (round trip)', async () => {
    const out = await fetchBundle(rel(), trust());
    if (!out.ok) throw new Error(`fetch failed: ${out.reason} ${out.detail}`);
    expect(out.bundle.equals(bundle)).toBe(true);
    expect(out.bundle.sequence).toBe(5n);
    expect(out.bundle.refreshHint).toBe(300);
    expect(out.skipped).toEqual([]);
  });

  it('answers GET / as application/json and HEAD / without a body, to a client without a certificate', async () => {
    const get = await call(port, 'GET', '/', ca.bundlePem());
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('application/json');
    expect(get.body).toBe(doc);
    const head = await call(port, 'HEAD', '/', ca.bundlePem());
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(doc as string));
  });

  it('answers 404 for other paths and 405 with Allow for other methods', async () => {
    expect((await call(port, 'GET', '/bundle', ca.bundlePem())).status).toBe(404);
    expect((await call(port, 'GET', '/v1/bundle?x=1', ca.bundlePem())).status).toBe(404);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const answer = await call(port, method, '/', ca.bundlePem());
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe('GET, HEAD');
    }
  });

  it('answers 503 while no bundle document is available', async () => {
    const saved = doc;
    doc = undefined;
    try {
      expect((await call(port, 'GET', '/', ca.bundlePem())).status).toBe(503);
      const out = await fetchBundle(rel(), trust());
      expect(!out.ok && [out.reason, out.httpStatus]).toEqual(['http_status', 503]);
    } finally {
      doc = saved;
    }
  });

  it('presents a rotated SVID to new connections', async () => {
    expect(await servedLeafSerial(port, ca.bundlePem())).toBe(first.certificate.serialNumber);
    const next = await ca.issueSvid({ id: ROTATED_ID });
    provider.set({ certChainPem: next.chainPem, keyPem: next.keyPem });
    expect(await servedLeafSerial(port, ca.bundlePem())).toBe(next.certificate.serialNumber);
    expect((await fetchBundle(rel(ROTATED_ID), trust())).ok).toBe(true);
    const old = await fetchBundle(rel(ENDPOINT_ID), trust());
    expect(!old.ok && old.reason).toBe('endpoint_identity');
  });

  it('refuses to start https_spiffe without an SVID, and closes cleanly', async () => {
    const empty = new BundleEndpointServer({
      host: '127.0.0.1',
      port: 0,
      profile: 'https_spiffe',
      identity: new FixedSvidProvider(),
      document: () => doc,
      logger: pino({ level: 'silent' }),
    });
    await expect(empty.listen()).rejects.toMatchObject({ code: 'unavailable' });
    await empty.close();

    const another = new BundleEndpointServer({
      host: '127.0.0.1',
      port: 0,
      profile: 'https_spiffe',
      identity: provider,
      document: () => doc,
      logger: pino({ level: 'silent' }),
    });
    const { port: p } = await another.listen();
    // an open keep-alive style connection does not hold close() up
    const socket = connect({ host: '127.0.0.1', port: p, ca: ca.bundlePem(), checkServerIdentity: () => undefined });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    const started = Date.now();
    await another.close();
    expect(Date.now() - started).toBeLessThan(2000);
    const after = await fetchBundle({ ...rel(), endpointUrls: [`https://127.0.0.1:${p}/`] }, trust());
    expect(!after.ok && after.reason).toBe('connect');
    socket.destroy();
  });

  it('https_web: serves with a configured certificate, fetched with the host name check', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-bundle-endpoint-'));
    const web = await ca.issueSvid({ uris: [], extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }], false)] });
    writeFileSync(join(dir, 'cert.pem'), web.chainPem);
    writeFileSync(join(dir, 'key.pem'), web.keyPem);
    const webServer = new BundleEndpointServer({
      host: '127.0.0.1',
      port: 0,
      profile: 'https_web',
      identity: new FixedSvidProvider(),
      webCertFile: join(dir, 'cert.pem'),
      webKeyFile: join(dir, 'key.pem'),
      document: () => doc,
      logger: pino({ level: 'silent' }),
    });
    try {
      const { port: p } = await webServer.listen();
      const out = await fetchBundle({ trustDomain: OWN, profile: 'https_web', endpointUrls: [`https://127.0.0.1:${p}/`], caRootsPem: ca.bundlePem() }, undefined);
      expect(out.ok && out.bundle.equals(bundle)).toBe(true);
    } finally {
      await webServer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
