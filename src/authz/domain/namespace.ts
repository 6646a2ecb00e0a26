/**
 * Namespaces are `/`-separated names (`team`, `team/ml`) with no empty segment, so no
 * leading, trailing or doubled `/`. A rule namespace covers itself and everything below it
 * on `/` boundaries: `team/ml` covers `team/ml` and `team/ml/x`, not `team/mlx`.
 */
const SLASH = 0x2f;

export const MAX_NAMESPACE_LENGTH = 1024;

export function isNamespace(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_NAMESPACE_LENGTH) return false;
  if (s.charCodeAt(0) === SLASH || s.charCodeAt(s.length - 1) === SLASH) return false;
  for (let i = 1; i < s.length; i++) {
    if (s.charCodeAt(i) === SLASH && s.charCodeAt(i - 1) === SLASH) return false;
  }
  return true;
}

/** True when `requested` equals `ruleNs` or lies below it on a `/` boundary. */
export function namespaceCovers(ruleNs: string, requested: string): boolean {
  const n = ruleNs.length;
  if (requested.length === n) return requested === ruleNs;
  return requested.length > n && requested.charCodeAt(n) === SLASH && requested.slice(0, n) === ruleNs;
}
