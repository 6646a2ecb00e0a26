/**
 * Helpers for end-to-end federation tests: real gateways of different trust domains on
 * 127.0.0.1, federated through their bundle endpoints; workload clients issued by each
 * gateway's own dev CA; the admin REST API and /metrics of a gateway; and a bundle endpoint
 * whose answers a test controls (faults) in place of a partner's real one.
 */
import { randomBytes } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { DevCaSource } from '../../src/identity/dev-ca/dev-ca-source';
import { DevCa } from '../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain, type SpiffeId } from '../../src/spiffe';
import { StoreClient, storeChannelOptions } from '../../src/store';
import { spiffeChannelCredentials } from '../../src/tls/client-credentials';
import type { PemKeyPair } from '../../src/tls/server-identity';
import type { FederationStatus } from '../../src/federation';
import { startTestGateway, type TestGateway } from './gateway';
import { parsePrometheusText } from './prometheus';
import { FederationService } from '../../src/federation';
import { IdentitySource } from '../../src/identity';
import { TrustStore } from '../../src/trust';

export const ACME = 'acme.test';
export const PARTNER = 'partner.test';

/** Environment of a gateway that serves its bundle on 127.0.0.1 (https_spiffe unless overridden). */
export function bundleEndpointEnv(td: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PARLEY_IDENTITY_TRUST_DOMAIN: td,
    PARLEY_FEDERATION_BUNDLE_ENDPOINT_ENABLED: 'true',
    PARLEY_FEDERATION_BUNDLE_ENDPOINT_HOST: '127.0.0.1',
    PARLEY_FEDERATION_BUNDLE_ENDPOINT_PORT: '0',
    ...extra,
  };
}

export function gatewayIdOf(td: string): SpiffeId {
  return requireSpiffeId(`spiffe://${td}/parley/gateway`);
}

export function trustDomainOf(gw: TestGateway): string {
  return gw.config.identity.trustDomain;
}

/**
 * The running gateway's own dev CA instance (the one its identity source signs and rotates
 * with), so client SVIDs follow the gateway's CA rotation exactly; a second instance on the
 * same files would plan rotations of its own.
 */
export function gatewayCa(gw: TestGateway): DevCa {
  const source = gw.gateway.get(IdentitySource);
  const ca = source instanceof DevCaSource ? (source as unknown as { options: { ca?: unknown } }).options.ca : undefined;
  if (!(ca instanceof DevCa)) throw new Error(`gateway ${trustDomainOf(gw)} does not run on a dev CA`);
  return ca;
}

/** An X509-SVID of `path` in the gateway's trust domain, from its dev CA. */
export async function issueSvid(gw: TestGateway, path: string, ttlMs?: number): Promise<PemKeyPair> {
  const issued = await gatewayCa(gw).issue(requireSpiffeId(`spiffe://${trustDomainOf(gw)}${path}`), ttlMs);
  return { certChainPem: issued.certPem, keyPem: issued.keyPem };
}

/** A store client holding `svid`, verifying `target`'s gateway SVID with the (live) trust store `trust`. */
export function storeClient(svid: PemKeyPair, trust: TrustStore, target: TestGateway): StoreClient {
  // Dialing an IP: the trust domain goes as TLS server name (TLS forbids IP addresses there).
  return new StoreClient(`127.0.0.1:${target.gateway.listeners.grpc!.port}`, spiffeChannelCredentials({ svid, trust, server: { id: gatewayIdOf(trustDomainOf(target)) } }), {
    ...storeChannelOptions(),
    'grpc.ssl_target_name_override': trustDomainOf(target),
  });
}

/** A store client for a workload `path` of `from`'s trust domain calling `target`. */
export async function workloadClient(from: TestGateway, path: string, target: TestGateway): Promise<StoreClient> {
  return storeClient(await issueSvid(from, path), from.gateway.get(TrustStore), target);
}

/** The gRPC status code of a failed promise (undefined when it succeeded). */
export async function grpcCode(p: Promise<unknown>, timeoutMs = 10_000): Promise<grpc.status | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`call did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([p, timeout]);
    return undefined;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'number') throw err;
    return code;
  } finally {
    clearTimeout(timer);
  }
}

/** A relationship body for `partner`'s real bundle endpoint (https_spiffe, bootstrapped with its current bundle). */
export function spiffeRelationshipTo(partner: TestGateway, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const td = trustDomainOf(partner);
  const bootstrap = partner.gateway.get(FederationService).ownBundleDocument();
  if (bootstrap === undefined) throw new Error(`${td} publishes no bundle`);
  return {
    trustDomain: td,
    profile: 'https_spiffe',
    endpointUrls: [`https://127.0.0.1:${partner.gateway.listeners.bundleEndpoint!.port}/`],
    endpointSpiffeId: gatewayIdOf(td).toString(),
    bootstrapBundle: bootstrap,
    ...overrides,
  };
}

/** `self` federates with `partner` over https_spiffe and fetches its bundle now; throws unless ready. */
export async function federate(self: TestGateway, partner: TestGateway): Promise<FederationStatus> {
  await self.gateway.get(FederationService).create(spiffeRelationshipTo(partner));
  const status = await self.gateway.get(FederationService).refreshNow(trustDomainOf(partner));
  if (status.state !== 'ready') throw new Error(`federation ${trustDomainOf(self)} -> ${trustDomainOf(partner)}: ${status.state} ${JSON.stringify(status.lastError)}`);
  return status;
}

