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
 * Index: method key (full method, `/<service>/*`, `*`) → subject index (exact trust-domain
 * map, own/federated/any lists, exact-ID map, prefix map keyed by the prefix ID). A decision
 * costs at most three method lookups, each a few map lookups plus one per `/` boundary of
 * the caller's path when prefix rules exist; only the matching candidates are then checked
 * for expiry, namespaces and CIDRs.
 */
import { ParleyError } from '../../common/errors';
import { SpiffeId, TrustDomain } from '../../spiffe';
import { cidrContains, parseCidr, parseIp, type Cidr } from './cidr';
import { parseFullMethod, parseMethodPattern, serviceKey } from './methods';
import { isNamespace, namespaceCovers } from './namespace';
import { emptySlots, IndexedPolicy, rememberForObject, type FastState } from './indexed-policy';
import type { CompiledPolicy, Decision, DecisionRequest, Rule } from './rule';

export type { CompiledPolicy } from './rule';
import { ruleShapeErrors } from './validate';

export interface PolicyOptions {
  readonly ownTrustDomain: string | TrustDomain;
  /**
   * When given, the `federated` keyword admits only these trust domains (other than own);
   * when absent it admits every trust domain other than own (authentication already limits
   * callers to trust domains with a bundle).
   */
  readonly federatedTrustDomains?: Iterable<string | TrustDomain>;
}

const ALL_KEY = '*';
/** Decisions kept per compiled policy before the cache starts over. */
const DECISION_CACHE_ENTRIES = 100_000;
/** Cache key of requests that are not cached (an empty source address, which is malformed). */
const NO_CACHE = '\u0000';
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

interface CompiledRule {
  readonly index: number;
  readonly id: string;
  readonly deny: boolean;
  readonly dryRun: boolean;
  readonly expiresAtMs: number | undefined;
  readonly namespaces: readonly string[] | undefined;
  readonly cidrs: readonly Cidr[] | undefined;
}

class SubjectIndex {
  readonly byTrustDomain = new Map<string, CompiledRule[]>();
  readonly own: CompiledRule[] = [];
  readonly federated: CompiledRule[] = [];
  readonly any: CompiledRule[] = [];
  readonly byId = new Map<string, CompiledRule[]>();
  readonly byPrefix = new Map<string, CompiledRule[]>();
}

function push<K>(map: Map<K, CompiledRule[]>, key: K, rule: CompiledRule): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [rule]);
  else if (list[list.length - 1] !== rule) list.push(rule);
}

function pushList(list: CompiledRule[], rule: CompiledRule): void {
  if (list[list.length - 1] !== rule) list.push(rule);
}

function toTrustDomain(td: string | TrustDomain): TrustDomain {
  return td instanceof TrustDomain ? td : TrustDomain.parse(td);
}

/**
 * Compiles validated rules into an index.
 * @throws ParleyError `config_invalid` when a rule fails the structural checks of
 *   validate.ts or the own trust domain is invalid (registry checks are validateRules's job)
 */
