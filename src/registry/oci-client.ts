import * as http from 'node:http';
import * as https from 'node:https';
import { bearerChallenge, nextLink } from './domain/oci-headers';
import type { OciSecret, OciSourceSpec } from '../sync';
import type { Descriptor } from './domain/oci-mapping';
import { DigestMismatch, MANIFEST_ACCEPT, parseSourceManifest, referrersOf, referrersTagOf, type SourceManifest } from './domain/oci-source-manifest';

/** Why a registry call failed; the sync reports it as a failure reason. Messages never carry a credential. */
export class OciSourceError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'unauthenticated' | 'denied' | 'not_found' | 'digest_mismatch' | 'protocol' | 'timeout',
    message: string,
  ) {
    super(message);
    this.name = 'OciSourceError';
  }
}

export interface OciClientOptions {
  readonly source: OciSourceSpec;
  readonly secret?: OciSecret;
  /** A request the registry sends nothing on for this long is cut (timeout). Default 60 s. */
  readonly idleMs?: number;
  readonly signal?: AbortSignal;
  /** Largest manifest or referrer document read. Default 4 MiB. */
  readonly maxDocumentBytes?: number;
}

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
}

const MAX_REDIRECTS = 5;
const TAG_PAGE = 100;

/**
 * A client of one repository of an OCI Distribution registry: the /v2/ ping, the token flow
 * (a 401 with `WWW-Authenticate: Bearer realm,service,scope` → a token from the realm, with
 * the basic credentials if any → the request again with it), tags paged by `Link`, manifests
 * checked against their digest, blobs streamed (redirects followed, credentials never sent to
 * another origin), and referrers (the API, else the referrers tag schema).
 */
export class OciClient {
  private token: string | undefined;
  private readonly agent: http.Agent;
  private readonly base: string;

  constructor(private readonly o: OciClientOptions) {
    this.base = o.source.url;
    this.agent = o.source.url.startsWith('https:') ? new https.Agent({ keepAlive: true, ...(o.source.caPem === undefined ? {} : { ca: o.source.caPem }) }) : new http.Agent({ keepAlive: true });
    if (o.secret !== undefined && 'token' in o.secret) this.token = o.secret.token;
  }

  close(): void {
    this.agent.destroy();
  }

  private get repo(): string {
    return this.o.source.repository;
  }

  /** GET /v2/: the registry speaks the Distribution API and takes our credentials. */
  async ping(): Promise<void> {
    const r = await this.authorized('GET', '/v2/');
    r.body.resume();
    if (r.status !== 200) throw this.statusError(r.status, 'ping /v2/');
  }

  /** Every tag, following `Link: <…>; rel="next"`. */
  async tags(): Promise<string[]> {
    const out: string[] = [];
    let path: string | undefined = `/v2/${this.repo}/tags/list?n=${TAG_PAGE}`;
    for (let pages = 0; path !== undefined && pages < 10_000; pages++) {
      const r = await this.authorized('GET', path);
      if (r.status === 404) return (r.body.resume(), out);
      if (r.status !== 200) throw (r.body.resume(), this.statusError(r.status, `tags of ${this.repo}`));
      const doc = JSON.parse((await this.read(r.body)).toString('utf8')) as { tags?: unknown };
      if (Array.isArray(doc.tags)) for (const t of doc.tags) if (typeof t === 'string') out.push(t);
      path = nextLink(header(r.headers, 'link'), `${this.base}${path}`);
    }
    return out;
  }

  /** A manifest by tag or digest, its digest checked. */
  async manifest(reference: string): Promise<SourceManifest & { bytes: Buffer }> {
    const r = await this.authorized('GET', `/v2/${this.repo}/manifests/${reference}`, { Accept: MANIFEST_ACCEPT });
    if (r.status !== 200) throw (r.body.resume(), this.statusError(r.status, `manifest ${this.repo}:${reference}`));
    const bytes = await this.read(r.body);
    try {
      const parsed = parseSourceManifest(bytes, header(r.headers, 'content-type'), { ...(reference.startsWith('sha256:') ? { requested: reference } : {}), ...(header(r.headers, 'docker-content-digest') === undefined ? {} : { header: header(r.headers, 'docker-content-digest')! }) });
      return { ...parsed, bytes };
    } catch (err) {
      if (err instanceof DigestMismatch) throw new OciSourceError('digest_mismatch', `${this.repo}:${reference}: ${err.message}`);
      throw new OciSourceError('protocol', `${this.repo}:${reference}: ${(err as Error).message}`);
    }
  }

