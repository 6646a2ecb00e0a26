/**
 * fetchBundle against real HTTPS servers on 127.0.0.1 with TestCa certificates: a partner
 * bundle endpoint with routes for every fault (status, body, size, speed, redirects), an
 * endpoint that presents a forged SVID, and web-PKI style servers for https_web.
 */
import 'reflect-metadata';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as x509 from '@peculiar/x509';
import { fetchBundle, type FetchOutcome } from '../../../src/federation/bundle-fetcher';
import type { FederationRelationship } from '../../../src/federation/domain';
import { BundleSet, SpiffeBundle, TrustDomain } from '../../../src/spiffe';
import { freePort, waitFor } from '../../support/ports';
import { TestCa } from '../../support/test-ca';

jest.setTimeout(30_000);

const PARTNER = 'partner.test';
const ENDPOINT_ID = 'spiffe://partner.test/bundle-server';
const MiB = 1024 * 1024;

interface FaultServer {
  server: Server;
  url: string;
  sockets: Set<Socket>;
  stop(): Promise<void>;
}

type Route = (res: import('node:http').ServerResponse, port: number) => void;

async function startServer(key: string, cert: string, routes: Record<string, Route>): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer({ key, cert }, (req, res) => {
    const route = routes[req.url ?? ''];
    res.on('error', () => undefined);
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    route(res, (server.address() as AddressInfo).port);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `https://127.0.0.1:${port}`,
    sockets,
    stop: async () => {
      timers.forEach(clearTimeout);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const json = (body: string, type = 'application/json'): Route => (res) => {
  res.writeHead(200, { 'content-type': type });
  res.end(body);
};

/** Streams `total` bytes in 64 KiB chunks (no content-length), stopping when the client goes away. */
const stream = (total: number): Route => (res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const pump = (): void => {
    while (sent < total && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
};

describe('fetchBundle', () => {
  let partnerCa: TestCa;
  let rogueCa: TestCa;
  let webCa: TestCa;
  let bundleJson: string;
  let trust: BundleSet;
  let spiffeServer: FaultServer;
  let forgedServer: FaultServer;
  let webServer: FaultServer;
  let wrongHostServer: FaultServer;
  let slowTimers: NodeJS.Timeout[];

  const rel = (urls: string[], over: Partial<FederationRelationship> = {}): FederationRelationship => ({
    trustDomain: PARTNER,
    profile: 'https_spiffe',
    endpointUrls: urls,
    endpointSpiffeId: ENDPOINT_ID,
    ...over,
  });
  const failure = (o: FetchOutcome) => (o.ok ? { ok: true } : { reason: o.reason, httpStatus: o.httpStatus });

  beforeAll(async () => {
    slowTimers = [];
    partnerCa = await TestCa.create({ trustDomain: PARTNER });
    rogueCa = await TestCa.create({ trustDomain: 'hub.test' });
    webCa = await TestCa.create({ trustDomain: 'web.test' });
    bundleJson = partnerCa.spiffeBundleJson({ sequence: 42, refreshHint: 60, extraKeys: [{ use: 'x509-svid', kty: 'EC' }] });
    trust = new BundleSet([
      SpiffeBundle.parse(partnerCa.spiffeBundleJson(), TrustDomain.parse(PARTNER)),
      SpiffeBundle.parse(rogueCa.spiffeBundleJson(), TrustDomain.parse('hub.test')),
    ]);

    const routes: Record<string, Route> = {
      '/bundle': json(bundleJson),
      '/empty': json('{"keys":[]}'),
      '/500': (res) => res.writeHead(500).end('oops'),
      '/invalid': json('{"keys": [ not json'),
      '/not-a-bundle': json('{"bundle": []}'),
      '/html': json('<html>login</html>', 'text/html; charset=utf-8'),
      '/gzip': (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end('x'),
      '/huge': stream(5 * MiB),
      '/huge-declared': (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': 5 * MiB }).end(),
      '/slow': (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":');
        slowTimers.push(setTimeout(() => res.end('[]}'), 3000));
      },
      '/to-http': (res, port) => res.writeHead(302, { location: `http://127.0.0.1:${port}/bundle` }).end(),
      '/to-https': (res) => res.writeHead(301, { location: '/bundle' }).end(),
      '/loop': (res) => res.writeHead(307, { location: '/loop' }).end(),
      '/no-location': (res) => res.writeHead(302).end(),
      '/hang-up': (res) => res.socket?.destroy(),
    };
    const svid = await partnerCa.issueSvid({ id: ENDPOINT_ID });
    spiffeServer = await startServer(svid.keyPem, svid.chainPem, routes);
    // The right SPIFFE ID, signed by another trust domain's CA.
    const forged = await rogueCa.issueSvid({ id: ENDPOINT_ID });
    forgedServer = await startServer(forged.keyPem, forged.chainPem, routes);

    const ipSan = new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }], false);
    const web = await webCa.issueSvid({ uris: [], extensions: [ipSan] });
    webServer = await startServer(web.keyPem, web.chainPem, routes);
    const wrongHost = await webCa.issueSvid({ uris: [], dnsNames: ['bundles.elsewhere.test'] });
    wrongHostServer = await startServer(wrongHost.keyPem, wrongHost.chainPem, routes);
  });

  afterAll(async () => {
    slowTimers?.forEach(clearTimeout);
    for (const s of [spiffeServer, forgedServer, webServer, wrongHostServer]) await s?.stop();
  });

  it('https_spiffe: fetches and parses the bundle, reporting skipped entries', async () => {
    const out = await fetchBundle(rel([`${spiffeServer.url}/bundle`]), trust);
    if (!out.ok) throw new Error(`fetch failed: ${out.reason} ${out.detail}`);
    expect(out.httpStatus).toBe(200);
    expect(out.url).toBe(`${spiffeServer.url}/bundle`);
    expect(out.bundle.trustDomain.name).toBe(PARTNER);
    expect(out.bundle.x509Authorities.map((c) => c.fingerprint256)).toEqual([partnerCa.certificate.fingerprint256]);
    expect(out.bundle.sequence).toBe(42n);
    expect(out.bundle.refreshHint).toBe(60);
    expect(out.skipped).toHaveLength(1);
  });

  it('accepts an empty key set as a valid (empty) bundle', async () => {
    const out = await fetchBundle(rel([`${spiffeServer.url}/empty`]), trust);
    expect(out.ok && out.bundle.x509Authorities.length).toBe(0);
    expect(out.ok).toBe(true);
  });

  it('https_web: verifies the host name against the configured CA roots', async () => {
    const web = rel([`${webServer.url}/bundle`], { profile: 'https_web', endpointSpiffeId: undefined, caRootsPem: webCa.bundlePem() });
    const out = await fetchBundle(web, undefined);
    expect(out.ok && out.bundle.sequence).toBe(42n);
    // the same server is not trusted by the default web PKI roots
    expect(failure(await fetchBundle({ ...web, caRootsPem: undefined }, undefined))).toEqual({ reason: 'tls', httpStatus: undefined });
    // a certificate for another host name is refused
    const wrong = await fetchBundle({ ...web, endpointUrls: [`${wrongHostServer.url}/bundle`] }, undefined);
    expect(failure(wrong)).toEqual({ reason: 'endpoint_identity', httpStatus: undefined });
  });

  it('refuses an endpoint whose SVID has another SPIFFE ID, or is signed by another trust domain', async () => {
    const other = await fetchBundle(rel([`${spiffeServer.url}/bundle`], { endpointSpiffeId: 'spiffe://partner.test/other' }), trust);
    expect(failure(other)).toEqual({ reason: 'endpoint_identity', httpStatus: undefined });
    expect(!other.ok && other.detail).toContain('spiffe://partner.test/other');
    const forged = await fetchBundle(rel([`${forgedServer.url}/bundle`]), trust);
    expect(failure(forged)).toEqual({ reason: 'endpoint_identity', httpStatus: undefined });
  });

  it('refuses to connect without a bundle for the endpoint trust domain', async () => {
    expect(failure(await fetchBundle(rel([`${spiffeServer.url}/bundle`]), undefined))).toEqual({ reason: 'endpoint_identity', httpStatus: undefined });
    const noPartner = new BundleSet([SpiffeBundle.parse(rogueCa.spiffeBundleJson(), TrustDomain.parse('hub.test'))]);
    expect(failure(await fetchBundle(rel([`${spiffeServer.url}/bundle`]), noPartner))).toEqual({ reason: 'endpoint_identity', httpStatus: undefined });
  });

  it('reports connection refused', async () => {
    const port = await freePort();
    const out = await fetchBundle(rel([`https://127.0.0.1:${port}/`]), trust);
    expect(failure(out)).toEqual({ reason: 'connect', httpStatus: undefined });
  });

  it('reports a failed handshake (plain HTTP behind an https URL) as tls', async () => {
    const plain = createHttpServer((_req, res) => res.end('{"keys":[]}'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const out = await fetchBundle(rel([`https://127.0.0.1:${(plain.address() as AddressInfo).port}/`]), trust);
      expect(failure(out)).toEqual({ reason: 'tls', httpStatus: undefined });
    } finally {
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  it.each<[string, string, number | undefined]>([
    ['/500', 'http_status', 500],
    ['/missing', 'http_status', 404],
    ['/invalid', 'invalid_bundle', 200],
    ['/not-a-bundle', 'invalid_bundle', 200],
    ['/html', 'wrong_content', 200],
    ['/gzip', 'wrong_content', 200],
    ['/huge-declared', 'too_large', 200],
    ['/to-http', 'redirect', 302],
    ['/loop', 'redirect', 307],
    ['/no-location', 'redirect', 302],
    ['/hang-up', 'connect', undefined],
  ])('%s → %s', async (path, reason, httpStatus) => {
    const out = await fetchBundle(rel([`${spiffeServer.url}${path}`]), trust);
    expect(failure(out)).toEqual({ reason, httpStatus });
    expect(!out.ok && out.detail.length).toBeGreaterThan(0);
  });

  it('follows a redirect to an https URL with the same identity check', async () => {
    const out = await fetchBundle(rel([`${spiffeServer.url}/to-https`]), trust);
    expect(out.ok && out.url).toBe(`${spiffeServer.url}/bundle`);
    const none = await fetchBundle(rel([`${spiffeServer.url}/to-https`]), trust, { maxRedirects: 0 });
    expect(failure(none)).toEqual({ reason: 'redirect', httpStatus: 301 });
  });

  it('stops reading a 5 MiB body at the 1 MiB cap, quickly, and closes the connection', async () => {
    const started = Date.now();
    const out = await fetchBundle(rel([`${spiffeServer.url}/huge`]), trust);
    expect(failure(out)).toEqual({ reason: 'too_large', httpStatus: 200 });
    expect(Date.now() - started).toBeLessThan(3000);
    await waitFor(() => spiffeServer.sockets.size === 0, 3000, 20);
  });

  it('fails a slow response past the total timeout, and closes the connection', async () => {
    const started = Date.now();
    const out = await fetchBundle(rel([`${spiffeServer.url}/slow`]), trust, { timeoutMs: 300 });
    const elapsed = Date.now() - started;
    expect(failure(out)).toEqual({ reason: 'timeout', httpStatus: undefined });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
    await waitFor(() => spiffeServer.sockets.size === 0, 3000, 20);
  });

  it('fails over to the next URL and reports the last failure when all fail', async () => {
    const refused = `https://127.0.0.1:${await freePort()}/`;
    const out = await fetchBundle(rel(['http://127.0.0.1:1/', 'not a url', refused, `${spiffeServer.url}/500`, `${spiffeServer.url}/bundle`]), trust);
    expect(out.ok && out.url).toBe(`${spiffeServer.url}/bundle`);
    const all = await fetchBundle(rel([refused, `${spiffeServer.url}/500`]), trust);
    expect(failure(all)).toEqual({ reason: 'http_status', httpStatus: 500 });
    expect(!all.ok && all.url).toBe(`${spiffeServer.url}/500`);
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const out = await fetchBundle(rel([`${spiffeServer.url}/slow`]), trust, { signal: controller.signal });
    expect(failure(out)).toEqual({ reason: 'timeout', httpStatus: undefined });
  });

  it('reports a static relationship as having no endpoint', async () => {
    const out = await fetchBundle({ trustDomain: PARTNER, profile: 'static', endpointUrls: [] }, trust);
    expect(out.ok).toBe(false);
  });
});
