import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { namespaceError, type AuthorizedCall, type CallAuthorizer, type CallDecision } from '../authz';
import { ParleyError } from '../common';
import type { GrantService } from '../sync';
import { peerLogFields, type PeerIdentity } from '../tls';
import { OciError, type OciErrorCode } from './domain/oci-errors';
import { GRANTABLE_ROUTES, matchRoute, PUSH_ROUTES, ROUTE_METHODS, type Route, type RouteKey } from './domain/routes';
import { sendError, sendJson, type Exchange } from './exchange';
import { asPull, asPush, requireSessionShare } from './registry-admission';
import { deleteBlob, deleteManifest } from './delete-handlers';
import { getBlob, getManifest, listReferrers, listTags } from './read-handlers';
import { cancelUpload, completeUpload, patchUpload, putManifest, startUpload, uploadStatus, type WriteDeps } from './write-handlers';

export interface RegistryHttpDeps extends WriteDeps {
  readonly authorizer: CallAuthorizer;
  readonly grants: GrantService;
  /** `realm` of the challenges; default `https://<Host>/token`. */
  readonly realm?: string;
  readonly service: string;
  /** Our trust domain: its callers never hold grants (a refusal is 403, not a challenge). */
  readonly ownTrustDomain: string;
  readonly logger: Logger;
}

/**
 * Whether a grant could turn a refusal around, so the answer is the token flow's 401
 * challenge: a read route, no grant presented, a federated caller, and not refused for being
 * revoked or for its source address (no grant helps there).
 */
function grantCouldHelp(d: RegistryHttpDeps, peer: PeerIdentity, route: Route, bearer: boolean, reason: string): boolean {
  if (bearer || !GRANTABLE_ROUTES.has(route.key) || peer.trustDomain.name === d.ownTrustDomain) return false;
  return !reason.startsWith('revoked:') && !reason.startsWith('source address not allowed:');
}

type Handler = (x: Exchange) => Promise<void>;

/** Every route's handler (a route without one does not compile); blob GETs and the upload requests that carry bytes run under the store's per-caller capacity. */
function handlers(d: RegistryHttpDeps): Record<RouteKey, Handler> {
  return {
    base: async (x) => sendJson(x.res, 200, Buffer.from('{}'), {}, x.req.method === 'HEAD'),
    token: (x) => issueToken(d, x),
    manifest_get: (x) => getManifest(d, x),
    blob_get: (x) => asPull(d.store, x, () => getBlob(d, x)),
    tags_list: (x) => listTags(d, x),
    referrers: (x) => listReferrers(d, x),
    manifest_put: (x) => putManifest(d, x),
    manifest_delete: (x) => deleteManifest(d, x),
    blob_delete: (x) => deleteBlob(d, x),
    upload_start: async (x) => {
      requireSessionShare(d.uploads, x, d.logger);
      await (x.query.has('digest') ? asPush(d.store, x, () => startUpload(d, x)) : startUpload(d, x));
    },
    upload_patch: (x) => asPush(d.store, x, () => patchUpload(d, x)),
    upload_put: (x) => asPush(d.store, x, () => completeUpload(d, x)),
    upload_status: (x) => uploadStatus(d, x),
    upload_cancel: (x) => cancelUpload(d, x),
  };
}

const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' };

/** The authorization metadata of a request, as the call authorizer reads gRPC metadata. */
function headerMetadata(req: IncomingMessage): { get(key: string): string[] } {
  return { get: (key) => (key === 'authorization' && typeof req.headers.authorization === 'string' ? [req.headers.authorization] : []) };
}

/**
 * The registry's request handler: the route, then the authorizer's decision as the Store
 * method the route is (before anything of the request is read), then the route's handler.
 * Every refusal and failure is the spec's JSON error; the reason goes to the log and audit.
 */
export function registryRequestHandler(d: RegistryHttpDeps): (req: IncomingMessage, res: ServerResponse, peer: PeerIdentity) => void {
  const table = handlers(d);
  return (req, res, peer) => {
    res.setHeader('Docker-Distribution-API-Version', API_VERSION['Docker-Distribution-API-Version']);
    void serve(d, table, req, res, peer).catch((err: unknown) => {
      d.logger.error({ err, ...peerLogFields(peer) }, 'registry request failed');
      sendError(res, 'INTERNAL', 'internal error');
    });
  };
}

async function serve(d: RegistryHttpDeps, table: Record<RouteKey, Handler>, req: IncomingMessage, res: ServerResponse, peer: PeerIdentity): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://registry.invalid');
  const head = req.method === 'HEAD';
  const match = matchRoute(req.method ?? '', url.pathname);
  if (!match.ok) {
    req.resume();
    sendError(res, match.status === 405 ? 'UNSUPPORTED' : 'NAME_UNKNOWN', match.status === 405 ? 'method not allowed here' : 'no such endpoint', match.status, {}, head);
    return;
  }
  const { route } = match;
  const bearer = typeof req.headers.authorization === 'string' && req.headers.authorization.startsWith('Bearer ');
  const decision = d.authorizer.authorize(peer, ROUTE_METHODS[route.key], headerMetadata(req));
  if (!decision.allowed) {
    req.resume();
    refuse(d, req, res, route, decision, grantCouldHelp(d, peer, route, bearer, decision.reason));
    return;
  }
  const call = decision.context as AuthorizedCall | undefined;
  try {
    const name = route.name ?? '';
    if (route.name !== undefined && namespaceError(name) !== undefined) throw new OciError('NAME_INVALID', `repository name is not a parley namespace: ${namespaceError(name)}`);
    await table[route.key]({ req, res, peer, route, query: url.searchParams, call, bearer, name });
  } catch (err) {
    req.resume();
    failed(d, req, res, route, err, bearer, peer);
  } finally {
    call?.end();
  }
}

