/**
 * Namespaces are the store's (src/store/domain/names.ts): 1 to 8 `/`-separated segments of
 * `[a-z0-9][a-z0-9._-]{0,62}`, at most 255 bytes, so no empty, `.` or `..` segment and no
 * upper case. Policies, explain requests and audit filters use the same rule, so a rule
 * can only name namespaces the store can hold. A rule namespace covers itself and
 * everything below it on `/` boundaries: `team/ml` covers `team/ml` and `team/ml/x`, not
 * `team/mlx`.
 */
import { MAX_NAMESPACE_BYTES, namespaceError } from '../../common/namespace-name';

const SLASH = 0x2f;

export const MAX_NAMESPACE_LENGTH = MAX_NAMESPACE_BYTES;

export function isNamespace(s: unknown): s is string {
  return namespaceError(s) === undefined;
}

/** Why `s` is not a namespace (the store's rule), or undefined. */
export { namespaceError };

/** True when `requested` equals `ruleNs` or lies below it on a `/` boundary. */
export function namespaceCovers(ruleNs: string, requested: string): boolean {
  const n = ruleNs.length;
  if (requested.length === n) return requested === ruleNs;
  return requested.length > n && requested.charCodeAt(n) === SLASH && requested.slice(0, n) === ruleNs;
}
