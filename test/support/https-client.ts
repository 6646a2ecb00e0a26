import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';

export interface ClientCreds {
  certPem?: string;
  keyPem?: string;
}

/** An HTTPS GET with an optional client SVID; trusts `caPem` and checks the server's SPIFFE ID (no DNS names in SVIDs). */
export function httpsGet(url: string, caPem: string, client: ClientCreds, expectServerId?: string): Promise<{ status: number; body: string; contentType?: string }> {
  return httpsRequest('GET', url, caPem, client, expectServerId);
}

/** Like httpsGet, for any method. */
export function httpsRequest(method: string, url: string, caPem: string, client: ClientCreds, expectServerId?: string): Promise<{ status: number; body: string; contentType?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: caPem,
        cert: client.certPem,
        key: client.keyPem,
        timeout: 5000,
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
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, contentType: res.headers['content-type'] }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
