/**
 * Import of a Directory-style Casbin policy CSV (`p, <trust_domain>, <api_method>` lines read
 * with the model `(keyMatch(r.td, p.td) || regexMatch(r.td, p.td)) && (same for api_method)`)
 * into exact allow rules, with a report of every line whose meaning changes.
 *
 * Line handling (every source line gets one report entry, numbered from 1):
 * - blank lines and `#` comments: `skipped` (message "blank line" / "comment"), like Casbin.
 * - `p` lines: one allow rule `casbin-L<line>`; `imported` when Casbin admits exactly what
 *   the rule admits, `differs` (with the differences) when not, `error` (no rule) when the
 *   line cannot be expressed exactly or names a method the gateway does not serve.
 *   Identical rules are kept once; repeats are `skipped` and name the first line's rule.
 * - `g…` and `p2…` lines: `skipped`; Directory's model defines neither, Casbin ignores them.
 * - anything else (unknown line type, bad CSV quoting, missing fields): `error`.
 * Fields are CSV (`"…"` quoting, `""` for a quote) and trimmed, as Casbin's loaders do; fields
 * after the second are ignored by Directory's model and reported in the message.
 *
 * Casbin's view is computed, not guessed: keyMatch (`*` admits any suffix from its
 * position) and an evaluator for the regular-expression subset policies use (literals, `.`,
 * escapes, `\d \w \s`, `* + ?`, `^`, `$`; anything else is refused, never approximated).
 * Methods are compared over the served methods; trust domains, an open set, always differ
 * for a named domain, since an unanchored regex admits every name containing it.
 */
import { parseFullMethod, type MethodRegistry } from './methods';
import { TRUST_DOMAIN_KEYWORDS, type Rule, type Subject } from './rule';
import { trustDomainNameError } from './validate';
import { casbinAdmits, compileSimpleRegex, find, firstMeta, keyMatch, simpleRegexMatches, STAR } from './casbin-match';

export type CasbinLineStatus = 'imported' | 'differs' | 'skipped' | 'error';

export interface CasbinImportLine {
  line: number;
  text: string;
  status: CasbinLineStatus;
  message?: string;
  ruleId?: string;
}

export interface CasbinImport {
  rules: Rule[];
  lines: CasbinImportLine[];
}

export interface CasbinImportOptions {
  /** The gateway's trust domain (lookalike reports say when a line also admitted it). */
  ownTrustDomain: string;
  /** The served methods; lines naming anything else are errors. */
  registry: MethodRegistry;
}

/**
 * Directory's default policy names this service, but Directory serves SyncService in package
 * agntcy.dir.store.v1: under Directory such lines matched nothing.
 */
const MISNAMED_SYNC = 'agntcy.dir.sync.v1.SyncService';

/** Directory's gRPC services → Parley's (method names are the same). */
export const DIRECTORY_SERVICES: ReadonlyMap<string, string> = new Map([
  ['agntcy.dir.store.v1.StoreService', 'parley.store.v1.StoreService'],
  ['agntcy.dir.store.v1.SyncService', 'parley.sync.v1.SyncService'],
  [MISNAMED_SYNC, 'parley.sync.v1.SyncService'],
]);

const SLASH = 0x2f;
const QUOTE = 0x22;
const COMMA = 0x2c;
const MAX_QUOTED = 120;

/** Quotes untrusted text for a message, clipped. */
function q(s: string): string {
  return JSON.stringify(s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s);
}


const isBlank = (c: number): boolean => c === 0x20 || c === 0x09;

/** Splits one CSV record into trimmed fields, or returns what is wrong with it. */
function splitCsv(text: string): string[] | string {
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    while (i < n && isBlank(text.charCodeAt(i))) i++;
    let field = '';
    if (i < n && text.charCodeAt(i) === QUOTE) {
      let closed = false;
      for (i++; i < n; i++) {
        if (text.charCodeAt(i) !== QUOTE) field += text[i];
        else if (text.charCodeAt(i + 1) === QUOTE) field += text[i++];
        else {
          closed = true;
          i++;
          break;
        }
      }
      if (!closed) return 'unterminated quoted field';
      while (i < n && isBlank(text.charCodeAt(i))) i++;
      if (i < n && text.charCodeAt(i) !== COMMA) return 'text after a quoted field';
    } else {
      const from = i;
      for (; i < n && text.charCodeAt(i) !== COMMA; i++) {
        if (text.charCodeAt(i) === QUOTE) return 'quote inside an unquoted field';
      }
      field = text.slice(from, i);
    }
    out.push(field.trim());
    if (i >= n) return out;
    i++;
  }
}

// ---- fields ----------------------------------------------------------------------------

type Analysis<T> = { readonly error: string } | { readonly value: T; readonly differs: string[] };

