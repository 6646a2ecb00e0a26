/**
 * One decision against the rule index, without caching (policy.ts states the semantics):
 * the request is validated (fail closed on malformed input), the candidate rules of its
 * method keys and subject lists are collected, and deny overrides allow.
 */
import type { SpiffeId } from '../../spiffe';
import { cidrContains, parseIp } from './cidr';
import { parseFullMethod, serviceKey } from './methods';
import { isNamespace, namespaceCovers } from './namespace';
import { ALL_KEY, type CompiledRule, type RuleIndex, type SubjectIndex } from './rule-index';
import type { Decision, DecisionRequest } from './rule';

const SCHEME_LEN = 'spiffe://'.length;
const SLASH = 0x2f;

export const REASONS = {
  malformedMethod: 'malformed method name',
  malformedNamespace: 'malformed namespace',
  malformedSourceIp: 'malformed source ip',
  invalidTime: 'invalid decision time',
  noAllow: 'no allow rule matches',
  deniedBy: (id: string): string => `denied by rule "${id}"`,
  allowedBy: (id: string): string => `allowed by rule "${id}"`,
} as const;

/** Which trust domains the `own` and `federated` keywords admit. */
export interface TrustDomainScope {
  readonly ownName: string;
  /** Undefined: `federated` admits every trust domain other than own. */
  readonly federated: ReadonlySet<string> | undefined;
}

/** Decides one request at `nowMs` (NaN = an invalid time) from the index. */
export function evaluate(index: RuleIndex, scope: TrustDomainScope, request: DecisionRequest, nowMs: number): Decision {
  const { id, method, namespace, sourceIp } = request;
  const parts = parseFullMethod(method);
  if (parts === undefined) return { allowed: false, reason: REASONS.malformedMethod };
  if (namespace !== undefined && !isNamespace(namespace)) return { allowed: false, reason: REASONS.malformedNamespace };
  let ip: Uint8Array | undefined;
  if (sourceIp !== undefined) {
    ip = parseIp(sourceIp);
    if (ip === undefined) return { allowed: false, reason: REASONS.malformedSourceIp };
  }
  if (Number.isNaN(nowMs)) return { allowed: false, reason: REASONS.invalidTime };

  const pending = namespace === undefined && request.namespacePending === true;
  const matches = new Matches(nowMs, namespace, pending, ip);
  const caller = new CallerKeys(id, scope);
  for (const key of [method, serviceKey(parts.service), ALL_KEY]) {
    const subjects = index.get(key);
    if (subjects !== undefined) considerSubjects(matches, subjects, caller);
  }
  return matches.decision();
}

/** Decisions on malformed requests are not cached (a cache hit skips validation). */
export function isMalformed(decision: Decision): boolean {
  return decision.reason === REASONS.malformedMethod || decision.reason === REASONS.malformedNamespace || decision.reason === REASONS.malformedSourceIp;
}

/** What the subject lists are looked up by, for one caller. */
class CallerKeys {
  readonly tdName: string;
  readonly idText: string;
  readonly path: string;
  readonly isOwn: boolean;
  readonly isFederated: boolean;

  constructor(id: SpiffeId, scope: TrustDomainScope) {
    this.tdName = id.trustDomain.name;
    this.idText = id.toString();
    this.path = id.path;
    this.isOwn = this.tdName === scope.ownName;
    this.isFederated = !this.isOwn && (scope.federated === undefined || scope.federated.has(this.tdName));
  }
}

function considerSubjects(matches: Matches, subjects: SubjectIndex, caller: CallerKeys): void {
  matches.consider(subjects.byTrustDomain.get(caller.tdName));
  if (caller.isOwn) matches.consider(subjects.own);
  if (caller.isFederated) matches.consider(subjects.federated);
  matches.consider(subjects.any);
  matches.consider(subjects.byId.get(caller.idText));
  if (subjects.byPrefix.size > 0) considerPrefixes(matches, subjects.byPrefix, caller);
}

/** The trust domain itself, then every `/` boundary of the path, then the whole ID. */
function considerPrefixes(matches: Matches, byPrefix: ReadonlyMap<string, readonly CompiledRule[]>, caller: CallerKeys): void {
  const { idText, path } = caller;
  const base = SCHEME_LEN + caller.tdName.length;
  matches.consider(byPrefix.get(idText.slice(0, base)));
  for (let i = 1; i < path.length; i++) {
    if (path.charCodeAt(i) === SLASH) matches.consider(byPrefix.get(idText.slice(0, base + i)));
  }
  if (path.length > 0) matches.consider(byPrefix.get(idText));
}

/** The first matching deny and allow (in rule order) and the matching dry-run denies. */
class Matches {
  #firstDeny: CompiledRule | undefined;
  #firstAllow: CompiledRule | undefined;
  #dryRun: Map<number, string> | undefined;

  constructor(
    private readonly nowMs: number,
    private readonly namespace: string | undefined,
    private readonly pending: boolean,
    private readonly ip: Uint8Array | undefined,
  ) {}

  consider(list: readonly CompiledRule[] | undefined): void {
    if (list === undefined) return;
    for (const r of list) {
      if (r.deny) {
        if (!r.dryRun && this.#firstDeny !== undefined && this.#firstDeny.index <= r.index) continue;
      } else if (this.#firstAllow !== undefined && this.#firstAllow.index <= r.index) {
        continue;
      }
      if (!conditionsHold(r, this.nowMs, this.namespace, this.pending, this.ip)) continue;
      if (r.deny && r.dryRun) (this.#dryRun ??= new Map()).set(r.index, r.id);
      else if (r.deny) this.#firstDeny = r;
      else this.#firstAllow = r;
    }
  }

  decision(): Decision {
    const dryRun = this.#dryRun;
    const dryRunDenied = dryRun === undefined ? undefined : [...dryRun.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    const extra = dryRunDenied === undefined ? {} : { dryRunDenied };
    const deny = this.#firstDeny;
    const allow = this.#firstAllow;
    if (deny !== undefined) return { allowed: false, rule: deny.id, reason: REASONS.deniedBy(deny.id), ...extra };
    if (allow !== undefined) return { allowed: true, rule: allow.id, reason: REASONS.allowedBy(allow.id), ...extra };
    return { allowed: false, reason: REASONS.noAllow, ...extra };
  }
}

function conditionsHold(r: CompiledRule, nowMs: number, namespace: string | undefined, pending: boolean, ip: Uint8Array | undefined): boolean {
  if (r.expiresAtMs !== undefined && nowMs >= r.expiresAtMs) return false;
  if (r.namespaces !== undefined && !namespaceHolds(r.namespaces, r.deny, namespace, pending)) return false;
  if (r.cidrs !== undefined) {
    if (ip === undefined) return false;
    let ok = false;
    for (const c of r.cidrs) {
      if (cidrContains(c, ip)) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

function namespaceHolds(namespaces: readonly string[], deny: boolean, namespace: string | undefined, pending: boolean): boolean {
  // Namespace still unknown: a scoped allow may apply, a scoped deny waits for the final decision.
  if (namespace === undefined) return pending && !deny;
  for (const ns of namespaces) if (namespaceCovers(ns, namespace)) return true;
  return false;
}
