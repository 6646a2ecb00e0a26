import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthorizedCall } from '../authz';
import { ParleyError } from '../common';
import type { PeerIdentity } from '../tls';
import { errorBody, OciError, type OciErrorCode } from './domain/oci-errors';
import type { Route } from './domain/routes';

/** One registry request: who asked (the admitted peer), which route, its authorization context. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly peer: PeerIdentity;
  readonly route: Route;
  readonly query: URLSearchParams;
  /** The call's context when its final decision waits for the namespace (the store's methods). */
  readonly call: AuthorizedCall | undefined;
  /** Whether the request carried `Authorization: Bearer`. */
  readonly bearer: boolean;
  /** The repository name of the route, validated (a Parley namespace). */
  readonly name: string;
}

/** The caller may use `namespace` in this call (the final, audited decision). @throws ParleyError permission_denied */
export function requireNamespace(x: Exchange, namespace: string): void {
  x.call?.requireNamespace(namespace);
}

export function sendJson(res: ServerResponse, status: number, body: Buffer, headers: Record<string, string | number> = {}, head = false): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers });
  res.end(head ? undefined : body);
}

export function sendError(res: ServerResponse, code: OciErrorCode, message: string, status?: number, headers: Record<string, string> = {}, head = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const err = new OciError(code, message, status);
  sendJson(res, err.status, errorBody(code, message), headers, head);
}

const clientGone = () => new ParleyError('cancelled', 'registry: the client closed the connection');

/**
 * Writes, waiting for 'drain' when the socket's buffer is full.
 * @throws ParleyError cancelled when the client goes away; timeout when it reads nothing for `stallMs` (store.pullStallTimeout)
 */
export function writeWithBackpressure(res: ServerResponse, data: Buffer, stallMs: number): Promise<void> {
  if (res.destroyed) return Promise.reject(clientGone());
  if (res.write(data)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new ParleyError('timeout', `registry: the client read nothing for ${stallMs} ms (store.pullStallTimeout)`)), stallMs);
    const onDrain = () => finish();
    const onClose = () => finish(clientGone());
    const finish = (err?: Error) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