function analyzeSubject(v: string, own: string): Analysis<Subject> {
  if (v === '*') return { value: { trustDomain: 'any' }, differs: [] };
  const ownNote = casbinAdmits(own, v) === true && own !== v ? `; it admits the own trust domain ${q(own)}` : '';
  const star = find(v, STAR);
  const meta = firstMeta(v);
  if (star >= 0 || meta !== undefined) {
    const prefix = star >= 0 ? v.slice(0, star) : '';
    const what: string[] = [];
    if (star === 0) what.push('every trust domain (keyMatch: "*" admits any suffix)');
    else if (star > 0 && firstMeta(prefix) === undefined) what.push(`every trust domain starting with ${q(prefix)} (keyMatch: "*" admits any suffix from its position)`);
    if (star !== 0) what.push('every trust domain its regular expression matches (regexMatch, unanchored unless "^"/"$")');
    return { error: `pattern: under Casbin ${q(v)} admits ${what.join(' and ')}${ownNote}; not imported, list the trust domains` };
  }
  const why = trustDomainNameError(v);
  if (why !== undefined) return { error: `invalid trust domain ${q(v)}: ${why}` };
  // A trust domain named like a keyword is named through its SPIFFE ID prefix.
  const value: Subject = TRUST_DOMAIN_KEYWORDS.has(v) ? { spiffeIdPrefix: `spiffe://${v}` } : { trustDomain: v };
  const dot = find(v, 0x2e);
  const examples = [`${v}.evil.example`, `evil-${v}`];
  if (dot >= 0) examples.push(`${v.slice(0, dot)}x${v.slice(dot + 1)}`);
  const how = dot >= 0 ? 'unanchored, "." matches any character' : 'unanchored';
  const ownLost = ownNote === '' ? '' : `; it also admitted the own trust domain ${q(own)}, the import does not`;
  return { value, differs: [`trust domain: under Casbin regexMatch (${how}) ${q(v)} also admits ${examples.map(q).join(', ')}, …; imported as exactly ${q(v)}${ownLost}`] };
}

/** Served methods Casbin admits for `pattern`, and whether its regex part was evaluated. */
function admittedMethods(registry: MethodRegistry, pattern: string): { methods: string[]; evaluated: boolean } {
  const re = compileSimpleRegex(pattern);
  const served = registry.methods();
  const methods = served.filter((m) => keyMatch(m, pattern) || (re !== undefined && simpleRegexMatches(re, m)));
  return { methods, evaluated: re !== undefined || methods.length === served.length };
}

function listMethods(a: { methods: string[]; evaluated: boolean }): string {
  const list = a.methods.length === 0 ? 'no served method' : a.methods.join(', ');
  return a.evaluated ? list : `${list} (its regular expression was not evaluated)`;
}

function analyzeMethod(v: string, registry: MethodRegistry): Analysis<string> {
  if (v === '*') return { value: '*', differs: [] };
  const differs: string[] = [];
  let mapped = v;
  const second = v.charCodeAt(0) === SLASH ? find(v.slice(1), SLASH) + 1 : 0;
  if (second > 0) {
    const service = v.slice(1, second);
    const target = DIRECTORY_SERVICES.get(service);
    if (target !== undefined) mapped = `/${target}${v.slice(second)}`;
    if (service === MISNAMED_SYNC) {
      differs.push(`Directory serves SyncService as agntcy.dir.store.v1.SyncService, so under Directory ${q(v)} matched no method and granted nothing; imported as ${q(mapped)}`);
    }
  }
  const shown = mapped === v ? q(v) : `${q(v)} (${mapped})`;
  const star = find(mapped, STAR);
  if (star === mapped.length - 1 && mapped.charCodeAt(0) === SLASH && mapped.charCodeAt(star - 1) === SLASH) {
    const service = mapped.slice(1, star - 1);
    if (parseFullMethod(`/${service}/x`) !== undefined) {
      if (!registry.hasService(service)) return { error: `unknown service ${shown} (not served)` };
      const extra = admittedMethods(registry, mapped);
      const others = extra.methods.filter((m) => parseFullMethod(m)?.service !== service);
      if (others.length > 0) differs.push(`method: under Casbin regexMatch ${q(v)} also admits ${others.join(', ')}`);
      return { value: mapped, differs };
    }
  }
  if (star >= 0) {
    return { error: `keyMatch wildcard other than "/<service>/*": "*" admits any suffix from its position, so under Casbin ${shown} admits ${listMethods(admittedMethods(registry, mapped))}; not imported, name the methods or use "/<service>/*"` };
  }
  const meta = firstMeta(mapped);
  if (meta !== undefined) {
    return { error: `regular expression (${q(meta)}): under Casbin ${shown} admits ${listMethods(admittedMethods(registry, mapped))}; not imported, name the methods` };
  }
  if (parseFullMethod(mapped) === undefined) {
    return { error: `malformed method ${q(v)}: expected "/<package.Service>/<Method>", "/<package.Service>/*" or "*"` };
  }
  if (!registry.has(mapped)) return { error: `unknown method ${shown} (not served)` };
  const extra = admittedMethods(registry, mapped).methods.filter((m) => m !== mapped);
  if (extra.length > 0) {
    differs.push(`method: under Casbin regexMatch (unanchored) ${q(v)} also admits ${extra.join(', ')}; imported as exactly ${mapped}`);
  }
  return { value: mapped, differs };
}

