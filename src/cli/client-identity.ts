/**
 * Client identity for CLI commands that call a gateway: an X509-SVID and the server's trust
 * bundle from PEM files, or both from the SPIFFE Workload API; plus which server identity
 * to accept. Error messages name files and reasons, never key material.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { ParleyError } from '../common';
import { WorkloadApiSource } from '../identity';
import { BundleSet, parseX509Svid, SpiffeId, TrustDomain, X509Bundle, type X509Svid } from '../spiffe';
import { spiffeChannelCredentials, type ClientTrust, type ExpectedServer } from '../tls';

export const DEFAULT_SERVER = '127.0.0.1:8443';

export interface ClientIdentityOptions {
  svid?: string;
  key?: string;
  bundle?: string;
  workloadApi?: string;
  server?: string;
  serverId?: string;
  serverTrustDomain?: string;
}

export interface ClientConnection {
  /** host:port */
  address: string;
  credentials: grpc.ChannelCredentials;
  /** Channel options the connection needs (TLS server name when the host is an IP address). */
  channelOptions: grpc.ChannelOptions;
  /** Our SPIFFE ID. */
  id: SpiffeId;
  close(): Promise<void>;
}

/** Adds --svid/--key/--bundle, --workload-api, --server, --server-id, --server-trust-domain. */
export function withClientIdentityOptions(cmd: Command, defaultServer = DEFAULT_SERVER, what = 'gateway gRPC address'): Command {
  return cmd
    .option('--server <host:port>', `${what} (default: ${defaultServer})`)
    .option('--server-id <spiffe-id>', 'accept exactly this gateway SPIFFE ID')
    .option('--server-trust-domain <td>', 'accept any gateway of this trust domain (default: our own trust domain)')
    .option('--svid <file>', 'our X509-SVID certificate chain (PEM), e.g. from `parley dev issue`')
    .option('--key <file>', 'private key of --svid (PKCS#8 PEM)')
    .option('--bundle <file>', "trust bundle (PEM) of the server's trust domain")
    .option('--workload-api <address>', 'get SVID and bundles from the SPIFFE Workload API (unix:///path; default: $SPIFFE_ENDPOINT_SOCKET when no files are given)');
}

function readFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new ParleyError('invalid_argument', `${flag}: cannot read ${path}: ${why}`);
  }
}

function parseTd(flag: string, value: string): TrustDomain {
  try {
    return TrustDomain.parse(value);
  } catch (err) {
    throw new ParleyError('invalid_argument', `${flag}: ${err instanceof Error ? err.message : 'invalid trust domain'}`);
  }
}

/** The server identity to accept: --server-id, else --server-trust-domain, else our own trust domain. */
export function expectedServer(o: ClientIdentityOptions, own: TrustDomain): ExpectedServer {
  if (o.serverId !== undefined && o.serverTrustDomain !== undefined) {
    throw new ParleyError('invalid_argument', '--server-id and --server-trust-domain: give one, not both');
  }
  if (o.serverId !== undefined) {
    try {
      return { id: SpiffeId.parse(o.serverId) };
    } catch (err) {
      throw new ParleyError('invalid_argument', `--server-id: ${err instanceof Error ? err.message : 'invalid SPIFFE ID'}`);
    }
  }
  return { memberOf: o.serverTrustDomain !== undefined ? parseTd('--server-trust-domain', o.serverTrustDomain) : own };
}

function serverTrustDomain(server: ExpectedServer): TrustDomain {
  return 'id' in server ? server.id.trustDomain : server.memberOf;
}

/** Splits and checks host:port (IPv6 as [::1]:port). */
export function parseServerAddress(value: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw new ParleyError('invalid_argument', `--server: expected host:port, got "${value}"`);
  return { host: m[1], port };
}

/** A loaded client identity: our SVID, the trust to check the server with, and which server to accept. */
export interface ClientMaterial {
  svid: X509Svid;
  trust: ClientTrust;
  server: ExpectedServer;
  close(): Promise<void>;
}

