import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';

export interface ClientCreds {
  certPem?: string;
  keyPem?: string;
}

export interface HttpsReply {
  status: number;
  contentType?: string;
  body: string;
}

export interface HttpsRequestOptions {
  /** Sent as a JSON body (content-type application/json unless `headers` set one). */
  json?: unknown;
  /** Sent as the body as is (bytes too, e.g. invalid UTF-8); wins over `json`. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** An HTTPS GET with an optional client SVID; trusts `caPem` and checks the server's SPIFFE ID (no DNS names in SVIDs). */
export function httpsGet(url: string, caPem: string, client: ClientCreds, expectServerId?: string): Promise<HttpsReply> {
  return httpsRequest('GET', url, caPem, client, expectServerId);
}

/** Like httpsGet, for any method, with an optional body and headers; one fresh connection per request. */
export function httpsRequest(method: string, url: string, caPem: string, client: ClientCreds, expectServerId?: string, o: HttpsRequestOptions = {}): Promise<HttpsReply> {
  const payload = o.raw ?? (o.json === undefined ? undefined : JSON.stringify(o.json));
  const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
  for (const [name, value] of Object.entries(o.headers ?? {})) headers[name.toLowerCase()] = value;
  if (headers['transfer-encoding'] === 'chunked') delete headers['content-length'];
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers,
        ca: caPem,
        cert: client.certPem,
        key: client.keyPem,
        agent: false,
        timeout: o.timeoutMs ?? 5000,
        checkServerIdentity: (_host, cert) => {
          if (!expectServerId) return undefined;
          const uri = new X509Certificate(cert.raw).subjectAltName;
          return uri === `URI:${expectServerId}` ? undefined : new Error(`unexpected server identity ${uri}`);
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}
