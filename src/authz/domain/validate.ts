/**
 * Field-level validation of policy rules. `ruleShapeErrors` needs nothing but the rules
 * (compilePolicy refuses rules that fail it); `validateRules` adds the checks against the
 * served methods. Messages name the problem, never echo secrets (rules hold none).
 */
import { SpiffeId, TrustDomain } from '../../spiffe';
import { parseCidr } from './cidr';
import { parseMethodPattern, type MethodRegistry } from './methods';
import { namespaceError } from './namespace';
import { TRUST_DOMAIN_KEYWORDS, type FieldError, type Rule } from './rule';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : 'invalid';
}

const SUBJECT_KINDS = ['trustDomain', 'spiffeId', 'spiffeIdPrefix'] as const;
const RULE_KEYS: ReadonlySet<string> = new Set([
  'id',
  'effect',
  'subjects',
  'methods',
  'namespaces',
  'sourceCidrs',
  'expiresAt',
  'description',
  'dryRun',
]);

/** Checks a bare trust-domain name (not a `spiffe://` URI) with the SPIFFE core parser. */
export function trustDomainNameError(name: string): string | undefined {
  try {
    const td = TrustDomain.parse(name);
    return td.name === name ? undefined : 'must be a bare trust domain name, not a SPIFFE ID';
  } catch (err) {
    return reasonOf(err);
  }
}

function subjectErrors(subject: unknown, field: string, out: FieldError[]): void {
  if (!isRecord(subject)) {
    out.push({ field, message: 'must be an object' });
    return;
  }
  const keys = Object.keys(subject);
  const kinds = SUBJECT_KINDS.filter((k) => subject[k] !== undefined);
  if (kinds.length !== 1 || keys.length !== 1) {
    out.push({ field, message: 'must have exactly one of trustDomain, spiffeId, spiffeIdPrefix' });
    return;
  }
  const kind = kinds[0]!;
  const value = subject[kind];
  const f = `${field}.${kind}`;
  if (typeof value !== 'string') {
    out.push({ field: f, message: 'must be a string' });
    return;
  }
  if (kind === 'trustDomain') {
    if (TRUST_DOMAIN_KEYWORDS.has(value)) return;
    const why = trustDomainNameError(value);
    if (why !== undefined) out.push({ field: f, message: why });
    return;
  }
  try {
    SpiffeId.parse(value);
  } catch (err) {
    out.push({ field: f, message: reasonOf(err) });
  }
}

function listErrors(
  rule: Record<string, unknown>,
  key: string,
  field: string,
  required: boolean,
  out: FieldError[],
  each: (item: unknown, itemField: string) => void,
): void {
  const list = rule[key];
  if (list === undefined && !required) return;
  if (!Array.isArray(list)) {
    out.push({ field: `${field}.${key}`, message: 'must be an array' });
    return;
  }
  if (list.length === 0) {
    out.push({ field: `${field}.${key}`, message: required ? 'must not be empty' : 'must not be empty when present' });
    return;
  }
  list.forEach((item, j) => each(item, `${field}.${key}[${j}]`));
}

/** Structural checks that need no registry. */
export function ruleShapeErrors(rules: readonly Rule[]): FieldError[] {
  const out: FieldError[] = [];
  if (!Array.isArray(rules)) return [{ field: 'rules', message: 'must be an array' }];
  const seen = new Map<string, number>();
  rules.forEach((raw: unknown, i) => {
    const field = `rules[${i}]`;
    if (!isRecord(raw)) {
      out.push({ field, message: 'must be an object' });
      return;
    }
    for (const key of Object.keys(raw)) {
      if (!RULE_KEYS.has(key)) out.push({ field: `${field}.${key}`, message: 'unknown field' });
    }
    const id = raw['id'];
    if (typeof id !== 'string' || id.length === 0) {
      out.push({ field: `${field}.id`, message: 'must be a non-empty string' });
    } else if (seen.has(id)) {
      out.push({ field: `${field}.id`, message: `duplicate rule id (first used by rules[${seen.get(id)!}])` });
    } else {
      seen.set(id, i);
    }
    const effect = raw['effect'];
    if (effect !== 'allow' && effect !== 'deny') out.push({ field: `${field}.effect`, message: 'must be "allow" or "deny"' });
    listErrors(raw, 'subjects', field, true, out, (s, f) => subjectErrors(s, f, out));
    listErrors(raw, 'methods', field, true, out, (m, f) => {
      if (typeof m !== 'string' || parseMethodPattern(m) === undefined) {
        out.push({ field: f, message: 'must be "/pkg.Service/Method", "/pkg.Service/*" or "*"' });
      }
    });
    listErrors(raw, 'namespaces', field, false, out, (ns, f) => {
      const why = namespaceError(ns);
      if (why !== undefined) out.push({ field: f, message: `must be a namespace like "team" or "team/ml": ${why}` });
    });
    listErrors(raw, 'sourceCidrs', field, false, out, (c, f) => {
      const parsed = typeof c === 'string' ? parseCidr(c) : 'must be a string';
      if (typeof parsed === 'string') out.push({ field: f, message: `bad CIDR: ${parsed}` });
    });
    const expiresAt = raw['expiresAt'];
    if (expiresAt !== undefined && !(expiresAt instanceof Date && !Number.isNaN(expiresAt.getTime()))) {
      out.push({ field: `${field}.expiresAt`, message: 'must be a valid Date' });
    }
    const description = raw['description'];
    if (description !== undefined && typeof description !== 'string') {
      out.push({ field: `${field}.description`, message: 'must be a string' });
    }
    const dryRun = raw['dryRun'];
    if (dryRun !== undefined && typeof dryRun !== 'boolean') {
      out.push({ field: `${field}.dryRun`, message: 'must be a boolean' });
    } else if (dryRun === true && effect === 'allow') {
      out.push({ field: `${field}.dryRun`, message: 'dry run is only supported on deny rules' });
    }
  });
  return out;
}

/**
 * All field errors of `rules`: the structural ones plus methods the gateway does not serve
 * and service wildcards of services it does not serve. Empty means valid.
 */
export function validateRules(rules: readonly Rule[], methodRegistry: MethodRegistry): FieldError[] {
  const out = ruleShapeErrors(rules);
  if (!Array.isArray(rules)) return out;
  rules.forEach((raw: unknown, i) => {
    if (!isRecord(raw) || !Array.isArray(raw['methods'])) return;
    (raw['methods'] as unknown[]).forEach((m, j) => {
      if (typeof m !== 'string') return;
      const p = parseMethodPattern(m);
      if (p === undefined) return;
      const field = `rules[${i}].methods[${j}]`;
      if (p.kind === 'method' && !methodRegistry.has(m)) out.push({ field, message: 'unknown method (not served)' });
      if (p.kind === 'service' && !methodRegistry.hasService(p.service)) out.push({ field, message: 'unknown service (not served)' });
    });
  });
  return out;
}
