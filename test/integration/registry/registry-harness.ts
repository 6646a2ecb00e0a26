/** Helpers of the registry tests: an HTTPS client holding a client SVID, the gateway's CA, records pushed over gRPC. */
import { X509Certificate } from 'node:crypto';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import { requireTrustDomain } from '../../../src/spiffe';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { TrustStore } from '../../../src/trust';
import { gatewayIdOf, trustDomainOf } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';

/** What a gateway needs to serve its registry on 127.0.0.1 at a free port. */
export const REGISTRY_ENV = { PARLEY_REGISTRY_ENABLED: 'true', PARLEY_REGISTRY_HOST: '127.0.0.1', PARLEY_REGISTRY_PORT: '0' };

export interface RegistryReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): Record<string, unknown>;
}

/** The PEM of the authorities `holder` trusts for `td`. */
export function authoritiesPem(holder: TestGateway, td: string): string {
  return (holder.gateway.get(TrustStore).getX509Authorities(requireTrustDomain(td)) ?? []).map((c: X509Certificate) => c.toString()).join('\n');
}

/** A request to `target`'s registry holding `svid` left open: its body is written by the test; `response` resolves with the answer's head (its body not read). */
export function openRegistryRequest(target: TestGateway, svid: PemKeyPair, method: string, path: string, headers: Record<string, string> = {}): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const port = target.gateway.listeners.registry!.port;
  const expected = `URI:${gatewayIdOf(trustDomainOf(target)).toString()}`;
  let req!: ClientRequest;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req = request(
      { host: '127.0.0.1', port, path, method, headers, ca: authoritiesPem(target, trustDomainOf(target)), cert: svid.certChainPem, key: svid.keyPem, agent: false,
        checkServerIdentity: (_host, cert) => ((new X509Certificate(cert.raw).subjectAltName ?? '').split(', ').includes(expected) ? undefined : new Error('unexpected server identity')) },
      resolve,
    );
    req.on('error', reject);
  });
  return { req, response };
}

/** The whole body of a response. */
export async function bodyOf(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** One request to `target`'s registry holding `svid` (one fresh connection), checking the server's SPIFFE ID. */
export function registryRequest(target: TestGateway, svid: PemKeyPair | undefined, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RegistryReply> {
  const port = target.gateway.listeners.registry!.port;
  const expected = `URI:${gatewayIdOf(trustDomainOf(target)).toString()}`;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, headers, ca: authoritiesPem(target, trustDomainOf(target)), cert: svid?.certChainPem, key: svid?.keyPem, agent: false, timeout: 10_000,
        checkServerIdentity: (_host, cert) => ((new X509Certificate(cert.raw).subjectAltName ?? '').split(', ').includes(expected) ? undefined : new Error('unexpected server identity')) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: all, json: () => JSON.parse(all.toString('utf8')) as Record<string, unknown> });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The spec's error code of a reply. */
export function ociCode(reply: RegistryReply): string | undefined {
  try {
    return (reply.json().errors as Array<{ code: string }>)[0]?.code;
  } catch {
    return undefined;
  }
}

/** An admitted TLS connection to `target`'s registry holding `svid`, one request answered on it, left open. */
export function openRegistryConnection(target: TestGateway, svid: PemKeyPair): Promise<TLSSocket> {
  const port = target.gateway.listeners.registry!.port;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: authoritiesPem(target, trustDomainOf(target)), cert: svid.certChainPem, key: svid.keyPem, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined }, () => {
      socket.write('GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n');
    });
    socket.once('data', (chunk: Buffer) => (chunk.toString('latin1').startsWith('HTTP/1.1 200') ? resolve(socket) : reject(new Error(`unexpected answer: ${chunk.toString('latin1').slice(0, 40)}`))));
    socket.once('error', reject);
  });
}