  /** A blob's bytes from `offset` (a Range request; a registry that ignores it has the head skipped here). */
  async *blob(digest: string, offset = 0): AsyncIterable<Buffer> {
    const r = await this.authorized('GET', `/v2/${this.repo}/blobs/${digest}`, offset > 0 ? { Range: `bytes=${offset}-` } : {});
    if (r.status !== 200 && r.status !== 206) throw (r.body.resume(), this.statusError(r.status, `blob ${digest}`));
    let skip = r.status === 200 ? offset : 0;
    for await (const piece of this.idle(r.body, `blob ${digest}`)) {
      if (skip >= piece.length) {
        skip -= piece.length;
        continue;
      }
      yield skip > 0 ? piece.subarray(skip) : piece;
      skip = 0;
    }
  }

  /** A small blob (a config, a referrer's document), whole. */
  async smallBlob(digest: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const part of this.blob(digest)) {
      size += part.length;
      if (size > (this.o.maxDocumentBytes ?? 4 << 20)) throw new OciSourceError('protocol', `blob ${digest}: larger than a document may be`);
      parts.push(part);
    }
    return Buffer.concat(parts);
  }

  /**
   * The referrers of a manifest: the referrers API, else (a 404: the registry has none) the
   * referrers tag schema. `api` says which answered.
   */
  async referrers(digest: string): Promise<{ api: boolean; referrers: Descriptor[] }> {
    const r = await this.authorized('GET', `/v2/${this.repo}/referrers/${digest}`, { Accept: 'application/vnd.oci.image.index.v1+json' });
    if (r.status === 200) return { api: true, referrers: this.index(await this.read(r.body), digest) };
    r.body.resume();
    if (r.status !== 404) throw this.statusError(r.status, `referrers of ${digest}`);
    const t = await this.authorized('GET', `/v2/${this.repo}/manifests/${referrersTagOf(digest)}`, { Accept: 'application/vnd.oci.image.index.v1+json' });
    if (t.status === 404) return (t.body.resume(), { api: false, referrers: [] });
    if (t.status !== 200) throw (t.body.resume(), this.statusError(t.status, `referrers tag of ${digest}`));
    return { api: false, referrers: this.index(await this.read(t.body), digest) };
  }

  private index(bytes: Buffer, digest: string): Descriptor[] {
    try {
      return referrersOf(bytes, digest);
    } catch (err) {
      throw new OciSourceError('protocol', (err as Error).message);
    }
  }

  /** A request with the credentials the registry asks for: once as is, again after a 401 with a token from its realm. */
  private async authorized(method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
    const first = await this.send(method, `${this.base}${path}`, { ...headers, ...this.authHeader() });
    if (first.status !== 401) return first;
    first.body.resume();
    const bearer = bearerChallenge(header(first.headers, 'www-authenticate'));
    // A static token refused, basic credentials refused, or no credentials where basic is asked for: nothing else to try.
    if (bearer === undefined || (this.o.secret !== undefined && 'token' in this.o.secret)) throw this.statusError(401, path);
    this.token = await this.fetchToken(bearer);
    const again = await this.send(method, `${this.base}${path}`, { ...headers, ...this.authHeader() });
    if (again.status === 401) throw (again.body.resume(), this.statusError(401, path));
    return again;
  }

  /** Bearer with a token held; else basic with the password (registries with htpasswd take it at once). */
  private authHeader(): Record<string, string> {
    if (this.token !== undefined) return { Authorization: `Bearer ${this.token}` };
    return this.basic();
  }

  private basic(): Record<string, string> {
    const s = this.o.secret;
    return s !== undefined && 'password' in s ? { Authorization: `Basic ${Buffer.from(`${this.o.source.username ?? ''}:${s.password}`).toString('base64')}` } : {};
  }

  /** The token flow's GET of a token from the realm, with the basic credentials when there are. */
  private async fetchToken(c: { realm: string; service?: string; scope?: string }): Promise<string> {
    let url: URL;
    try {
      url = new URL(c.realm);
    } catch {
      throw new OciSourceError('protocol', 'the registry named a token realm that is not a URL');
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.o.source.insecure && url.origin === this.base)) throw new OciSourceError('protocol', `token realm ${url.origin}: must be https`);
    if (c.service !== undefined) url.searchParams.set('service', c.service);
    url.searchParams.set('scope', c.scope ?? `repository:${this.repo}:pull`);
    const r = await this.send('GET', url.toString(), this.basic());
    if (r.status === 401 || r.status === 403) throw (r.body.resume(), new OciSourceError('unauthenticated', `token from ${url.origin}${url.pathname}: refused (${r.status}); check the source's credentials`));
    if (r.status !== 200) throw (r.body.resume(), this.statusError(r.status, `token from ${url.origin}${url.pathname}`));
    const doc = JSON.parse((await this.read(r.body)).toString('utf8')) as { token?: unknown; access_token?: unknown };
    const token = typeof doc.token === 'string' && doc.token !== '' ? doc.token : doc.access_token;
    if (typeof token !== 'string' || token === '') throw new OciSourceError('protocol', `token from ${url.origin}${url.pathname}: no token in the answer`);
    return token;
  }

  /** One HTTP exchange, redirects followed (the Authorization header only to the registry's own origin). */
  private async send(method: string, target: string, headers: Record<string, string>): Promise<Reply> {
    let url = new URL(target);
    for (let hops = 0; ; hops++) {
      const r = await this.exchange(method, url, url.origin === new URL(this.base).origin || hops === 0 ? headers : withoutAuth(headers));
      const location = header(r.headers, 'location');
      if (![301, 302, 303, 307, 308].includes(r.status) || location === undefined) return r;
      r.body.resume();
      if (hops >= MAX_REDIRECTS) throw new OciSourceError('protocol', `${url.pathname}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && !(next.protocol === 'http:' && url.protocol === 'http:')) throw new OciSourceError('protocol', `${url.pathname}: redirected from https to ${next.protocol}`);
      url = next;
    }
  }

  private exchange(method: string, url: URL, headers: Record<string, string>): Promise<Reply> {
    const lib = url.protocol === 'https:' ? https : http;
    const sameOrigin = url.origin === this.base;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, headers: { 'User-Agent': 'parley-sync', ...headers }, ...(sameOrigin ? { agent: this.agent } : {}), ...(this.o.signal === undefined ? {} : { signal: this.o.signal }) }, (res) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.setTimeout(this.o.idleMs ?? 60_000, () => req.destroy(new OciSourceError('timeout', `${url.origin}${url.pathname}: no answer for ${this.o.idleMs ?? 60_000} ms`)));
      req.on('error', (err) => reject(this.transportError(err, url)));
      req.end();
    });
  }

  private async *idle(body: http.IncomingMessage, what: string): AsyncIterable<Buffer> {
    body.setTimeout(this.o.idleMs ?? 60_000, () => body.destroy(new OciSourceError('timeout', `${what}: the registry sent nothing for ${this.o.idleMs ?? 60_000} ms; the transfer resumes from what was staged`)));
    try {
      for await (const piece of body as AsyncIterable<Buffer>) yield piece;
    } catch (err) {
      throw err instanceof OciSourceError ? err : new OciSourceError('unreachable', `${what}: the connection broke: ${(err as Error).message}`);
    }
  }

  private async read(body: http.IncomingMessage): Promise<Buffer> {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const piece of this.idle(body, 'response')) {
      size += piece.length;
      if (size > (this.o.maxDocumentBytes ?? 4 << 20)) throw (body.destroy(), new OciSourceError('protocol', 'a registry response larger than a document may be'));
      parts.push(piece);
    }
    return Buffer.concat(parts);
  }

  private transportError(err: Error, url: URL): OciSourceError {
    if (err instanceof OciSourceError) return err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return new OciSourceError('unreachable', `${url.origin}: its certificate is not trusted (${code}); give the source's CA`);
    return new OciSourceError('unreachable', `${url.origin}: ${code || err.message}`);
  }

  private statusError(status: number, what: string): OciSourceError {
    if (status === 401) return new OciSourceError('unauthenticated', `${what}: the registry refused the credentials (401)`);
    if (status === 403) return new OciSourceError('denied', `${what}: the registry denied access (403)`);
    if (status === 404) return new OciSourceError('not_found', `${what}: not found (404)`);
    if (status === 429 || status >= 500) return new OciSourceError('unreachable', `${what}: the registry answered ${status}`);
    return new OciSourceError('protocol', `${what}: the registry answered ${status}`);
  }
}

function header(h: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function withoutAuth(headers: Record<string, string>): Record<string, string> {
  const { Authorization: _dropped, ...rest } = headers;
  return rest;
}