/**
 * Loads our SVID and the server's bundle from files or the Workload API, and which server
 * identity to accept. With no files and no --workload-api, $SPIFFE_ENDPOINT_SOCKET is used.
 */
export async function loadClientMaterial(o: ClientIdentityOptions): Promise<ClientMaterial> {
  const files = [o.svid, o.key, o.bundle].filter((f) => f !== undefined).length;
  let svid: X509Svid;
  let trust: ClientTrust;
  let server: ExpectedServer;
  let close = async () => undefined as void;

  if (files > 0 || o.workloadApi === undefined) {
    if (files > 0 && o.workloadApi !== undefined) throw new ParleyError('invalid_argument', '--workload-api cannot be combined with --svid/--key/--bundle');
    if (files === 0 && !process.env.SPIFFE_ENDPOINT_SOCKET) {
      throw new ParleyError('invalid_argument', 'no client identity: give --svid, --key and --bundle, or --workload-api (or set SPIFFE_ENDPOINT_SOCKET)');
    }
  }
  if (files > 0) {
    if (o.svid === undefined || o.key === undefined || o.bundle === undefined) {
      throw new ParleyError('invalid_argument', `--svid, --key and --bundle go together (missing ${[!o.svid && '--svid', !o.key && '--key', !o.bundle && '--bundle'].filter(Boolean).join(', ')})`);
    }
    const certs = readFile('--svid', o.svid);
    const key = readFile('--key', o.key);
    try {
      svid = parseX509Svid(certs, key);
    } catch (err) {
      throw new ParleyError('invalid_argument', `--svid/--key: ${o.svid}, ${o.key}: ${err instanceof Error ? err.message : 'invalid x509-svid'}`);
    }
    server = expectedServer(o, svid.id.trustDomain);
    const td = serverTrustDomain(server);
    let bundle: X509Bundle;
    try {
      bundle = X509Bundle.parse(td, readFile('--bundle', o.bundle));
    } catch (err) {
      if (err instanceof ParleyError) throw err;
      throw new ParleyError('invalid_argument', `--bundle: ${o.bundle}: ${err instanceof Error ? err.message : 'invalid bundle'}`);
    }
    if (bundle.size === 0) throw new ParleyError('invalid_argument', `--bundle: ${o.bundle}: no certificates`);
    trust = new BundleSet([bundle]);
  } else {
    const source = new WorkloadApiSource({ address: o.workloadApi, startTimeoutMs: 10_000 });
    const snapshot = await source.start();
    close = () => source.stop();
    svid = snapshot.svid;
    trust = snapshot.bundles;
    server = expectedServer(o, snapshot.trustDomain);
    if (trust.getX509Authorities(serverTrustDomain(server)) === undefined) {
      await close();
      throw new ParleyError('invalid_argument', `workload api: no bundle for the server's trust domain ${serverTrustDomain(server).name}`);
    }
  }
  return { svid, trust, server, close };
}

/** The name to send as TLS server name: SVIDs carry no DNS names and TLS forbids IP addresses, so an IP host gets the trust domain. */
export function tlsServerName(host: string, server: ExpectedServer): string | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) !== 0 ? serverTrustDomain(server).name : undefined;
}

/**
 * Loads the identity and builds channel credentials that present our SVID and accept only
 * the expected server. With no files and no --workload-api, $SPIFFE_ENDPOINT_SOCKET is used.
 */
export async function openClientIdentity(o: ClientIdentityOptions): Promise<ClientConnection> {
  const address = o.server ?? DEFAULT_SERVER;
  const { host } = parseServerAddress(address);
  const { svid, trust, server, close } = await loadClientMaterial(o);
  const credentials = spiffeChannelCredentials({ svid: { certChainPem: svid.certChainPem(), keyPem: svid.privateKeyPem() }, trust, server });
  const name = tlsServerName(host, server);
  const channelOptions: grpc.ChannelOptions = name !== undefined ? { 'grpc.ssl_target_name_override': name } : {};
  return { address, credentials, channelOptions, id: svid.id, close };
}
