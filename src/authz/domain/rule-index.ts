/**
 * The index a compiled policy decides with (see policy.ts for the semantics): method key
 * (full method, `/<service>/*`, `*`) → subject index (exact trust-domain map, own/federated/any
 * lists, exact-ID map, prefix map keyed by the prefix ID). Rules enter it already checked by
 * validate.ts, so their patterns, IDs and CIDRs parse.
 */
import { SpiffeId } from '../../spiffe';
import { parseCidr, type Cidr } from './cidr';
import { parseMethodPattern, serviceKey } from './methods';
import type { Rule, Subject } from './rule';

/** The method key of rules that name every method. */
export const ALL_KEY = '*';

/** A rule reduced to what a decision reads; `index` is its position in the rule order. */
export interface CompiledRule {
  readonly index: number;
  readonly id: string;
  readonly deny: boolean;
  readonly dryRun: boolean;
  readonly expiresAtMs: number | undefined;
  readonly namespaces: readonly string[] | undefined;
  readonly cidrs: readonly Cidr[] | undefined;
}

/** The rules of one method key, by the kind of subject that admits the caller. */
export class SubjectIndex {
  readonly byTrustDomain = new Map<string, CompiledRule[]>();
  readonly own: CompiledRule[] = [];
  readonly federated: CompiledRule[] = [];
  readonly any: CompiledRule[] = [];
  readonly byId = new Map<string, CompiledRule[]>();
  readonly byPrefix = new Map<string, CompiledRule[]>();
}

/** Method key → the subject index of the rules naming it. */
export type RuleIndex = ReadonlyMap<string, SubjectIndex>;

/** Indexes structurally valid rules (ruleShapeErrors found nothing). */
export function indexRules(rules: readonly Rule[]): RuleIndex {
  const index = new Map<string, SubjectIndex>();
  rules.forEach((rule, i) => {
    const compiled = compileRule(rule, i);
    for (const method of rule.methods) {
      const key = methodKey(method);
      let subjects = index.get(key);
      if (subjects === undefined) index.set(key, (subjects = new SubjectIndex()));
      for (const subject of rule.subjects) indexSubject(subjects, subject, compiled);
    }
  });
  return index;
}

/** The instants at which some rule expires, ascending and distinct. */
export function expiryInstants(rules: readonly Rule[]): number[] {
  return [...new Set(rules.flatMap((r) => (r.expiresAt === undefined ? [] : [r.expiresAt.getTime()])))].sort((a, b) => a - b);
}

function compileRule(rule: Rule, index: number): CompiledRule {
  return Object.freeze({
    index,
    id: rule.id,
    deny: rule.effect === 'deny',
    dryRun: rule.dryRun === true,
    expiresAtMs: rule.expiresAt?.getTime(),
    namespaces: rule.namespaces === undefined ? undefined : Object.freeze([...rule.namespaces]),
    cidrs: rule.sourceCidrs === undefined ? undefined : Object.freeze(rule.sourceCidrs.map((c) => parseCidr(c) as Cidr)),
  });
}

function methodKey(method: string): string {
  const pattern = parseMethodPattern(method)!;
  return pattern.kind === 'all' ? ALL_KEY : pattern.kind === 'service' ? serviceKey(pattern.service) : method;
}

function indexSubject(subjects: SubjectIndex, subject: Subject, rule: CompiledRule): void {
  if ('trustDomain' in subject) {
    if (subject.trustDomain === 'own') pushList(subjects.own, rule);
    else if (subject.trustDomain === 'federated') pushList(subjects.federated, rule);
    else if (subject.trustDomain === 'any') pushList(subjects.any, rule);
    else push(subjects.byTrustDomain, subject.trustDomain, rule);
  } else if ('spiffeId' in subject) {
    push(subjects.byId, SpiffeId.parse(subject.spiffeId).toString(), rule);
  } else {
    push(subjects.byPrefix, SpiffeId.parse(subject.spiffeIdPrefix).toString(), rule);
  }
}

/** Appends once: a rule naming a key through two subjects of one list is listed once. */
function push<K>(map: Map<K, CompiledRule[]>, key: K, rule: CompiledRule): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [rule]);
  else if (list[list.length - 1] !== rule) list.push(rule);
}

function pushList(list: CompiledRule[], rule: CompiledRule): void {
  if (list[list.length - 1] !== rule) list.push(rule);
}
