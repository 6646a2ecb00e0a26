/**
 * The Workload API endpoint address (`SPIFFE_ENDPOINT_SOCKET`, CONFORMANCE §5):
 * `unix:///absolute/path` or `tcp://<ip>:<port>`.
 *
 * Stricter than go-spiffe: `unix://foo` (a host instead of an absolute path) is rejected,
 * since the SPIFFE Workload Endpoint spec requires an empty authority and an absolute path.
 * No percent-decoding is done; `%` is rejected in unix paths.
 */
import { isIP } from 'node:net';
import { SpiffeError } from './errors';

export type WorkloadEndpoint =
  | { readonly kind: 'unix'; readonly path: string; readonly target: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly target: string };

/**
 * Parses an endpoint address; `target` is the gRPC target string (`unix:///p`, `ip:port`).
 * @throws SpiffeError `invalid_workload_endpoint`
 */
export function parseWorkloadEndpoint(address: string): WorkloadEndpoint {
  if (typeof address !== 'string') throw invalid('address must be a string');
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) throw invalid('contains whitespace or control characters');
  }
  if (address.startsWith('unix:')) return parseUnix(address.slice('unix:'.length));
  if (address.startsWith('tcp:')) return parseTcp(address.slice('tcp:'.length));
  throw invalid('scheme must be "unix" or "tcp"');
}

function parseUnix(rest: string): WorkloadEndpoint {
  if (!rest.startsWith('//')) throw invalid('unix uri must not be opaque (use unix:///absolute/path)');
  const afterSlashes = rest.slice(2);
  checkNoQueryOrFragment(afterSlashes, 'unix');
  if (!afterSlashes.startsWith('/')) {
    if (afterSlashes.length === 0) throw invalid('unix uri must include a path');
    if (afterSlashes.includes('@')) throw invalid('unix uri must not include user info');
    throw invalid('unix uri must have an empty authority and an absolute path (unix:///path)');
  }
  const path = afterSlashes;
  if (path.length < 2) throw invalid('unix uri must include a path');
  if (path.includes('%')) throw invalid('unix uri path must not be percent-encoded');
  return Object.freeze({ kind: 'unix', path, target: `unix://${path}` });
}

function parseTcp(rest: string): WorkloadEndpoint {
  if (!rest.startsWith('//')) throw invalid('tcp uri must not be opaque');
  const authority = rest.slice(2);
  checkNoQueryOrFragment(authority, 'tcp');
  if (authority.length === 0) throw invalid('tcp uri must include a host');
  if (authority.includes('@')) throw invalid('tcp uri must not include user info');
  if (authority.includes('/')) throw invalid('tcp uri must not include a path');
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw invalid('tcp uri has an unterminated ipv6 literal');
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (!after.startsWith(':')) throw invalid('tcp uri host component must include a port');
    portText = after.slice(1);
    if (isIP(host) !== 6) throw invalid('tcp uri host must be an ip address');
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon < 0) {
      if (isIP(authority) === 0) throw invalid('tcp uri host component must be an ip:port (hostnames not allowed)');
      throw invalid('tcp uri host component must include a port');
    }
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (isIP(host) !== 4) throw invalid('tcp uri host component must be an ip:port (hostnames not allowed)');
  }
  const port = parsePort(portText);
  const target = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  return Object.freeze({ kind: 'tcp', host, port, target });
}

function parsePort(text: string): number {
  if (text.length === 0 || text.length > 5) throw invalid('tcp uri port must be 1-65535');
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw invalid('tcp uri port must be 1-65535');
  }
  const port = Number(text);
  if (port < 1 || port > 65535) throw invalid('tcp uri port must be 1-65535');
  return port;
}

function checkNoQueryOrFragment(s: string, scheme: string): void {
  if (s.includes('?')) throw invalid(`${scheme} uri must not include query values`);
  if (s.includes('#')) throw invalid(`${scheme} uri must not include a fragment`);
}

function invalid(why: string): SpiffeError {
  return new SpiffeError('invalid_workload_endpoint', `invalid workload endpoint address: ${why}`);
}
