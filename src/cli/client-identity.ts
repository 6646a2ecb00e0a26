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
import { BundleSet, parseX509Svid, SpiffeId, TrustDomain, X509Bundle, type X509Svid } from '../spiffe';
import { spiffeChannelCredentials, type ClientTrust, type ExpectedServer } from '../tls';
import { svidValidityProblem, type FailureContext } from './domain/explain-failure';
import { resolveIdentitySource, type IdentityEnv } from './domain/identity-source';

export const DEFAULT_SERVER = '127.0.0.1:8443';

export interface ClientIdentityOptions {
  identity?: string;
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
  /** For explaining a failed call. */
  context: FailureContext;
  close(): Promise<void>;
}

/** Adds --identity, --svid/--key/--bundle, --workload-api, --server, --server-id, --server-trust-domain. */
export function withClientIdentityOptions(cmd: Command, defaultServer = DEFAULT_SERVER, what = 'gateway gRPC address'): Command {
  return cmd
    .option('--server <host:port>', `${what} (default: ${defaultServer})`)
    .option('--server-id <spiffe-id>', 'accept exactly this gateway SPIFFE ID')
    .option('--server-trust-domain <td>', 'accept any gateway of this trust domain (default: our own trust domain)')
    .option('--identity <dir>', 'directory with svid.pem, svid.key and bundle.pem, as `parley dev issue --out DIR` writes (default: $PARLEY_IDENTITY)')
    .option('--svid <file>', 'our X509-SVID certificate chain (PEM); overrides DIR/svid.pem')
    .option('--key <file>', 'private key of --svid (PKCS#8 PEM); overrides DIR/svid.key')
    .option('--bundle <file>', "trust bundle (PEM) of the server's trust domain; overrides DIR/bundle.pem")
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
  /** What named the identity (for messages): "--identity DIR", "SPIFFE_ENDPOINT_SOCKET=…". */
  from: string;
  /** Where the server's trust bundle came from. */
  bundleFrom: string;
  /** --server-id or --server-trust-domain was given. */
  serverChosen: boolean;
  close(): Promise<void>;
}

/**
 * Loads our SVID and the server's bundle from files (--svid/--key/--bundle, --identity DIR,
 * $PARLEY_IDENTITY) or the Workload API (--workload-api, $SPIFFE_ENDPOINT_SOCKET), and which
 * server identity to accept. Validity times are not checked here (see `assertSvidUsable`).
 */
export async function loadClientMaterial(o: ClientIdentityOptions, env: IdentityEnv = process.env): Promise<ClientMaterial> {
  const resolved = resolveIdentitySource(o, env);
  if (!resolved.ok) throw new ParleyError('invalid_argument', resolved.message);
  const source = resolved.source;
  const serverChosen = o.serverId !== undefined || o.serverTrustDomain !== undefined;
  if (source.kind === 'files') {
    const certs = readFile('--svid', source.svid);
    const key = readFile('--key', source.key);
    let svid: X509Svid;
    try {
      svid = parseX509Svid(certs, key);
    } catch (err) {
      throw new ParleyError('invalid_argument', `--svid/--key: ${source.svid}, ${source.key}: ${err instanceof Error ? err.message : 'invalid x509-svid'}`);
    }
    const server = expectedServer(o, svid.id.trustDomain);
    const td = serverTrustDomain(server);
    let bundle: X509Bundle;
    try {
      bundle = X509Bundle.parse(td, readFile('--bundle', source.bundle));
    } catch (err) {
      if (err instanceof ParleyError) throw err;
      throw new ParleyError('invalid_argument', `--bundle: ${source.bundle}: ${err instanceof Error ? err.message : 'invalid bundle'}`);
    }
    if (bundle.size === 0) throw new ParleyError('invalid_argument', `--bundle: ${source.bundle}: no certificates`);
    return { svid, trust: new BundleSet([bundle]), server, from: source.from, bundleFrom: `--bundle ${source.bundle}`, serverChosen, close: async () => undefined };
  }
  // Loaded only when a Workload API is used: the identity context brings NestJS with it.
  const { WorkloadApiSource } = await import('../identity');
  const wl = new WorkloadApiSource({ address: source.address, startTimeoutMs: 10_000 });
  const snapshot = await wl.start();
  const close = () => wl.stop();
  const server = expectedServer(o, snapshot.trustDomain);
  if (snapshot.bundles.getX509Authorities(serverTrustDomain(server)) === undefined) {
    await close();
    throw new ParleyError('invalid_argument', `workload api: no bundle for the server's trust domain ${serverTrustDomain(server).name}`);
  }
  return { svid: snapshot.svid, trust: snapshot.bundles, server, from: source.from, bundleFrom: `the Workload API (${source.from})`, serverChosen, close };
}

/** Fails before any connection when our own SVID is expired or not yet valid: the gateway would only reset the connection. */
export function assertSvidUsable(m: Pick<ClientMaterial, 'svid' | 'from'>, now = new Date()): void {
  const problem = svidValidityProblem({ id: m.svid.id.toString(), notBefore: new Date(m.svid.leaf.validFrom), notAfter: m.svid.notAfter, from: m.from }, now);
  if (problem !== undefined) throw new ParleyError('unauthenticated', problem);
}

/** What the failure explanations need to know of this client. */
export function failureContext(m: ClientMaterial, api: FailureContext['api'], address: string): FailureContext {
  return { api, address, ownId: m.svid.id.toString(), ownTrustDomain: m.svid.id.trustDomain.name, bundleFrom: m.bundleFrom, serverChosen: m.serverChosen };
}

/** The name to send as TLS server name: SVIDs carry no DNS names and TLS forbids IP addresses, so an IP host gets the trust domain. */
export function tlsServerName(host: string, server: ExpectedServer): string | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) !== 0 ? serverTrustDomain(server).name : undefined;
}

/**
 * Loads the identity and builds channel credentials that present our SVID and accept only
 * the expected server; refuses an expired (or not yet valid) SVID before connecting.
 */
export async function openClientIdentity(o: ClientIdentityOptions): Promise<ClientConnection> {
  const address = o.server ?? DEFAULT_SERVER;
  const { host } = parseServerAddress(address);
  const material = await loadClientMaterial(o);
  const { svid, trust, server, close } = material;
  try {
    assertSvidUsable(material);
  } catch (err) {
    await close();
    throw err;
  }
  const credentials = spiffeChannelCredentials({ svid: { certChainPem: svid.certChainPem(), keyPem: svid.privateKeyPem() }, trust, server });
  const name = tlsServerName(host, server);
  const channelOptions: grpc.ChannelOptions = name !== undefined ? { 'grpc.ssl_target_name_override': name } : {};
  return { address, credentials, channelOptions, id: svid.id, context: failureContext(material, 'grpc', address), close };
}
