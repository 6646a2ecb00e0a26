/**
 * The authorization policy model (pure data). See policy.ts for the semantics and
 * validate.ts for what a well-formed rule is.
 */
import type { SpiffeId, TrustDomain } from '../../spiffe';

/** `own` = the gateway's trust domain, `federated` = any other, `any` = every trust domain. */
export type TrustDomainKeyword = 'own' | 'federated' | 'any';

export const TRUST_DOMAIN_KEYWORDS: ReadonlySet<string> = new Set<TrustDomainKeyword>(['own', 'federated', 'any']);

export type Subject =
  /** An exact trust-domain name or a keyword (keywords win over a trust domain named `own`, …). */
  | { readonly trustDomain: string }
  /** Exactly this SPIFFE ID. */
  | { readonly spiffeId: string }
  /** This ID or any ID below it on `/` boundaries, within its trust domain. */
  | { readonly spiffeIdPrefix: string };

export type Effect = 'allow' | 'deny';

export interface Rule {
  readonly id: string;
  readonly effect: Effect;
  readonly subjects: readonly Subject[];
  /** `/pkg.Service/Method`, `/pkg.Service/*` or `*`. */
  readonly methods: readonly string[];
  /** `a/b` namespaces; the request's namespace must equal one or lie below it on `/` boundaries. */
  readonly namespaces?: readonly string[];
  /** IPv4/IPv6 CIDR blocks (or single addresses) the request's source must lie in. */
  readonly sourceCidrs?: readonly string[];
  /** The rule is ignored from this instant on (`now >= expiresAt`). */
  readonly expiresAt?: Date;
  readonly description?: string;
  /** Deny rules only: a match is reported in `dryRunDenied` instead of denying. */
  readonly dryRun?: boolean;
}

export interface FieldError {
  /** Path into the rules array, e.g. `rules[2].methods[0]`. */
  readonly field: string;
  readonly message: string;
}

export interface DecisionRequest {
  readonly id: SpiffeId;
  /** Full gRPC method name, `/pkg.Service/Method`. */
  readonly method: string;
  readonly namespace?: string;
  /**
   * The call has a namespace that is not known yet (a store call before its request is
   * read): rules scoped to namespaces may allow (tentatively) and namespace-scoped deny
   * rules are left for the final decision, which is made again with the namespace.
   * Ignored when `namespace` is given.
   */
  readonly namespacePending?: boolean;
  readonly sourceIp?: string;
  readonly now?: Date;
}

export interface Decision {
  readonly allowed: boolean;
  /** The deciding rule: the first matching deny, else the first matching allow (rule order). */
  readonly rule?: string;
  readonly reason: string;
  /** Ids of matching dry-run deny rules, in rule order; absent when none matched. */
  readonly dryRunDenied?: string[];
}

/** A policy compiled for fast, exact decisions (see compilePolicy). */
export interface CompiledPolicy {
  readonly ownTrustDomain: TrustDomain;
  /** No rule expires: a decision never changes for the life of this compiled policy. */
  readonly timeless: boolean;
  decide(request: DecisionRequest): Decision;
}
