/** A test gateway's admin HTTPS API over real mTLS, reached as an operator would. */
import type { DevCa } from '../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId } from '../../src/spiffe';
import type { TestGateway } from './gateway';
import { httpsRequest, type ClientCreds, type HttpsReply, type HttpsRequestOptions } from './https-client';

export interface Creds {
  certPem: string;
  keyPem: string;
}

/** An SVID for `id` from the dev CA, as the PEMs a client presents. */
export async function issueCreds(ca: DevCa, id: string): Promise<Creds> {
  const issued = await ca.issue(requireSpiffeId(id));
  return { certPem: issued.certPem, keyPem: issued.keyPem };
}

/** The default admin SPIFFE ID of the gateway's trust domain. */
export function adminIdOf(gw: TestGateway): string {
  return `spiffe://${gw.config.identity.trustDomain}/parley/admin`;
}

/** One request to the gateway's admin API over mTLS as `who`; the server must present the gateway's own SPIFFE ID. */
export function adminRequest(gw: TestGateway, ca: DevCa, who: ClientCreds, method: string, path: string, o?: HttpsRequestOptions): Promise<HttpsReply> {
  const serverId = `spiffe://${gw.config.identity.trustDomain}/parley/gateway`;
  return httpsRequest(method, `https://127.0.0.1:${gw.gateway.listeners.admin!.port}${path}`, ca.bundlePem(), who, serverId, o);
}
