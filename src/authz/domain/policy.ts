/**
 * Compiled authorization policy.
 *
 * Semantics (DESIGN.md §5, all matching exact):
 * - A rule matches a request when one of its subjects admits the caller's SPIFFE ID, one of
 *   its methods names the request's method (exactly, by service wildcard or `*`), the rule
 *   is not expired (`now < expiresAt`), and its optional conditions hold:
 *   - `namespaces`: the request's namespace equals one of them or lies below it on `/`
 *     boundaries. A request WITHOUT a namespace matches only rules without `namespaces`
 *     (a namespace-scoped grant never extends to namespace-less calls; for deny rules this
 *     means a namespace-scoped deny does not apply to namespace-less calls either).
 *     Exception: with `namespacePending` (the namespace exists but is not known yet) a
 *     scoped allow matches tentatively and a scoped deny is skipped; the caller decides
 *     again once the namespace is known.
 *   - `sourceCidrs`: the request's source address lies in one of them; a request without
 *     a source address matches only rules without `sourceCidrs`.
 * - Deny overrides allow: any matching deny (not dry-run) denies. Otherwise a matching
 *   allow allows; no matching allow denies. The reported rule is the first matching deny,
 *   else the first matching allow, in rule order.
 * - A matching dry-run deny does not deny; its id is reported in `dryRunDenied`.
 * - Fail closed on malformed input: a method that is not `/<service>/<method>`, a
 *   malformed namespace or source address, or an invalid `now` is denied outright.
 *
 * Index (rule-index.ts): method key (full method, `/<service>/*`, `*`) → subject index
 * (exact trust-domain map, own/federated/any lists, exact-ID map, prefix map keyed by the
 * prefix ID). A decision (rule-match.ts) costs at most three method lookups, each a few map
 * lookups plus one per `/` boundary of the caller's path when prefix rules exist; only the
 * matching candidates are then checked for expiry, namespaces and CIDRs. Decisions are
 * cached (decision-cache.ts, indexed-policy.ts).
 */
import { ParleyError } from '../../common/errors';
import { TrustDomain } from '../../spiffe';
import { DecisionCache } from './decision-cache';
import { IndexedPolicy } from './indexed-policy';
import { expiryInstants, indexRules } from './rule-index';
import { evaluate, type TrustDomainScope } from './rule-match';
import type { CompiledPolicy, Rule } from './rule';
import { ruleShapeErrors } from './validate';

export type { CompiledPolicy } from './rule';
export { REASONS } from './rule-match';

export interface PolicyOptions {
  readonly ownTrustDomain: string | TrustDomain;
  /**
   * When given, the `federated` keyword admits only these trust domains (other than own);
   * when absent it admits every trust domain other than own (authentication already limits
   * callers to trust domains with a bundle).
   */
  readonly federatedTrustDomains?: Iterable<string | TrustDomain>;
}

/**
 * Compiles validated rules into an index (rule-index.ts) behind a decision cache
 * (decision-cache.ts, indexed-policy.ts); rule-match.ts decides a request on a cache miss.
 * @throws ParleyError `config_invalid` when a rule fails the structural checks of
 *   validate.ts or the own trust domain is invalid (registry checks are validateRules's job)
 */
export function compilePolicy(rules: readonly Rule[], options: PolicyOptions): CompiledPolicy {
  assertWellFormed(rules);
  const { own, scope } = trustDomainScope(options);
  const index = indexRules(rules);
  const cache = new DecisionCache(expiryInstants(rules), (request, nowMs) => evaluate(index, scope, request, nowMs));
  return new IndexedPolicy(own, cache.fast, (request) => cache.decide(request));
}

function assertWellFormed(rules: readonly Rule[]): void {
  const errors = ruleShapeErrors(rules);
  if (errors.length === 0) return;
  const first = errors[0]!;
  throw new ParleyError('config_invalid', `authorization policy: ${first.field}: ${first.message}`, {
    details: { field: first.field, errors: errors.length },
  });
}

function trustDomainScope(options: PolicyOptions): { own: TrustDomain; scope: TrustDomainScope } {
  try {
    const own = toTrustDomain(options.ownTrustDomain);
    let federated: Set<string> | undefined;
    if (options.federatedTrustDomains !== undefined) {
      federated = new Set();
      for (const td of options.federatedTrustDomains) federated.add(toTrustDomain(td).name);
    }
    return { own, scope: { ownName: own.name, federated } };
  } catch (cause) {
    throw new ParleyError('config_invalid', 'authorization policy: invalid trust domain option', { cause });
  }
}

function toTrustDomain(td: string | TrustDomain): TrustDomain {
  return td instanceof TrustDomain ? td : TrustDomain.parse(td);
}

/** The methods a federated peer may call under the default policy. */
export const DEFAULT_FEDERATED_METHODS: readonly string[] = Object.freeze([
  '/parley.store.v1.StoreService/Pull',
  '/parley.store.v1.StoreService/Lookup',
  '/parley.store.v1.StoreService/PullReferrer',
  '/parley.sync.v1.SyncService/RequestRegistryCredentials',
]);

/**
 * The policy used when none is configured: every identity of the own trust domain may call
 * everything; every other (federated) trust domain may call exactly the read-only store
 * methods and the sync credential request.
 */
export function defaultPolicy(ownTd: string | TrustDomain): Rule[] {
  const own = toTrustDomain(ownTd);
  return [
    {
      id: 'default-own',
      effect: 'allow',
      subjects: [{ trustDomain: own.name }],
      methods: ['*'],
      description: 'own trust domain: every method',
    },
    {
      id: 'default-federated',
      effect: 'allow',
      subjects: [{ trustDomain: 'federated' }],
      methods: [...DEFAULT_FEDERATED_METHODS],
      description: 'federated trust domains: read-only store access and sync credentials',
    },
  ];
}