function challenge(d: RegistryHttpDeps, req: IncomingMessage, route: Route): Record<string, string> {
  const realm = d.realm ?? `https://${req.headers.host ?? 'localhost'}/token`;
  const actions = PUSH_ROUTES.has(route.key) ? 'pull,push' : 'pull';
  const scope = route.name !== undefined && namespaceError(route.name) === undefined ? `,scope="repository:${route.name}:${actions}"` : '';
  return { 'WWW-Authenticate': `Bearer realm="${realm}",service="${d.service}"${scope}` };
}

/** A refused authorization: 401 with a challenge where a grant could help (or the presented one was refused), 429, else 403. */
function refuse(d: RegistryHttpDeps, req: IncomingMessage, res: ServerResponse, route: Route, decision: CallDecision, challenged: boolean): void {
  const head = req.method === 'HEAD';
  if (decision.refusal === 'resource_exhausted') return sendError(res, 'TOOMANYREQUESTS', 'too many requests', 429, {}, head);
  if (decision.refusal === 'unauthenticated' || challenged) return sendError(res, 'UNAUTHORIZED', 'authentication required', 401, challenge(d, req, route), head);
  sendError(res, 'DENIED', 'permission denied', 403, {}, head);
}

const NOT_FOUND_BY_ROUTE: Partial<Record<RouteKey, OciErrorCode>> = {
  blob_get: 'BLOB_UNKNOWN',
  blob_delete: 'BLOB_UNKNOWN',
  manifest_get: 'MANIFEST_UNKNOWN',
  manifest_delete: 'MANIFEST_UNKNOWN',
  referrers: 'MANIFEST_UNKNOWN',
};

function failed(d: RegistryHttpDeps, req: IncomingMessage, res: ServerResponse, route: Route, err: unknown, bearer: boolean, peer: PeerIdentity): void {
  const head = req.method === 'HEAD';
  if (err instanceof OciError) return sendError(res, err.code, err.message, err.status, { ...err.headers }, head);
  if (ParleyError.is(err)) {
    d.logger.debug({ ...peerLogFields(peer), code: err.code, detail: err.message, route: route.key }, 'registry request refused');
    switch (err.code) {
      case 'permission_denied':
        if (grantCouldHelp(d, peer, route, bearer, '')) return sendError(res, 'UNAUTHORIZED', 'authentication required', 401, challenge(d, req, route), head);
        return sendError(res, 'DENIED', err.publicMessage, 403, {}, head);
      case 'unauthenticated':
        return sendError(res, 'UNAUTHORIZED', err.publicMessage, 401, challenge(d, req, route), head);
      case 'not_found':
        return sendError(res, NOT_FOUND_BY_ROUTE[route.key] ?? 'NAME_UNKNOWN', err.publicMessage, 404, {}, head);
      case 'invalid_argument':
        return sendError(res, route.key === 'manifest_put' || route.key === 'manifest_delete' ? 'MANIFEST_INVALID' : PUSH_ROUTES.has(route.key) ? 'BLOB_UPLOAD_INVALID' : 'NAME_INVALID', err.publicMessage, 400, {}, head);
      case 'resource_exhausted':
        return PUSH_ROUTES.has(route.key) ? sendError(res, 'DENIED', err.publicMessage, 403, {}, head) : sendError(res, 'TOOMANYREQUESTS', err.publicMessage, 429, {}, head);
      case 'cancelled':
        res.destroy(); // the client went away: nobody reads an answer
        return;
      case 'unavailable':
      case 'timeout':
        return sendError(res, 'UNAVAILABLE', err.publicMessage, 503, {}, head);
      default:
        break;
    }
  }
  d.logger.error({ err, ...peerLogFields(peer), route: route.key }, 'registry request failed');
  sendError(res, 'INTERNAL', 'internal error', 500, {}, head);
}

/**
 * GET /token: the standard token flow's endpoint. The token is a grant (as
 * RequestRegistryCredentials issues), for what is exported to the mTLS caller, bound to its
 * certificate; the requested scope does not widen it.
 */
async function issueToken(d: RegistryHttpDeps, x: Exchange): Promise<void> {
  let issued;
  try {
    issued = await d.grants.issue({ id: x.peer.id, fingerprint256: x.peer.fingerprint256 });
  } catch (err) {
    if (ParleyError.is(err, 'permission_denied') && err.details.reason === 'nothing_exported') x.call?.refuse('permission_denied', 'nothing is exported to you');
    throw err;
  }
  const { token, claims } = issued;
  const body = { token, access_token: token, expires_in: claims.exp - claims.iat, issued_at: new Date(claims.iat * 1000).toISOString() };
  sendJson(x.res, 200, Buffer.from(JSON.stringify(body)), { 'Cache-Control': 'no-store' });
}
