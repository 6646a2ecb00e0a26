/**
 * The CLI's client for the admin REST API: HTTPS with our SVID (mTLS), the server checked
 * by SPIFFE ID like every other Parley client. Non-2xx answers become ParleyErrors that
 * carry the problem+json title, detail and field errors.
 */
import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { ParleyError, type ErrorCode } from '../common';
import { spiffeTlsConnectOptions } from '../tls';
import { assertSvidUsable, failureContext, loadClientMaterial, parseServerAddress, tlsServerName, type ClientIdentityOptions, type ClientMaterial } from './client-identity';
import type { FailureContext } from './domain/explain-failure';

export const DEFAULT_ADMIN_SERVER = '127.0.0.1:8444';

export interface AdminResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface AdminRequest {
  /** Query parameters; undefined values are left out, arrays repeat the key. */
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (with `contentType`). */
  rawBody?: string | Buffer;
  contentType?: string;
  accept?: string;
  timeoutMs?: number;
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  409: 'conflict',
  413: 'resource_exhausted',
  429: 'resource_exhausted',
  503: 'unavailable',
};

export class AdminClient {
  private constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly material: ClientMaterial,
  ) {}

  /** Loads the client identity (same flags as the store commands; `--server` is the admin address). */
  static async open(o: ClientIdentityOptions): Promise<AdminClient> {
    const { host, port } = parseServerAddress(o.server ?? DEFAULT_ADMIN_SERVER);
    const material = await loadClientMaterial(o);
    try {
      assertSvidUsable(material);
    } catch (err) {
      await material.close();
      throw err;
    }
    return new AdminClient(host, port, material);
  }

  /** What a failure explanation needs to know of this client. */
  get context(): FailureContext {
    return failureContext(this.material, 'admin', `${this.host}:${this.port}`);
  }

  close(): Promise<void> {
    return this.material.close();
  }

  /** One request; resolves for every HTTP status (see `call` for the throwing variant). */
  send(method: string, path: string, r: AdminRequest = {}): Promise<AdminResponse> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(r.query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) search.append(k, String(item));
      else search.append(k, String(v));
    }
    const qs = search.toString();
    const tls = spiffeTlsConnectOptions({
      svid: { certChainPem: this.material.svid.certChainPem(), keyPem: this.material.svid.privateKeyPem() },
      trust: this.material.trust,
      server: this.material.server,
    });
    const payload = r.rawBody ?? (r.body === undefined ? undefined : JSON.stringify(r.body));
    const headers: Record<string, string> = { accept: r.accept ?? 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = r.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...tls,
          host: this.host.replace(/^\[|\]$/g, ''),
          port: this.port,
          servername: tlsServerName(this.host, this.material.server),
          method,
          path: qs === '' ? path : `${path}?${qs}`,
          headers,
          timeout: r.timeoutMs ?? 30_000,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new ParleyError('timeout', `admin api: no answer from ${this.host}:${this.port} in time`)));
      req.on('error', (err) => reject(err instanceof ParleyError ? err : new ParleyError('unavailable', `admin api: ${this.host}:${this.port}: ${err.message || ((err as NodeJS.ErrnoException).code ?? 'connection failed')}`, { cause: err })));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Like `send`, but a non-2xx status throws a ParleyError describing the problem. */
  async call(method: string, path: string, r: AdminRequest = {}): Promise<AdminResponse> {
    const res = await this.send(method, path, r);
    if (res.status >= 200 && res.status < 300) return res;
    throw problemError(res);
  }

  /** `call` and parse the JSON body. */
  async json<T>(method: string, path: string, r: AdminRequest = {}): Promise<T> {
    const res = await this.call(method, path, r);
    if (res.status === 204 || res.body === '') return undefined as T;
    try {
      return JSON.parse(res.body) as T;
    } catch {
      throw new ParleyError('internal', `admin api: ${method} ${path}: the answer is not JSON`);
    }
  }
}

/** A readable error from a problem+json (or any) non-2xx answer. */
export function problemError(res: AdminResponse): ParleyError {
  let text = `HTTP ${res.status}`;
  try {
    const p = JSON.parse(res.body) as { title?: string; detail?: string; errors?: Array<{ field?: string; message?: string }> };
    const errors = Array.isArray(p.errors) ? p.errors.map((e) => `${e.field ?? '?'}: ${e.message ?? ''}`) : [];
    // The detail ends with the field errors joined by "; " (what gRPC clients get): listed below instead.
    const joined = `: ${errors.join('; ')}`;
    const detail = typeof p.detail === 'string' && errors.length > 0 && p.detail.endsWith(joined) ? p.detail.slice(0, -joined.length) : p.detail;
    text = [p.title, detail].filter((x) => typeof x === 'string' && x !== '').join(': ') || text;
    if (errors.length > 0) text += '\n' + errors.map((e) => `  ${e}`).join('\n');
  } catch {
    // not JSON: the status says it
  }
  return new ParleyError(STATUS_CODES[res.status] ?? 'internal', `admin api: ${text}`);
}
