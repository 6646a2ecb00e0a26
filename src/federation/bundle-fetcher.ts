/**
 * Fetches a partner's SPIFFE bundle from its bundle endpoint (CONFORMANCE §4), hardened:
 * one total deadline per endpoint URL (connect, TLS, headers and body), a body cap enforced
 * while streaming, redirects followed only to https URLs with the same checks, only HTTP 200
 * with a parseable bundle counts. Every failure is an outcome, never a throw, and every
 * socket is destroyed before the promise settles.
 *
 * https_spiffe: no client certificate; the server's SVID is verified by signature against
 * the bundle of the endpoint ID's trust domain (`endpointTrust`) and must carry exactly the
 * configured endpoint SPIFFE ID; no host name check. https_web: ordinary HTTPS against the
 * configured CA roots (or Node's default roots) with the host name check.
 */
import type { X509Certificate } from 'node:crypto';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { ParleyError } from '../common';
import { isSpiffeError, SpiffeBundle, SpiffeId, TrustDomain, type BundleSkip, type X509BundleSource } from '../spiffe';
import { serverIdentityCheck } from '../tls';
import { VERSION } from '../common';
import { readHttpsUrl, type FederationRelationship } from './domain';

export type FetchFailure = 'connect' | 'tls' | 'endpoint_identity' | 'http_status' | 'timeout' | 'too_large' | 'invalid_bundle' | 'wrong_content' | 'redirect';

export type FetchOutcome =
  | { ok: true; bundle: SpiffeBundle; url: string; skipped: readonly BundleSkip[]; httpStatus: 200 }
  | { ok: false; reason: FetchFailure; detail: string; url?: string; httpStatus?: number };

export interface FetchOptions {
  /** Total time per endpoint URL, redirects included (default 10 s). */
  timeoutMs?: number;
  /** Largest accepted body (default 1 MiB). */
  maxBytes?: number;
  /** Default 3 (at most 10). */
  maxRedirects?: number;
  /** Aborting ends the fetch with reason `timeout` (detail "fetch aborted"). */
  signal?: AbortSignal;
}

export const FETCH_DEFAULTS = Object.freeze({ timeoutMs: 10_000, maxBytes: 1024 * 1024, maxRedirects: 3 });

type Failure = Extract<FetchOutcome, { ok: false }>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Media types a bundle may be served with; absent is accepted too. */
const JSON_TYPES = new Set(['application/json', 'application/jwk-set+json', 'text/plain', 'application/octet-stream']);
/** OpenSSL verification codes: the chain did not verify against the configured roots. */
const CERT_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'CERT_CHAIN_TOO_LONG',
]);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * Fetches the partner bundle: tries each endpoint URL in order until one succeeds; returns
 * the last failure otherwise. `endpointTrust` gives the bundle to verify an https_spiffe
 * endpoint's SVID (the held bundle of the endpoint ID's trust domain, or the bootstrap
 * bundle on first fetch). Never throws.
 */
export async function fetchBundle(rel: FederationRelationship, endpointTrust: X509BundleSource | undefined, options: FetchOptions = {}): Promise<FetchOutcome> {
  try {
    const prepared = prepare(rel, endpointTrust);
    if ('ok' in prepared) return prepared;
    const limits = {
      timeoutMs: positive(options.timeoutMs, FETCH_DEFAULTS.timeoutMs),
      maxBytes: positive(options.maxBytes, FETCH_DEFAULTS.maxBytes),
      maxRedirects: Number.isFinite(options.maxRedirects) ? Math.min(10, Math.max(0, Math.floor(options.maxRedirects as number))) : FETCH_DEFAULTS.maxRedirects,
    };
    let last: FetchOutcome = { ok: false, reason: 'connect', detail: 'no endpoint url configured' };
    for (const url of rel.endpointUrls) {
      if (options.signal?.aborted) return { ok: false, reason: 'timeout', detail: 'fetch aborted', url };
      last = await fetchFrom(url, prepared, limits, options.signal);
      if (last.ok) return last;
    }
    return last;
  } catch (err) {
    return { ok: false, reason: 'connect', detail: `unexpected fetch error: ${(err as Error).message}` };
  }
}

interface Prepared {
  trustDomain: TrustDomain;
  tls: RequestOptions;
  /** Which failure a certificate rejection is. */
  certFailure: FetchFailure;
}