/** Starts acme.test and partner.test (bundle endpoints on) and federates them both ways over https_spiffe. */
export async function startFederatedPair(o: { acme?: Record<string, string>; partner?: Record<string, string> } = {}): Promise<{ acme: TestGateway; partner: TestGateway }> {
  const [acme, partner] = await Promise.all([startTestGateway(bundleEndpointEnv(ACME, o.acme)), startTestGateway(bundleEndpointEnv(PARTNER, o.partner))]);
  try {
    await federate(partner, acme);
    await federate(acme, partner);
  } catch (err) {
    await Promise.all([acme.stop(), partner.stop()]);
    throw err;
  }
  return { acme, partner };
}

/** SHA-256 fingerprints (lowercase hex) of the authorities `holder` trusts for `td`. */
export function heldAuthorities(holder: TestGateway, td: string): string[] {
  return (holder.gateway.get(TrustStore).getX509Authorities(requireTrustDomain(td)) ?? []).map((c) => c.fingerprint256.split(':').join('').toLowerCase());
}

/** Fingerprints of the authorities `gw` publishes in its own bundle. */
export function publishedAuthorities(gw: TestGateway): string[] {
  return heldAuthorities(gw, trustDomainOf(gw));
}

export interface AdminReply {
  status: number;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

const adminCreds = new WeakMap<TestGateway, PemKeyPair & { bundlePem: string }>();

/** A call to the gateway's admin REST API as its admin (spiffe://<td>/parley/admin). */
export async function adminCall(gw: TestGateway, method: string, path: string, body?: unknown): Promise<AdminReply> {
  let creds = adminCreds.get(gw);
  if (creds === undefined) {
    creds = { ...(await issueSvid(gw, '/parley/admin')), bundlePem: gatewayCa(gw).bundlePem() };
    adminCreds.set(gw, creds);
  }
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { certChainPem, keyPem, bundlePem } = creds;
  return new Promise((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${gw.gateway.listeners.admin!.port}${path}`,
      {
        method,
        ca: bundlePem,
        cert: certChainPem,
        key: keyPem,
        timeout: 20_000,
        checkServerIdentity: () => undefined,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, json: <T>() => JSON.parse(text) as T }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('admin call timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** `parley_federation_fetches_total{trust_domain, result}` as the gateway's /metrics shows it now. */
export function fetchCount(gw: TestGateway, td: string, result: string): Promise<number> {
  return metricValue(gw, 'parley_federation_fetches_total', { trust_domain: td, result });
}

/** The sum of the samples of `name` whose labels include `labels`, from the gateway's /metrics now. */
export async function metricValue(gw: TestGateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = httpGet(`http://127.0.0.1:${gw.gateway.listeners.ops!.port}/metrics`, { timeout: 10_000 }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (t += c));
      res.on('end', () => resolve(t));
    });
    req.on('timeout', () => req.destroy(new Error('metrics timed out')));
    req.on('error', reject);
  });
  let parsed: ReturnType<typeof parsePrometheusText>;
  try {
    parsed = parsePrometheusText(text);
  } catch (err) {
    const line = Number(/line (\d+)/.exec((err as Error).message)?.[1]);
    throw new Error(`/metrics of ${trustDomainOf(gw)} does not parse: ${(err as Error).message}: ${text.split('\n')[line - 1]}`, { cause: err });
  }
  return parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/** What a FaultyBundleEndpoint answers to the next fetch. */
export type FaultMode =
  | { kind: 'serve'; body: () => string }
  | { kind: 'status'; status: number }
  | { kind: 'huge'; bytes: number }
  | { kind: 'stall' };

/**
 * An HTTPS bundle endpoint on 127.0.0.1 under the test's control: serves a given document,
 * an error status, an endless-looking huge body or nothing at all (stalls), with the
 * certificate the test chose (an SVID with the right or a wrong SPIFFE ID, or a web cert).
 */
export class FaultyBundleEndpoint {
  mode: FaultMode = { kind: 'status', status: 503 };
  requests = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(identity: PemKeyPair): Promise<FaultyBundleEndpoint> {
    const server = createServer({ cert: identity.certChainPem, key: identity.keyPem });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const endpoint = new FaultyBundleEndpoint(server, (server.address() as { port: number }).port);
    server.on('connection', (s: Socket) => {
      endpoint.sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => endpoint.sockets.delete(s));
    });
    server.on('request', (_req, res) => {
      endpoint.requests++;
      res.on('error', () => undefined);
      const mode = endpoint.mode;
      if (mode.kind === 'serve') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(mode.body());
      } else if (mode.kind === 'status') {
        res.writeHead(mode.status, { 'content-type': 'text/plain' }).end('fault');
      } else if (mode.kind === 'huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.from(`{"keys":[${'{"kty":"EC"},'.repeat(5000)}`);
        let left = mode.bytes;
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            left -= chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end('{}]}');
        };
        pump();
      }
      // stall: headers never come; the socket is destroyed by the client's timeout or by close().
    });
    return endpoint;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}/`;
  }

  /** Serves later connections with another certificate. */
  setIdentity(identity: PemKeyPair): void {
    this.server.setSecureContext({ cert: identity.certChainPem, key: identity.keyPem });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

/** An https URL on 127.0.0.1 where nothing listens (the port was bound and released). */
export async function refusedUrl(): Promise<string> {
  const { freePort } = await import('./ports');
  return `https://127.0.0.1:${await freePort()}/`;
}

/** Random bytes to push as a record payload. */
export function payload(size = 1024): Buffer {
  return randomBytes(size);
}
