/**
 * Policy rules as JSON (admin API, CLI, config file, the authz_rules.rule column): the Rule
 * model with `expiresAt` as an RFC 3339 string. Parsing keeps field paths so a caller can
 * name exactly what is wrong (`rules[1].methods[0]`, `expiresAt`).
 */
import { validateRules, type FieldError, type MethodRegistry, type Rule, type Subject } from './domain';

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
  while (i < field.length && digits(field, i, 1) !== undefined) n = n * 10 + digits(field, i++, 1)!;
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

function digits(s: string, from: number, count: number): number | undefined {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) return undefined;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/**
 * An RFC 3339 date-time (`2030-01-31T12:00:00Z`, `…T12:00:00.5+02:00`) as a Date, or
 * undefined when malformed or not a real instant. Digits below a millisecond are dropped.
 */
export function parseRfc3339(s: string): Date | undefined {
  if (typeof s !== 'string' || s.length < 20 || s.length > 40) return undefined;
  const sepOk = s.charAt(4) === '-' && s.charAt(7) === '-' && (s.charAt(10) === 'T' || s.charAt(10) === 't') && s.charAt(13) === ':' && s.charAt(16) === ':';
  if (!sepOk) return undefined;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (year === undefined || month === undefined || day === undefined || hour === undefined || minute === undefined || second === undefined) return undefined;
  let i = 19;
  let ms = 0;
  if (s.charAt(i) === '.') {
    const start = ++i;
    while (i < s.length && digits(s, i, 1) !== undefined) i++;
    const count = i - start;
    if (count === 0 || count > 9) return undefined;
    ms = Number((s.slice(start, i) + '00').slice(0, 3));
  }
  let offsetMinutes: number;
  const zone = s.charAt(i);
  if (zone === 'Z' || zone === 'z') {
    if (i + 1 !== s.length) return undefined;
    offsetMinutes = 0;
  } else if (zone === '+' || zone === '-') {
    if (i + 6 !== s.length || s.charAt(i + 3) !== ':') return undefined;
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh === undefined || om === undefined || oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone === '-' ? -1 : 1) * (oh * 60 + om);
  } else {
    return undefined;
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || d.getUTCHours() !== hour || d.getUTCMinutes() !== minute || d.getUTCSeconds() !== second) {
    return undefined;
  }
  return new Date(d.getTime() - offsetMinutes * 60_000);
}
