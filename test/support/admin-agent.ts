/**
 * An admin API client that keeps its connection open (HTTP/1.1 keep-alive over one mTLS
 * socket), to test what happens to connections that are already open: each reply says
 * whether it came over the socket of an earlier request.
 */
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { DevCa } from '../../src/identity/dev-ca/dev-ca';
import type { Creds } from './admin-api';
import type { TestGateway } from './gateway';
import type { HttpsReply } from './https-client';

export interface KeptReply extends HttpsReply {
  /** True when the request went over an already-open connection. */
  reusedSocket: boolean;
  socket: TLSSocket;
}

export interface KeepAliveAdmin {
  request(method: string, path: string, json?: unknown): Promise<KeptReply>;
  close(): void;
}

/** One keep-alive connection (at most one socket) to the gateway's admin port as `who`. */
export function keepAliveAdmin(gw: TestGateway, ca: DevCa, who: Creds): KeepAliveAdmin {
  const serverId = `URI:spiffe://${gw.config.identity.trustDomain}/parley/gateway`;
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.bundlePem(), cert: who.certPem, key: who.keyPem });
  return {
    request: (method, path, json) =>
      new Promise((resolve, reject) => {
        const payload = json === undefined ? undefined : JSON.stringify(json);
        const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
        const req = request(
          `https://127.0.0.1:${gw.gateway.listeners.admin!.port}${path}`,
          {
            method,
            headers,
            agent,
            timeout: 5_000,
            checkServerIdentity: (_host, cert) => (new X509Certificate(cert.raw).subjectAltName === serverId ? undefined : new Error('unexpected server identity')),
          },
          (res) => {
            const socket = res.socket as TLSSocket;
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body, reusedSocket: req.reusedSocket, socket }));
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end(payload);
      }),
    close: () => agent.destroy(),
  };
}

/** Resolves true once `socket` has closed, false if it is still open after `withinMs`. */
export function closesWithin(socket: TLSSocket, withinMs: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
