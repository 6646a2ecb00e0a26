/**
 * gRPC by hand over a real HTTP/2-over-mTLS connection, for tests that must behave as no
 * well-mannered client would: open a call and send part of a message or nothing, send the
 * same large message on a thousand streams without a copy each, or never speak HTTP/2.
 */
import { connect as http2Connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { MethodDefinition } from '@grpc/proto-loader';
import { storePackageDefinition, STORE_SERVICE } from '../../src/store';
import type { WirePushHeader } from '../../src/store';

export interface RawClientIdentity {
  certPem: string;
  keyPem: string;
  /** PEM roots that sign the gateway's SVID. */
  caPem: string;
}

function tlsOptions(id: RawClientIdentity) {
  return { cert: id.certPem, key: id.keyPem, ca: id.caPem, checkServerIdentity: () => undefined, ALPNProtocols: ['h2'], servername: 'parley.test' };
}

/** An HTTP/2 session to 127.0.0.1:port over mTLS; resolves once connected. */
export function rawSession(port: number, id: RawClientIdentity, settings: { initialWindowSize?: number } = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${port}`, { ...tlsOptions(id), settings });
    session.once('connect', () => {
      session.off('error', reject);
      session.on('error', () => undefined);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** A TLS connection with h2 ALPN that sends nothing after the handshake; resolves once it is established. */
export function silentTlsConnection(port: number, id: RawClientIdentity): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...tlsOptions(id) }, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A message framed as gRPC sends it: flag 0, 4-byte big-endian length, the bytes. */
export function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

function pushMethod(): MethodDefinition<object, object> {
  return (storePackageDefinition()[STORE_SERVICE] as unknown as Record<string, MethodDefinition<object, object>>).Push;
}

/** A framed Push header message. */
export function framedPushHeader(header: WirePushHeader): Buffer {
  return grpcFrame(pushMethod().requestSerialize({ part: 'header', header }));
}

/** A framed Push chunk message. */
export function framedPushChunk(data: Buffer): Buffer {
  return grpcFrame(pushMethod().requestSerialize({ part: 'chunk', chunk: data }));
}

/** Opens a call of `path` (e.g. /parley.store.v1.StoreService/Push) and writes `frames`, leaving the stream open. */
export function openCall(session: ClientHttp2Session, path: string, frames: Buffer[] = []): ClientHttp2Stream {
  const stream = session.request({
    [h2.HTTP2_HEADER_METHOD]: 'POST',
    [h2.HTTP2_HEADER_PATH]: path,
    [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    [h2.HTTP2_HEADER_TE]: 'trailers',
  });
  stream.on('error', () => undefined);
  for (const frame of frames) stream.write(frame);
  return stream;
}

/** The grpc-status the server ended a call with (from trailers or a trailers-only response); rejects if the stream closes without one. */
export function grpcStatusOf(stream: ClientHttp2Stream): Promise<{ code: number; message: string }> {
  return new Promise((resolve, reject) => {
    const take = (headers: Record<string, string | string[] | undefined>) => {
      const code = headers['grpc-status'];
      if (code !== undefined) resolve({ code: Number(code), message: decodeURIComponent(String(headers['grpc-message'] ?? '')) });
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.resume();
    stream.once('close', () => reject(new Error(`stream closed without a grpc-status (rst code ${stream.rstCode})`)));
  });
}