function prepare(rel: FederationRelationship, endpointTrust: X509BundleSource | undefined): Prepared | Failure {
  let trustDomain: TrustDomain;
  try {
    trustDomain = TrustDomain.parse(rel.trustDomain);
  } catch (err) {
    return { ok: false, reason: 'invalid_bundle', detail: `relationship has an invalid trust domain: ${(err as Error).message}` };
  }
  if (rel.profile === 'static' || rel.endpointUrls.length === 0) {
    return { ok: false, reason: 'connect', detail: `no endpoint url configured for ${rel.trustDomain} (profile ${rel.profile})` };
  }
  const base: RequestOptions = { minVersion: 'TLSv1.2', rejectUnauthorized: true };
  if (rel.profile === 'https_web') {
    return { trustDomain, certFailure: 'tls', tls: rel.caRootsPem === undefined ? base : { ...base, ca: rel.caRootsPem } };
  }
  const endpointId = rel.endpointSpiffeId === undefined ? undefined : SpiffeId.tryParse(rel.endpointSpiffeId);
  if (endpointId === undefined) {
    return { ok: false, reason: 'endpoint_identity', detail: 'https_spiffe relationship without a valid endpoint spiffe id' };
  }
  let anchors: readonly X509Certificate[] | undefined;
  try {
    anchors = endpointTrust?.getX509Authorities(endpointId.trustDomain);
  } catch (err) {
    return { ok: false, reason: 'endpoint_identity', detail: `cannot read the bundle of ${endpointId.trustDomain.name}: ${(err as Error).message}` };
  }
  if (endpointTrust === undefined || anchors === undefined || anchors.length === 0) {
    return {
      ok: false,
      reason: 'endpoint_identity',
      detail: `no bundle held for ${endpointId.trustDomain.name} to verify endpoint ${endpointId.toString()} (bootstrap bundle missing?)`,
    };
  }
  const tls: RequestOptions = {
    ...base,
    // Pre-filter only: OpenSSL checks the chain against the endpoint trust domain's
    // authorities; serverIdentityCheck then proves it by signature and checks the exact ID.
    ca: anchors.map((c) => c.toString()),
    allowPartialTrustChain: true,
    checkServerIdentity: serverIdentityCheck(endpointTrust, { id: endpointId }),
  };
  return { trustDomain, certFailure: 'endpoint_identity', tls };
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

interface Limits {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

/** One endpoint URL, following redirects, under one deadline. */
async function fetchFrom(first: string, p: Prepared, limits: Limits, signal: AbortSignal | undefined): Promise<FetchOutcome> {
  const deadline = Date.now() + limits.timeoutMs;
  const start = readHttpsUrl(first);
  if ('error' in start) return { ok: false, reason: 'connect', detail: `invalid endpoint url: ${start.error}`, url: first };
  let url = start.url;
  for (let hop = 0; ; hop++) {
    const result = await requestOnce(url, p, limits.maxBytes, deadline, signal);
    if (!('location' in result)) return result;
    if (hop >= limits.maxRedirects) {
      return { ok: false, reason: 'redirect', detail: `more than ${limits.maxRedirects} redirects`, url, httpStatus: result.status };
    }
    let target: string;
    try {
      target = new URL(result.location, url).href;
    } catch {
      return { ok: false, reason: 'redirect', detail: 'redirect to an invalid location', url, httpStatus: result.status };
    }
    const checked = readHttpsUrl(target);
    if ('error' in checked) {
      return { ok: false, reason: 'redirect', detail: `redirect refused: location ${checked.error}`, url, httpStatus: result.status };
    }
    url = checked.url;
  }
}

type Attempt = FetchOutcome | { location: string; status: number };
type Phase = 'connect' | 'tls' | 'request' | 'response';

function requestOnce(url: string, p: Prepared, maxBytes: number, deadline: number, signal: AbortSignal | undefined): Promise<Attempt> {
  return new Promise<Attempt>((resolve) => {
    let settled = false;
    let phase: Phase = 'connect';
    let req: ClientRequest | undefined;
    const finish = (result: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req?.destroy();
      resolve(result);
    };
    const fail = (reason: FetchFailure, detail: string, httpStatus?: number): void =>
      finish({ ok: false, reason, detail, url, ...(httpStatus === undefined ? {} : { httpStatus }) });
    const onAbort = (): void => fail('timeout', 'fetch aborted');
    const timer = setTimeout(() => fail('timeout', `no complete response within the time limit (phase ${phase})`), Math.max(0, deadline - Date.now()));

    const onResponse = (res: IncomingMessage): void => {
      phase = 'response';
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        const location = res.headers.location;
        if (typeof location !== 'string' || location.length === 0) return fail('redirect', `http ${status} without a location`, status);
        return finish({ location, status });
      }
      if (status !== 200) return fail('http_status', `http ${status} from the bundle endpoint`, status);
      const problem = contentProblem(res, maxBytes);
      if (problem !== undefined) return fail(problem.reason, problem.detail, 200);
      return readBody(res, maxBytes, (body) => (Buffer.isBuffer(body) ? finish(parseBody(body, p.trustDomain, url)) : fail(body.reason, body.detail, 200)));
    };
    const headers = { accept: 'application/json', 'accept-encoding': 'identity', 'user-agent': `parley/${VERSION}` };
    try {
      req = request(url, { ...p.tls, method: 'GET', agent: false, headers }, onResponse);
    } catch (err) {
      return fail('connect', `cannot start the request: ${(err as Error).message}`);
    }
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        if (phase === 'connect') phase = 'tls';
      });
      socket.once('secureConnect', () => {
        if (phase === 'tls') phase = 'request';
      });
    });
    req.on('error', (err) => {
      const { reason, detail } = classify(err, phase, p.certFailure);
      fail(reason, detail);
    });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end();
    return undefined;
  });
}