// ---- import ----------------------------------------------------------------------------

function subjectKey(s: Subject): string {
  return 'trustDomain' in s ? `td:${s.trustDomain}` : 'spiffeId' in s ? `id:${s.spiffeId}` : `prefix:${s.spiffeIdPrefix}`;
}

interface ImportState {
  readonly options: CasbinImportOptions;
  /** Rule key → id of the rule first granting it. */
  readonly seen: Map<string, string>;
  /** api_method field → its analysis (policies repeat methods on many lines). */
  readonly methods: Map<string, Analysis<string>>;
  readonly rules: Rule[];
}

function importLine(text: string, line: number, state: ImportState): CasbinImportLine {
  const { options, seen, rules } = state;
  const trimmed = text.trim();
  if (trimmed === '') return { line, text, status: 'skipped', message: 'blank line' };
  if (trimmed.charCodeAt(0) === 0x23) return { line, text, status: 'skipped', message: 'comment' };
  const fields = splitCsv(trimmed);
  if (typeof fields === 'string') return { line, text, status: 'error', message: `malformed CSV: ${fields}` };
  const type = fields[0]!;
  if (type !== 'p') {
    const digits = (s: string): boolean => [...s].every((c) => c >= '0' && c <= '9');
    if (type.length > 0 && type[0] === 'g' && digits(type.slice(1))) {
      return { line, text, status: 'skipped', message: `role line ${q(type)}: Directory's model defines no roles, Casbin ignores it; nothing imported` };
    }
    if (type.length > 1 && type[0] === 'p' && digits(type.slice(1))) {
      return { line, text, status: 'skipped', message: `policy type ${q(type)} is not in Directory's model, Casbin ignores it; nothing imported` };
    }
    return { line, text, status: 'error', message: `unknown line type ${q(type)} (expected "p")` };
  }
  if (fields.length < 3 || fields[1] === '' || fields[2] === '') {
    return { line, text, status: 'error', message: 'malformed policy line: expected "p, <trust_domain>, <api_method>"' };
  }
  const subject = analyzeSubject(fields[1]!, options.ownTrustDomain);
  if ('error' in subject) return { line, text, status: 'error', message: subject.error };
  let method = state.methods.get(fields[2]!);
  if (method === undefined) {
    method = analyzeMethod(fields[2]!, options.registry);
    if (state.methods.size < 10_000) state.methods.set(fields[2]!, method);
  }
  if ('error' in method) return { line, text, status: 'error', message: method.error };
  const notes = [...subject.differs, ...method.differs];
  const extra = fields.slice(3).filter((f) => f !== '');
  const extraNote = extra.length === 0 ? [] : [`fields after api_method ignored (Directory's model has none): ${extra.map(q).join(', ')}`];
  const status: CasbinLineStatus = notes.length > 0 ? 'differs' : 'imported';
  const message = [...notes, ...extraNote].join('; ') || undefined;
  const key = `${subjectKey(subject.value)}\n${method.value}`;
  const first = seen.get(key);
  if (first !== undefined) {
    return { line, text, status: 'skipped', message: `duplicate: rule ${first} already grants this`, ruleId: first };
  }
  const id = `casbin-L${line}`;
  seen.set(key, id);
  rules.push({
    id,
    effect: 'allow',
    subjects: [subject.value],
    methods: [method.value],
    description: `casbin line ${line}: ${q(trimmed)}`,
  });
  return message === undefined ? { line, text, status, ruleId: id } : { line, text, status, message, ruleId: id };
}

/**
 * Imports a Casbin policy CSV (Directory's model) as exact allow rules. Never throws on any
 * CSV text; every source line is reported.
 * @throws TypeError when the options are invalid (a programming error, not bad input)
 */
export function importCasbinPolicy(csv: string, options: CasbinImportOptions): CasbinImport {
  const why = typeof options?.ownTrustDomain === 'string' ? trustDomainNameError(options.ownTrustDomain) : 'must be a string';
  if (why !== undefined) throw new TypeError(`importCasbinPolicy: ownTrustDomain ${why}`);
  if (typeof options.registry?.has !== 'function') throw new TypeError('importCasbinPolicy: registry must be a MethodRegistry');
  const rules: Rule[] = [];
  if (typeof csv !== 'string') return { rules, lines: [{ line: 1, text: '', status: 'error', message: 'policy must be text' }] };
  const raw = csv.split('\n');
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
  const state: ImportState = { options, seen: new Map(), methods: new Map(), rules };
  const lines = raw.map((r, i) => {
    const text = r.length > 0 && r.charCodeAt(r.length - 1) === 0x0d ? r.slice(0, -1) : r;
    return importLine(text, i + 1, state);
  });
  return { rules, lines };
}
