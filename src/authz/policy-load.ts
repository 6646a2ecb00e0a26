/**
 * Turns stored rule rows into the policy in force, never failing open on a row that no
 * longer validates (a hand-edited row, or a method the gateway stopped serving):
 * - method entries that name methods or services not served are dropped (they could never
 *   match a served call, so allow and deny rules mean the same without them); a rule left
 *   with no method is skipped;
 * - a malformed allow rule is skipped (fewer grants);
 * - a malformed deny rule cannot be honoured, and ignoring it could admit what it denies:
 *   the whole policy then denies everything until the row is fixed.
 * Every such problem is reported (log and status), naming the rule and the field.
 */
import { compilePolicy, parseMethodPattern, ruleShapeErrors, type CompiledPolicy, type FieldError, type MethodRegistry, type Rule } from './domain';
import { ruleFromJson, ruleRelativeFields } from './policy-json';
import type { PolicyRow } from './policy-rows';

export interface RuleProblem {
  /** The stored rule id. */
  readonly id: string;
  /** Field within the rule (`methods[0]`, `expiresAt`; `rule` for the whole row). */
  readonly field: string;
  readonly message: string;
  /** What was done: the entry was dropped, the rule skipped, or everything denied. */
  readonly action: 'method dropped' | 'rule skipped' | 'deny all';
}

export interface LoadedPolicy {
  /** The rules in force, in order (after dropping unserved methods). */
  readonly rules: readonly Rule[];
  readonly compiled: CompiledPolicy;
  readonly problems: readonly RuleProblem[];
  /** Set when a malformed deny rule made the policy deny everything. */
  readonly denyAll?: string;
}

function isUnserved(method: string, registry: MethodRegistry): boolean {
  const p = parseMethodPattern(method);
  if (p === undefined) return false;
  if (p.kind === 'method') return !registry.has(method);
  if (p.kind === 'service') return !registry.hasService(p.service);
  return false;
}

export function loadPolicy(rows: readonly PolicyRow[], registry: MethodRegistry, ownTrustDomain: string, federatedTrustDomains?: Iterable<string>): LoadedPolicy {
  const rules: Rule[] = [];
  const problems: RuleProblem[] = [];
  let denyAll: string | undefined;
  for (const row of rows) {
    const errors: FieldError[] = [];
    const rule = ruleFromJson(row.rule, 'rules[0]', errors);
    if (rule !== undefined) errors.push(...ruleShapeErrors([rule]));
    if (rule !== undefined && rule.id !== row.id) errors.push({ field: 'rules[0].id', message: 'does not match the row id' });
    if (errors.length > 0) {
      const deny = (row.rule as { effect?: unknown } | null)?.effect !== 'allow';
      const action = deny ? 'deny all' : 'rule skipped';
      for (const e of ruleRelativeFields(errors, 0)) problems.push({ id: row.id, ...e, action });
      if (deny) denyAll ??= `stored deny rule "${row.id}" is malformed`;
      continue;
    }
    const kept: string[] = [];
    rule!.methods.forEach((m, j) => {
      if (isUnserved(m, registry)) problems.push({ id: row.id, field: `methods[${j}]`, message: 'not served by this gateway', action: 'method dropped' });
      else kept.push(m);
    });
    if (kept.length === 0) {
      problems.push({ id: row.id, field: 'methods', message: 'names no served method', action: 'rule skipped' });
      continue;
    }
    rules.push(kept.length === rule!.methods.length ? rule! : { ...rule!, methods: kept });
  }
  const options = { ownTrustDomain, ...(federatedTrustDomains === undefined ? {} : { federatedTrustDomains }) };
  if (denyAll !== undefined) return { rules: [], compiled: compilePolicy([], options), problems, denyAll };
  return { rules, compiled: compilePolicy(rules, options), problems };
}
