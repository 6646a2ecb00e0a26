/**
 * How a policy change is planned (pure helpers of the policy store): the desired rule list
 * as kept rows and given rules, the checks on what may be edited, and field paths for errors.
 */
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import type { FieldError, Rule } from './domain';
import { splitRuleField } from './policy-json';
import type { PolicyRow, RuleSource } from './policy-rows';

/** One rule of a change: given (`input`, validated and stored as new) or kept as stored. */
export interface Planned {
  readonly id: string;
  readonly source: RuleSource;
  readonly input?: Rule;
  readonly stored?: unknown;
}

export function keep(row: PolicyRow): Planned {
  return { id: row.id, source: row.source, stored: row.rule };
}

export function fresh(rule: Rule): Planned {
  return { id: rule.id, source: 'api', input: rule };
}

export function countConfigPrefix(rows: readonly PolicyRow[]): number {
  let n = 0;
  while (n < rows.length && rows[n]!.source === 'config') n++;
  return n;
}

export function indexOfEditable(rows: readonly PolicyRow[], id: string): number {
  const at = rows.findIndex((r) => r.id === id);
  if (at < 0) throw new ParleyError('not_found', `policy: no rule "${id}"`, { details: { rule: id } });
  if (rows[at]!.source === 'config') {
    throw new ParleyError('conflict', `policy: rule "${id}" is declared in the config file (authz.policy.rules); change it there`, { details: { rule: id } });
  }
  return at;
}

export function invalid(message: string, errors: FieldError[]): ValidationError {
  return new ValidationError(message, errors);
}

/**
 * Field paths for the caller: the written rule's own fields relative to it (`methods[0]`),
 * a replaced list's as `rules[i]` of that list, other stored rules as `rules[i]` of the
 * stored order with their id in the message.
 */
export function describe(errors: readonly FieldError[], next: readonly Planned[], subject: number | undefined, offset: number | undefined): FieldError[] {
  return errors.map((e) => {
    const at = splitRuleField(e.field);
    if (at === undefined) return e;
    if (at.index === subject) return { field: at.tail === '' ? 'rule' : at.tail.charAt(0) === '.' ? at.tail.slice(1) : at.tail, message: e.message };
    if (offset !== undefined && at.index >= offset) return { field: `rules[${at.index - offset}]${at.tail}`, message: e.message };
    return { field: e.field, message: `stored rule "${next[at.index]?.id ?? '?'}": ${e.message}` };
  });
}

/** JSON with object keys sorted (jsonb does not keep key order). */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}
