/**
 * RFC 5280 §4.2.1.10 name constraints, for the name forms a SPIFFE chain carries: URI SANs
 * (matched on their host, which for a SPIFFE ID is the trust domain) and DNS SANs.
 * Fails closed: a constraint of any other form (IP, email, directory name, …) or with
 * minimum/maximum, or a URI whose host cannot be determined, is a violation.
 *
 * URI matching is conservative in both directions: a permitted subtree `example.org` admits
 * only the host `example.org` (RFC 5280 reading; `.example.org` admits subdomains only),
 * while an excluded subtree `example.org` excludes the host and its subdomains (the broader
 * reading used by Go). A name passes only if both readings would let it through.
 */
import { CertInfo, NameConstraintsInfo, Subtree } from './x509-parse';

/** Returns why the names of `subordinates` violate `nc`, or `undefined` if they do not. */
export function nameConstraintViolation(nc: NameConstraintsInfo, subordinates: readonly CertInfo[]): string | undefined {
  for (const subtree of [...nc.permitted, ...nc.excluded]) {
    if (subtree.kind === 'unsupported') return `unsupported name constraint: ${subtree.what}`;
  }
  const permittedUri = nc.permitted.filter(isKind('uri'));
  const excludedUri = nc.excluded.filter(isKind('uri'));
  const permittedDns = nc.permitted.filter(isKind('dns'));
  const excludedDns = nc.excluded.filter(isKind('dns'));
  for (const cert of subordinates) {
    if (permittedUri.length > 0 || excludedUri.length > 0) {
      for (const uri of cert.uris) {
        const host = uriHost(uri);
        if (host === undefined) return `uri san ${JSON.stringify(uri)} has no host to check against name constraints`;
        if (permittedUri.length > 0 && !permittedUri.some((c) => matchDomain(host, c.value, false))) {
          return `uri san ${JSON.stringify(uri)} is not within the permitted subtrees`;
        }
        if (excludedUri.some((c) => matchDomain(host, c.value, true))) {
          return `uri san ${JSON.stringify(uri)} is within an excluded subtree`;
        }
      }
    }
    if (permittedDns.length > 0 || excludedDns.length > 0) {
      for (const dns of cert.dnsNames) {
        const name = dns.toLowerCase();
        if (permittedDns.length > 0 && !permittedDns.some((c) => matchDomain(name, c.value, true))) {
          return `dns san ${JSON.stringify(dns)} is not within the permitted subtrees`;
        }
        if (excludedDns.some((c) => matchDomain(name, c.value, true))) {
          return `dns san ${JSON.stringify(dns)} is within an excluded subtree`;
        }
      }
    }
  }
  return undefined;
}

function isKind(kind: 'uri' | 'dns') {
  return (s: Subtree): s is { kind: 'uri' | 'dns'; value: string } => s.kind === kind;
}

/**
 * `host` (lowercase) against a domain constraint. A leading dot means "proper subdomains
 * only". Without it the constraint matches the host itself, and its subdomains when
 * `subdomains` is true. An empty constraint matches everything.
 */
export function matchDomain(host: string, constraint: string, subdomains: boolean): boolean {
  const c = constraint.toLowerCase();
  if (c.length === 0) return true;
  if (c.charCodeAt(0) === 0x2e) return host.length > c.length && host.endsWith(c);
  if (host === c) return true;
  return subdomains && host.length > c.length + 1 && host.endsWith(c) && host.charCodeAt(host.length - c.length - 1) === 0x2e;
}

/**
 * Lowercase host of `scheme://[userinfo@]host[:port][/…]`, or `undefined` when there is no
 * registered-name host (no authority, empty host, IP literal in brackets, or odd characters).
 */
export function uriHost(uri: string): string | undefined {
  const sep = uri.indexOf('://');
  if (sep <= 0) return undefined;
  let end = uri.length;
  for (let i = sep + 3; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  let authority = uri.slice(sep + 3, end);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  const colon = authority.indexOf(':');
  const host = (colon >= 0 ? authority.slice(0, colon) : authority).toLowerCase();
  if (host.length === 0) return undefined;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x5f;
    if (!ok) return undefined;
  }
  return host;
}