export function compilePolicy(rules: readonly Rule[], options: PolicyOptions): CompiledPolicy {
  const errors = ruleShapeErrors(rules);
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new ParleyError('config_invalid', `authorization policy: ${first.field}: ${first.message}`, {
      details: { field: first.field, errors: errors.length },
    });
  }
  let own: TrustDomain;
  let federatedSet: Set<string> | undefined;
  try {
    own = toTrustDomain(options.ownTrustDomain);
    if (options.federatedTrustDomains !== undefined) {
      federatedSet = new Set();
      for (const td of options.federatedTrustDomains) federatedSet.add(toTrustDomain(td).name);
    }
  } catch (cause) {
    throw new ParleyError('config_invalid', 'authorization policy: invalid trust domain option', { cause });
  }

  const index = new Map<string, SubjectIndex>();
  const bucket = (key: string): SubjectIndex => {
    let b = index.get(key);
    if (b === undefined) index.set(key, (b = new SubjectIndex()));
    return b;
  };

  rules.forEach((rule, i) => {
    const compiled: CompiledRule = Object.freeze({
      index: i,
      id: rule.id,
      deny: rule.effect === 'deny',
      dryRun: rule.dryRun === true,
      expiresAtMs: rule.expiresAt?.getTime(),
      namespaces: rule.namespaces === undefined ? undefined : Object.freeze([...rule.namespaces]),
      cidrs: rule.sourceCidrs === undefined ? undefined : Object.freeze(rule.sourceCidrs.map((c) => parseCidr(c) as Cidr)),
    });
    for (const m of rule.methods) {
      const p = parseMethodPattern(m)!;
      const b = bucket(p.kind === 'all' ? ALL_KEY : p.kind === 'service' ? serviceKey(p.service) : m);
      for (const s of rule.subjects) {
        if ('trustDomain' in s) {
          if (s.trustDomain === 'own') pushList(b.own, compiled);
          else if (s.trustDomain === 'federated') pushList(b.federated, compiled);
          else if (s.trustDomain === 'any') pushList(b.any, compiled);
          else push(b.byTrustDomain, s.trustDomain, compiled);
        } else if ('spiffeId' in s) {
          push(b.byId, SpiffeId.parse(s.spiffeId).toString(), compiled);
        } else {
          push(b.byPrefix, SpiffeId.parse(s.spiffeIdPrefix).toString(), compiled);
        }
      }
    }
  });

  const ownName = own.name;

  // Decision cache: a decision depends only on the request's fields and on which rules are
  // expired, which changes only at the rules' expiry instants. Entries are kept for the
  // interval between two such instants that contains "now"; requests for other instants
  // bypass the cache. Only well-formed requests are stored, so a hit skips validation too.
  const expiries = [...new Set(rules.flatMap((r) => (r.expiresAt === undefined ? [] : [r.expiresAt.getTime()])))].sort((a, b) => a - b);
  // First level, by SpiffeId object (indexed-policy.ts); then by the ID's text, below.
  const timeless = expiries.length === 0;
  const fast: FastState = { timeless, slots: emptySlots(), windowFrom: Number.NEGATIVE_INFINITY, windowUntil: timeless ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY };
  // By the ID's text: two levels (method, then SPIFFE ID) for the request without namespace
  // or source address; a third level keyed by those for the others.
  let plain = new Map<string, Map<string, Decision>>();
  let keyed = new Map<string, Map<string, Map<string, Map<string, Decision>>>>();
  let cached = 0;
  const moveWindow = (nowMs: number): void => {
    fast.slots = emptySlots();
    plain = new Map();
    keyed = new Map();
    cached = 0;
    fast.windowFrom = Number.NEGATIVE_INFINITY;
    fast.windowUntil = Number.POSITIVE_INFINITY;
    for (const t of expiries) {
      if (t <= nowMs) fast.windowFrom = t;
      else {
        fast.windowUntil = t;
        break;
      }
    }
  };
  const store = (method: string, idText: string, ipKey: string, rest: string, decision: Decision, nowMs: number): void => {
    if (isMalformed(decision)) return;
    if (cached >= DECISION_CACHE_ENTRIES) moveWindow(nowMs);
    cached++;
    if (ipKey === '' && rest === '') {
      let m = plain.get(method);
      if (m === undefined) plain.set(method, (m = new Map()));
      m.set(idText, decision);
      return;
    }
    let m = keyed.get(method);
    if (m === undefined) keyed.set(method, (m = new Map()));
    let forId = m.get(idText);
    if (forId === undefined) m.set(idText, (forId = new Map()));
    let forIp = forId.get(ipKey);
    if (forIp === undefined) forId.set(ipKey, (forIp = new Map()));
    forIp.set(rest, decision);
  };

  const decideSlow = (request: DecisionRequest): Decision => {
    const { id, method, namespace, sourceIp } = request;
    if (!(id instanceof SpiffeId)) throw new TypeError('decide: id must be a SpiffeId');
    // Without expiring rules the clock does not matter (one window forever).
    const nowMs = request.now !== undefined ? request.now.getTime() : timeless ? 0 : Date.now();
    if (nowMs >= fast.windowUntil) moveWindow(nowMs);
    if (nowMs < fast.windowFrom || Number.isNaN(nowMs)) return evaluate(request, nowMs);
    const pending = namespace === undefined && request.namespacePending === true;
    const decision = decideByText(request, id, method, namespace, sourceIp, pending, nowMs);
    if (namespace === undefined && !isMalformed(decision)) rememberForObject(fast, id, sourceIp, pending, method, decision);
    return decision;
  };

  const decideByText = (
    request: DecisionRequest,
    id: SpiffeId,
    method: string,
    namespace: string | undefined,
    sourceIp: string | undefined,
    pending: boolean,
    nowMs: number,
  ): Decision => {
    const idText = id.toString();
    // Keys: the source address ('' = none; a real address is never empty) and the
    // namespace state ('' = none, 'p' = pending, '=' + namespace), so no two requests share one.
    const ipKey = sourceIp === undefined ? '' : sourceIp === '' ? NO_CACHE : sourceIp;
    const rest = namespace !== undefined ? `=${namespace}` : pending ? 'p' : '';
    if (ipKey === '' && rest === '') {
      const hit = plain.get(method)?.get(idText);
      if (hit !== undefined) return hit;
    } else if (ipKey !== NO_CACHE) {
      const hit = keyed.get(method)?.get(idText)?.get(ipKey)?.get(rest);
      if (hit !== undefined) return hit;
    }
    const evaluated = evaluate(request, nowMs);
    if (evaluated.dryRunDenied !== undefined) Object.freeze(evaluated.dryRunDenied);
    const decision = Object.freeze(evaluated);
    if (ipKey !== NO_CACHE) store(method, idText, ipKey, rest, decision, nowMs);
    return decision;
  };

  const evaluate = (request: DecisionRequest, nowMs: number): Decision => {
    const { id, method, namespace, sourceIp } = request;
    const pending = namespace === undefined && request.namespacePending === true;
    const parts = parseFullMethod(method);
    if (parts === undefined) return { allowed: false, reason: REASONS.malformedMethod };
    if (namespace !== undefined && !isNamespace(namespace)) return { allowed: false, reason: REASONS.malformedNamespace };
    let ip: Uint8Array | undefined;
    if (sourceIp !== undefined) {
      ip = parseIp(sourceIp);
      if (ip === undefined) return { allowed: false, reason: REASONS.malformedSourceIp };
    }
    if (Number.isNaN(nowMs)) return { allowed: false, reason: REASONS.invalidTime };

    let firstDeny: CompiledRule | undefined;
    let firstAllow: CompiledRule | undefined;
    let dryRun: Map<number, string> | undefined;

    const consider = (list: readonly CompiledRule[] | undefined): void => {
      if (list === undefined) return;
      for (const r of list) {
        if (r.deny) {
          if (!r.dryRun && firstDeny !== undefined && firstDeny.index <= r.index) continue;
        } else if (firstAllow !== undefined && firstAllow.index <= r.index) {
          continue;
        }
        if (!conditionsHold(r, nowMs, namespace, pending, ip)) continue;
        if (r.deny && r.dryRun) (dryRun ??= new Map()).set(r.index, r.id);
        else if (r.deny) firstDeny = r;
        else firstAllow = r;
      }
    };

    const tdName = id.trustDomain.name;
    const idText = id.toString();
    const isOwn = tdName === ownName;
    const isFederated = !isOwn && (federatedSet === undefined || federatedSet.has(tdName));
    for (const key of [method, serviceKey(parts.service), ALL_KEY]) {
      const b = index.get(key);
      if (b === undefined) continue;
      consider(b.byTrustDomain.get(tdName));
      if (isOwn) consider(b.own);
      if (isFederated) consider(b.federated);
      consider(b.any);
      consider(b.byId.get(idText));
      if (b.byPrefix.size > 0) {
        // The trust domain itself, then every `/` boundary of the path, then the whole ID.
        const base = SCHEME_LEN + tdName.length;
        consider(b.byPrefix.get(idText.slice(0, base)));
        const path = id.path;
        for (let i = 1; i < path.length; i++) {
          if (path.charCodeAt(i) === SLASH) consider(b.byPrefix.get(idText.slice(0, base + i)));
        }
        if (path.length > 0) consider(b.byPrefix.get(idText));
      }
    }

    const dryRunDenied = dryRun === undefined ? undefined : [...dryRun.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    const extra = dryRunDenied === undefined ? {} : { dryRunDenied };
    if (firstDeny !== undefined) return { allowed: false, rule: firstDeny.id, reason: REASONS.deniedBy(firstDeny.id), ...extra };
    if (firstAllow !== undefined) return { allowed: true, rule: firstAllow.id, reason: REASONS.allowedBy(firstAllow.id), ...extra };
    return { allowed: false, reason: REASONS.noAllow, ...extra };
  };

  return new IndexedPolicy(own, fast, decideSlow);
}

/** Decisions on malformed requests are not cached (a cache hit skips validation). */
function isMalformed(decision: Decision): boolean {
  return decision.reason === REASONS.malformedMethod || decision.reason === REASONS.malformedNamespace || decision.reason === REASONS.malformedSourceIp;
}

function conditionsHold(r: CompiledRule, nowMs: number, namespace: string | undefined, pending: boolean, ip: Uint8Array | undefined): boolean {
  if (r.expiresAtMs !== undefined && nowMs >= r.expiresAtMs) return false;
  if (r.namespaces !== undefined) {
    // Namespace still unknown: a scoped allow may apply, a scoped deny waits for the final decision.
    if (namespace === undefined) {
      if (!pending || r.deny) return false;
    } else {
      let ok = false;
      for (const ns of r.namespaces) {
        if (namespaceCovers(ns, namespace)) {
          ok = true;
          break;
        }
      }
      if (!ok) return false;
    }
  }
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
