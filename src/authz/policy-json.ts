/**
 * Policy rules as JSON (admin API, CLI, config file, the authz_rules.rule column): the Rule
 * model with `expiresAt` as an RFC 3339 string. Parsing keeps field paths so a caller can
 * name exactly what is wrong (`rules[1].methods[0]`, `expiresAt`).
 */
import { parseRfc3339, ruleShapeErrors, validateRules, type FieldError, type MethodRegistry, type Rule, type Subject } from './domain';

export interface RuleJson {
  id: string;
  effect: 'allow' | 'deny';
  subjects: Subject[];
  methods: string[];
  namespaces?: string[];
  sourceCidrs?: string[];
  /** RFC 3339 date-time; the rule is ignored from then on. */
  expiresAt?: string;
  description?: string;
  dryRun?: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The JSON form of a rule (only the fields it has, expiresAt in UTC with milliseconds). */
export function ruleToJson(rule: Rule): RuleJson {
  const out: RuleJson = {
    id: rule.id,
    effect: rule.effect,
    subjects: rule.subjects.map((s) => ({ ...s })),
    methods: [...rule.methods],
  };
  if (rule.namespaces !== undefined) out.namespaces = [...rule.namespaces];
  if (rule.sourceCidrs !== undefined) out.sourceCidrs = [...rule.sourceCidrs];
  if (rule.expiresAt !== undefined) out.expiresAt = rule.expiresAt.toISOString();
  if (rule.description !== undefined) out.description = rule.description;
  if (rule.dryRun !== undefined) out.dryRun = rule.dryRun;
  return out;
}

/**
 * Reads one rule from JSON. Only `expiresAt` is converted (an RFC 3339 string becomes a
 * Date); everything else is taken as given for `validateRules`, which judges the shape.
 * Problems are appended to `errors` under `field` ('' = top level); undefined when the value
 * is unusable.
 */
export function ruleFromJson(value: unknown, field: string, errors: FieldError[]): Rule | undefined {
  if (!isRecord(value)) {
    errors.push({ field: field || 'rule', message: 'must be an object' });
    return undefined;
  }
  const { expiresAt, ...rest } = value;
  if (expiresAt === undefined || expiresAt === null) return rest as unknown as Rule;
  const at = typeof expiresAt === 'string' ? parseRfc3339(expiresAt) : undefined;
  if (at === undefined) {
    errors.push({ field: field === '' ? 'expiresAt' : `${field}.expiresAt`, message: 'must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z' });
    return undefined;
  }
  return { ...rest, expiresAt: at } as unknown as Rule;
}

/**
 * Reads and validates a list of rules from JSON against the served methods. Field paths
 * start with `prefix` (e.g. `authz.policy.rules` → `authz.policy.rules[1].methods[0]`).
 */
export function rulesFromJson(value: unknown, registry: MethodRegistry, prefix = 'rules'): { rules: Rule[]; errors: FieldError[] } {
  if (!Array.isArray(value)) return { rules: [], errors: [{ field: prefix, message: 'must be an array' }] };
  const errors: FieldError[] = [];
  const rules: Rule[] = [];
  value.forEach((item, i) => {
    const rule = ruleFromJson(item, `${prefix}[${i}]`, errors);
    if (rule !== undefined) rules.push(rule);
  });
  if (errors.length > 0) return { rules: [], errors };
  return { rules, errors: renameFields(validateRules(rules, registry), prefix) };
}

/** Splits `rules[<n>]<tail>` (`rules[2].methods[0]` → 2, `.methods[0]`); undefined for other paths. */
export function splitRuleField(field: string, head = 'rules'): { index: number; tail: string } | undefined {
  const open = head + '[';
  if (field.slice(0, open.length) !== open) return undefined;
  let i = open.length;
  let n = 0;
  const start = i;
  for (let d = field.charCodeAt(i) - 0x30; d >= 0 && d <= 9; d = field.charCodeAt(++i) - 0x30) n = n * 10 + d;
  if (i === start || i - start > 9 || field.charAt(i) !== ']') return undefined;
  return { index: n, tail: field.slice(i + 1) };
}

/** Rewrites `rules[i]…` paths to `<prefix>[i]…`. */
export function renameFields(errors: readonly FieldError[], prefix: string): FieldError[] {
  return errors.map((e) => {
    const at = splitRuleField(e.field);
    return at === undefined ? e : { field: `${prefix}[${at.index}]${at.tail}`, message: e.message };
  });
}

/** Errors of `rules[<index>]` with paths relative to that rule (`methods[0]`; `rule` for the rule itself). */
export function ruleRelativeFields(errors: readonly FieldError[], index: number): FieldError[] {
  return errors.map((e) => {
    const at = splitRuleField(e.field);
    if (at === undefined || at.index !== index) return e;
    return { field: at.tail === '' ? 'rule' : at.tail.charAt(0) === '.' ? at.tail.slice(1) : at.tail, message: e.message };
  });
}

/**
 * Problems of `authz.policy.rules` in a configuration's raw input, judged without the served
 * methods (the gateway checks those once it knows them): every problem at once, as
 * `authz.policy.rules[1].effect: must be "allow" or "deny"`. Shapes the config schema
 * already reports (rules not a list, an item not a mapping) are left to it.
 */
export function configRuleProblems(raw: Readonly<Record<string, unknown>>): string[] {
  const authz = raw['authz'];
  const policy = isRecord(authz) ? authz['policy'] : undefined;
  const declared: unknown = isRecord(policy) ? policy['rules'] : undefined;
  if (!Array.isArray(declared)) return [];
  const errors: FieldError[] = [];
  // One entry per declared item, so the shape check's rules[i] is the item's own index; an
  // unreadable expiresAt is reported here and the rest of that rule still judged.
  const rules = declared.map((item: unknown, i): Rule => {
    if (!isRecord(item)) return item as Rule;
    const rule = ruleFromJson(item, `rules[${i}]`, errors);
    if (rule !== undefined) return rule;
    const { expiresAt: _unreadable, ...rest } = item;
    return rest as unknown as Rule;
  });
  const notMappings = new Set(declared.flatMap((item: unknown, i) => (isRecord(item) ? [] : [`rules[${i}]`])));
  errors.push(...ruleShapeErrors(rules).filter((e) => !notMappings.has(e.field)));
  return renameFields(errors, CONFIG_FIELD).map((e) => `${e.field}: ${e.message}`);
}

/** Where the config file declares rules (error paths start with it). */
export const CONFIG_FIELD = 'authz.policy.rules';