function contentProblem(res: IncomingMessage, maxBytes: number): { reason: FetchFailure; detail: string } | undefined {
  const encoding = res.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return { reason: 'wrong_content', detail: `unsupported content-encoding ${JSON.stringify(encoding.slice(0, 40))}` };
  }
  const type = res.headers['content-type'];
  if (type !== undefined) {
    const media = type.split(';')[0].trim().toLowerCase();
    if (!JSON_TYPES.has(media) && !media.endsWith('+json')) {
      return { reason: 'wrong_content', detail: `content-type ${JSON.stringify(media.slice(0, 60))} is not a json bundle` };
    }
  }
  const length = Number(res.headers['content-length']);
  if (Number.isFinite(length) && length > maxBytes) {
    return { reason: 'too_large', detail: `content-length ${length} exceeds the limit of ${maxBytes} bytes` };
  }
  return undefined;
}

/** Streams the body; stops reading as soon as it exceeds `maxBytes`. */
function readBody(res: IncomingMessage, maxBytes: number, done: (body: Buffer | { reason: FetchFailure; detail: string }) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const once = (body: Buffer | { reason: FetchFailure; detail: string }): void => {
    if (finished) return;
    finished = true;
    done(body);
  };
  res.on('data', (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > maxBytes) {
      once({ reason: 'too_large', detail: `body exceeds the limit of ${maxBytes} bytes` });
      return;
    }
    chunks.push(chunk);
  });
  res.on('end', () => once(Buffer.concat(chunks, size)));
  res.on('error', (err) => once({ reason: 'connect', detail: `connection failed while reading the body: ${err.message}` }));
  res.on('close', () => once({ reason: 'connect', detail: 'connection closed while reading the body' }));
}

function parseBody(body: Buffer, td: TrustDomain, url: string): FetchOutcome {
  try {
    const bundle = SpiffeBundle.parse(body, td);
    return { ok: true, bundle, url, skipped: bundle.skipped, httpStatus: 200 };
  } catch (err) {
    const detail = isSpiffeError(err) ? err.message : `cannot parse the bundle: ${(err as Error).message}`;
    return { ok: false, reason: 'invalid_bundle', detail, url, httpStatus: 200 };
  }
}

function classify(err: Error & { code?: string }, phase: Phase, certFailure: FetchFailure): { reason: FetchFailure; detail: string } {
  if (ParleyError.is(err)) return { reason: 'endpoint_identity', detail: `endpoint identity rejected: ${err.message}` };
  const code = err.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { reason: 'endpoint_identity', detail: `server certificate does not match the host: ${err.message}` };
  if (CERT_CODES.has(code)) return { reason: certFailure, detail: `server certificate not trusted (${code}): ${err.message}` };
  if (CONNECT_CODES.has(code)) return { reason: 'connect', detail: `cannot connect (${code})` };
  if (phase === 'tls') return { reason: 'tls', detail: `tls handshake failed${code ? ` (${code})` : ''}: ${err.message}` };
  if (phase === 'connect') return { reason: 'connect', detail: `cannot connect${code ? ` (${code})` : ''}: ${err.message}` };
  const when = phase === 'request' ? 'before a response' : 'while reading the response';
  return { reason: 'connect', detail: `connection failed ${when}${code ? ` (${code})` : ''}: ${err.message}` };
}
