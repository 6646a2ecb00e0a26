import type { Logger } from 'pino';
import { ParleyError } from '../common';
import type { CapacityCall, StoreService, StreamKind } from '../store';
import { peerLogFields } from '../tls';
import { CONCURRENCY_RETRY_AFTER_SECONDS, idleLimited, retryAfterSeconds } from './domain/registry-admission';
import { OciError } from './domain/oci-errors';
import type { Exchange } from './exchange';
import { MAX_SESSIONS, type UploadSessions } from './uploads';

/**
 * The registry's share of the store's per-caller capacity: the very StoreCapacity the gRPC
 * store admits its Pulls and Pushes with (StoreService.capacity), so a peer's registry
 * requests and its gRPC streams draw on one allowance.
 *
 * - A blob GET is a Pull: it holds a slot of its caller's SPIFFE ID and trust domain while
 *   it streams; a client that reads nothing for store.pullStallTimeout is cut off, counted
 *   as pull_stall_timeout.
 * - An upload request that carries blob bytes (`POST ?digest=`, `PATCH`, `PUT`) is a Push:
 *   a slot, then the upload buffer a Push reserves (store.uploadBufferBytes), both for the
 *   request only. Between requests a session holds none of them (its partial last chunk is
 *   bounded by the upload sessions themselves), so an abandoned session holds no capacity;
 *   a request whose client stops sending fails after store.pushIdleTimeout.
 *
 * - Opening a session: one SPIFFE ID holds at most UPLOAD_SESSIONS_PER_SPIFFE_ID of the
 *   MAX_SESSIONS a replica keeps, so one caller cannot take every session from the others.
 *
 * A refusal is 429 TOOMANYREQUESTS naming the limit's key, with Retry-After; it is counted,
 * logged and audited by StoreCapacity as the gRPC refusals are (the session share: logged
 * and audited). Everything taken is given back when the request ends, however it ends.
 */

/** Upload sessions one SPIFFE ID may hold open on a replica: a quarter of them. */
export const UPLOAD_SESSIONS_PER_SPIFFE_ID = Math.floor(MAX_SESSIONS / 4);

/** The request as the capacity checks see it: its peer, and its call's audit of a refusal. */
function capacityCall(x: Exchange): CapacityCall {
  return { peer: x.peer, refuse: (result, reason) => x.call?.refuse(result, reason) };
}

/** A capacity refusal as the spec's 429; any other failure as it is. */
function asTooManyRequests(err: unknown, store: StoreService): unknown {
  if (!ParleyError.is(err, 'resource_exhausted') || err.details.limit === undefined) return err;
  const seconds = retryAfterSeconds(err.details.limit, store.limits.uploadBufferWaitMs);
  return new OciError('TOOMANYREQUESTS', err.message, 429, { 'Retry-After': String(seconds) });
}

/** A slot of the caller for `kind`; its release. @throws OciError TOOMANYREQUESTS */
function admit(store: StoreService, kind: StreamKind, call: CapacityCall): () => void {
  try {
    return store.capacity.admit(kind, call);
  } catch (err) {
    throw asTooManyRequests(err, store);
  }
}

/** GET of a blob, run as a Pull (HEAD streams nothing and takes no slot). */
export async function asPull(store: StoreService, x: Exchange, run: () => Promise<void>): Promise<void> {
  if (x.req.method !== 'GET') return run();
  const call = capacityCall(x);
  const release = admit(store, 'pull', call);
  try {
    await run();
  } catch (err) {
    if (ParleyError.is(err, 'timeout')) store.capacity.timedOut('pull_stall_timeout', call, err.message);
    throw err;
  } finally {
    release();
  }
}

/** An upload request that carries blob bytes, run as a Push: a slot, then the Push's upload buffer (waiting, reading nothing, up to store.uploadBufferWait). */
export async function asPush(store: StoreService, x: Exchange, run: () => Promise<void>): Promise<void> {
  const call = capacityCall(x);
  const release = admit(store, 'push', call);
  const gone = new AbortController();
  const onGone = () => gone.abort();
  x.res.once('close', onGone);
  let lease: { release(): void } | undefined;
  try {
    try {
      lease = await store.capacity.reserveUpload(call, gone.signal);
    } catch (err) {
      throw asTooManyRequests(err, store);
    }
    await run();
  } finally {
    x.res.off('close', onGone);
    lease?.release();
    release();
  }
}

/** The request body of an upload, failing (and closing the request) when its client sends nothing for store.pushIdleTimeout. */
export function uploadBody(x: Exchange, idleMs: number): AsyncIterable<Buffer> {
  return idleLimited<Buffer>(
    x.req,
    idleMs,
    () => x.req.destroy(),
    () => new ParleyError('timeout', `upload: the client sent nothing for ${idleMs} ms (store.pushIdleTimeout)`),
  );
}

/**
 * Opening an upload session: the caller's share of the sessions of this replica (abandoned ones
 * stop counting after store.stagingTtl).
 * @throws OciError TOOMANYREQUESTS
 */
export function requireSessionShare(uploads: UploadSessions, x: Exchange, logger: Pick<Logger, 'warn'>): void {
  const open = uploads.openBy(x.peer.spiffeId);
  if (open < UPLOAD_SESSIONS_PER_SPIFFE_ID) return;
  const reason = `${x.peer.spiffeId} has ${open} upload sessions open, the most one SPIFFE ID may hold of the ${MAX_SESSIONS} of a replica`;
  logger.warn({ ...peerLogFields(x.peer), limit: 'upload_sessions', reason }, 'registry upload refused by a capacity limit');
  x.call?.refuse('concurrency_limit', reason);
  throw new OciError('TOOMANYREQUESTS', `uploads: ${reason}; finish or cancel one, or retry later`, 429, { 'Retry-After': String(CONCURRENCY_RETRY_AFTER_SECONDS) });
}
