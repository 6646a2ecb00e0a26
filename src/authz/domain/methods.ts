/**
 * gRPC method names and patterns. A full method name is `/<service>/<method>` with
 * `<service>` a dotted protobuf name (`parley.store.v1.StoreService`). Rules name methods
 * exactly, a whole service as `/<service>/*`, or everything as `*`. Parsing is by hand:
 * no regular expressions and no substring search in src/authz.
 */
import { ParleyError } from '../../common/errors';
import { TrustDomain } from '../../spiffe';
import type { Rule } from './rule';

export type MethodPattern =
  | { readonly kind: 'all' }
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'method'; readonly service: string; readonly method: string };

const SLASH = 0x2f;
const DOT = 0x2e;

function isIdentChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

function isServiceName(s: string): boolean {
  if (s.length === 0 || s.charCodeAt(0) === DOT || s.charCodeAt(s.length - 1) === DOT) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      if (s.charCodeAt(i - 1) === DOT) return false;
    } else if (!isIdentChar(c)) {
      return false;
    }
  }
  return true;
}

function isMethodName(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isIdentChar(s.charCodeAt(i))) return false;
  return true;
}

/** Splits `/<service>/<rest>`; undefined unless there are exactly two non-empty-service parts. */
function split(s: string): { service: string; rest: string } | undefined {
  if (typeof s !== 'string' || s.length < 4 || s.charCodeAt(0) !== SLASH) return undefined;
  let second = -1;
  for (let i = 1; i < s.length; i++) {
    if (s.charCodeAt(i) === SLASH) {
      if (second >= 0) return undefined;
      second = i;
    }
  }
  if (second < 0) return undefined;
  return { service: s.slice(1, second), rest: s.slice(second + 1) };
}

/** `/<service>/<method>` → parts, or undefined when malformed (wildcards are not full names). */
export function parseFullMethod(s: string): { service: string; method: string } | undefined {
  const parts = split(s);
  if (parts === undefined || !isServiceName(parts.service) || !isMethodName(parts.rest)) return undefined;
  return { service: parts.service, method: parts.rest };
}

/** Parses a rule's method entry, or undefined when malformed. */
export function parseMethodPattern(s: string): MethodPattern | undefined {
  if (s === '*') return { kind: 'all' };
  const parts = split(s);
  if (parts === undefined || !isServiceName(parts.service)) return undefined;
  if (parts.rest === '*') return { kind: 'service', service: parts.service };
  if (!isMethodName(parts.rest)) return undefined;
  return { kind: 'method', service: parts.service, method: parts.rest };
}

/** Index key of a service wildcard; also the exact string a rule writes. */
export function serviceKey(service: string): string {
  return `/${service}/*`;
}

/** The full method names the gateway serves. Immutable. */
export class MethodRegistry {
  readonly #methods: ReadonlySet<string>;
  readonly #services: ReadonlySet<string>;

  /** @throws ParleyError `invalid_argument` for a name that is not `/<service>/<method>` */
  constructor(methods: Iterable<string>) {
    const all = new Set<string>();
    const services = new Set<string>();
    for (const m of methods) {
      const parts = parseFullMethod(m);
      if (parts === undefined) {
        throw new ParleyError('invalid_argument', 'method registry: malformed full method name', { details: { method: String(m) } });
      }
      all.add(m);
      services.add(parts.service);
    }
    this.#methods = all;
    this.#services = services;
    Object.freeze(this);
  }

  has(method: string): boolean {
    return this.#methods.has(method);
  }

  hasService(service: string): boolean {
    return this.#services.has(service);
  }

  /** Served full method names, sorted. */
  methods(): string[] {
    return [...this.#methods].sort();
  }

  /** Served service names, sorted. */
  services(): string[] {
    return [...this.#services].sort();
  }

  /**
   * Served methods that no allow rule can ever reach, sorted. A method is reachable when a
   * live allow rule (not dry-run, not expired at `now`) names it exactly, by its service or
   * by `*`, and no blanket deny shuts it: a non-dry-run deny without expiry, namespaces or
   * source CIDRs whose subjects cover every identity (`any`, or own + `federated`).
   * Malformed rule entries are skipped (validateRules reports them).
   */
  unreachable(rules: readonly Rule[], ownTd: string | TrustDomain, now: Date = new Date()): string[] {
    const own = typeof ownTd === 'string' ? TrustDomain.parse(ownTd).name : ownTd.name;
    const nowMs = now.getTime();
    const allowed = new Coverage();
    const denied = new Coverage();
    for (const rule of rules) {
      if (!Array.isArray(rule.methods) || !Array.isArray(rule.subjects) || rule.subjects.length === 0) continue;
      if (rule.expiresAt !== undefined && !(nowMs < rule.expiresAt.getTime())) continue;
      if (rule.effect === 'allow' && rule.dryRun !== true) {
        allowed.addAll(rule.methods);
      } else if (
        rule.effect === 'deny' &&
        rule.dryRun !== true &&
        rule.expiresAt === undefined &&
        rule.namespaces === undefined &&
        rule.sourceCidrs === undefined &&
        coversEveryone(rule, own)
      ) {
        denied.addAll(rule.methods);
      }
    }
    const out: string[] = [];
    for (const m of this.methods()) {
      if (!allowed.covers(m) || denied.covers(m)) out.push(m);
    }
    return out;
  }
}

function coversEveryone(rule: Rule, own: string): boolean {
  let ownCovered = false;
  let othersCovered = false;
  for (const s of rule.subjects) {
    if (!('trustDomain' in s)) continue;
    if (s.trustDomain === 'any') return true;
    if (s.trustDomain === 'own' || s.trustDomain === own) ownCovered = true;
    if (s.trustDomain === 'federated') othersCovered = true;
  }
  return ownCovered && othersCovered;
}

/** Which full methods a set of method patterns names. */
class Coverage {
  #all = false;
  readonly #services = new Set<string>();
  readonly #methods = new Set<string>();

  addAll(patterns: readonly string[]): void {
    for (const m of patterns) {
      const p = typeof m === 'string' ? parseMethodPattern(m) : undefined;
      if (p === undefined) continue;
      if (p.kind === 'all') this.#all = true;
      else if (p.kind === 'service') this.#services.add(p.service);
      else this.#methods.add(m);
    }
  }

  covers(method: string): boolean {
    if (this.#all || this.#methods.has(method)) return true;
    const parts = parseFullMethod(method);
    return parts !== undefined && this.#services.has(parts.service);
  }
}
