/**
 * Small composable authorizers: plain predicates on an authenticated SPIFFE ID. Every
 * comparison is exact (trust domain by name, IDs by string, path prefixes on `/`
 * boundaries); no regular expressions, no substring matching.
 */
import { SpiffeError } from './errors';
import { checkPath } from './id-syntax';
import { SpiffeId, TrustDomain } from './spiffe-id';

export type Authorizer = (id: SpiffeId) => boolean;

/** Admits every ID (authentication still happened). */
export function authorizeAny(): Authorizer {
  return () => true;
}

/** Admits IDs of exactly trust domain `td`. */
export function authorizeMemberOf(td: TrustDomain): Authorizer {
  if (!(td instanceof TrustDomain)) throw new TypeError('authorizeMemberOf: td must be a TrustDomain');
  const name = td.name;
  return (id) => id.trustDomain.name === name;
}

/** Admits exactly the listed IDs. */
export function authorizeOneOf(...ids: SpiffeId[]): Authorizer {
  const allowed = new Set<string>();
  for (const id of ids) {
    if (!(id instanceof SpiffeId)) throw new TypeError('authorizeOneOf: ids must be SpiffeIds');
    allowed.add(id.toString());
  }
  return (id) => allowed.has(id.toString());
}

/**
 * Admits IDs of `td` whose path is `prefix` or lies below it: `/ns/ml` admits `/ns/ml` and
 * `/ns/ml/x`, not `/ns/mlx`. The prefix must be a valid SPIFFE ID path; `''` admits the
 * whole trust domain.
 * @throws SpiffeError `invalid_path` for an invalid prefix
 */
export function authorizePathPrefix(td: TrustDomain, prefix: string): Authorizer {
  if (!(td instanceof TrustDomain)) throw new TypeError('authorizePathPrefix: td must be a TrustDomain');
  const reason = typeof prefix === 'string' ? checkPath(prefix) : 'path must be a string';
  if (reason !== undefined) throw new SpiffeError('invalid_path', `invalid path prefix: ${reason}`);
  const name = td.name;
  const n = prefix.length;
  return (id) => {
    if (id.trustDomain.name !== name) return false;
    const path = id.path;
    if (path.length === n) return path === prefix;
    return path.length > n && path.charCodeAt(n) === 0x2f && path.startsWith(prefix);
  };
}

/** Admits an ID only if every authorizer does (at least one is required: no vacuous allow). */
export function authorizeAll(...authorizers: Authorizer[]): Authorizer {
  if (authorizers.length === 0) throw new TypeError('authorizeAll: at least one authorizer is required');
  return (id) => authorizers.every((a) => a(id));
}

/** Admits an ID if at least one authorizer does (none given: admits nothing). */
export function authorizeEither(...authorizers: Authorizer[]): Authorizer {
  return (id) => authorizers.some((a) => a(id));
}
