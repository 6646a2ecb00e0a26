/**
 * A policy rule as the admin CLI shows it (`ruleLine`, `ruleDetail`) and builds it from the
 * flags of `policy add` / `policy update` (`withRuleFlags`, `ruleFromOptions`).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Subject } from '../../../authz';
import type { RuleJson } from '../../../authz';
import { ParleyError } from '../../../common';

/** A rule with its metadata, as `GET /v1/policies/{id}` returns it. */
export interface EntryJson {
  position: number;
  source: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  rule: RuleJson;
  problems?: Array<{ field: string; message: string; action: string }>;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function subjectText(s: Subject): string {
  if ('trustDomain' in s) return `td:${s.trustDomain}`;
  if ('spiffeId' in s) return s.spiffeId;
  return `${s.spiffeIdPrefix}/…`;
}

/** One line per rule: position, effect, id, source, subjects -> methods, conditions. */
export function ruleLine(e: EntryJson): string {
  const r = e.rule;
  const conditions = [
    r.namespaces ? `ns=${r.namespaces.join(',')}` : '',
    r.sourceCidrs ? `from=${r.sourceCidrs.join(',')}` : '',
    r.expiresAt ? `until=${r.expiresAt}` : '',
    r.dryRun ? 'DRY-RUN' : '',
  ].filter((c) => c !== '');
  const effect = (r.effect ?? '?').toUpperCase();
  const problems = e.problems ? `  [NOT IN FORCE: ${e.problems.map((p) => `${p.field}: ${p.message} (${p.action})`).join('; ')}]` : '';
  return `${String(e.position).padStart(3)}  ${effect.padEnd(5)}  ${r.id}  (${e.source})  ${(r.subjects ?? []).map(subjectText).join(' ')} -> ${(r.methods ?? []).join(' ')}${conditions.length > 0 ? `  ${conditions.join(' ')}` : ''}${problems}`;
}

/** Several lines describing one rule and its metadata. */
export function ruleDetail(e: EntryJson): string {
  const r = e.rule;
  const lines = [
    `id:          ${r.id}`,
    `effect:      ${r.effect}${r.dryRun ? ' (dry run: matches are reported, not denied)' : ''}`,
    `subjects:    ${(r.subjects ?? []).map(subjectText).join(', ')}`,
    `methods:     ${(r.methods ?? []).join(', ')}`,
  ];
  if (r.namespaces) lines.push(`namespaces:  ${r.namespaces.join(', ')}`);
  if (r.sourceCidrs) lines.push(`source:      ${r.sourceCidrs.join(', ')}`);
  if (r.expiresAt) lines.push(`expires at:  ${r.expiresAt}`);
  if (r.description) lines.push(`description: ${r.description}`);
  lines.push(`position:    ${e.position}`, `source:      ${e.source}`, `created by:  ${e.createdBy} at ${e.createdAt}`, `updated at:  ${e.updatedAt}`);
  for (const p of e.problems ?? []) lines.push(`NOT IN FORCE: ${p.field}: ${p.message} (${p.action})`);
  return lines.join('\n');
}

/** The flags that describe a rule (`policy add`, `policy update`). */
export interface RuleOptions {
  file?: string;
  effect?: string;
  trustDomain?: string[];
  spiffeId?: string[];
  spiffeIdPrefix?: string[];
  method?: string[];
  namespace?: string[];
  sourceCidr?: string[];
  expiresAt?: string;
  dryRun?: boolean;
  description?: string;
}

/** The rule flags besides --file (and --id). */
const RULE_FLAGS = ['effect', 'trustDomain', 'spiffeId', 'spiffeIdPrefix', 'method', 'namespace', 'sourceCidr', 'expiresAt', 'dryRun', 'description'] as const;

/** The rule flags that were given, besides `except`. */
export function givenRuleFlags(o: RuleOptions, except: ReadonlyArray<keyof RuleOptions> = []): Array<keyof RuleOptions> {
  return RULE_FLAGS.filter((k) => o[k] !== undefined && !except.includes(k));
}

/**
 * The rule of `policy add` / `policy update` (`what` names the command in messages): from
 * --file (JSON), or from the flags with `id` (from --id, or the argument of update).
 */
export async function ruleFromOptions(what: string, o: RuleOptions, id: string | undefined, idFlag: boolean): Promise<Record<string, unknown>> {
  if (o.file !== undefined) {
    if (givenRuleFlags(o).length > 0 || (idFlag && id !== undefined)) throw new ParleyError('invalid_argument', `${what}: give either --file or the rule flags, not both`);
    const text = await readFile(o.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new ParleyError('invalid_argument', `${what}: cannot read ${o.file}: ${err.code ?? err.message}`);
    });
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ParleyError('invalid_argument', `${what}: ${o.file} is not JSON`);
    }
  }
  if (id === undefined || o.effect === undefined) throw new ParleyError('invalid_argument', `${what}: ${idFlag ? '--id and --effect are' : '--effect is'} required (or give --file)`);
  const subjects = [
    ...(o.trustDomain ?? []).map((trustDomain) => ({ trustDomain })),
    ...(o.spiffeId ?? []).map((spiffeId) => ({ spiffeId })),
    ...(o.spiffeIdPrefix ?? []).map((spiffeIdPrefix) => ({ spiffeIdPrefix })),
  ];
  const rule: Record<string, unknown> = { id, effect: o.effect, subjects, methods: o.method ?? [] };
  if (o.namespace) rule.namespaces = o.namespace;
  if (o.sourceCidr) rule.sourceCidrs = o.sourceCidr;
  if (o.expiresAt) rule.expiresAt = o.expiresAt;
  if (o.dryRun) rule.dryRun = true;
  if (o.description !== undefined) rule.description = o.description;
  return rule;
}

/** Adds the rule flags shared by `policy add` and `policy update` (after --id, where add has it). */
export function withRuleFlags(cmd: Command, dryRun: string): Command {
  return cmd
    .option('--effect <allow|deny>', 'allow or deny')
    .option('--trust-domain <name>', 'subject: a trust domain, or own | federated | any (repeatable)', collect)
    .option('--spiffe-id <id>', 'subject: exactly this SPIFFE ID (repeatable)', collect)
    .option('--spiffe-id-prefix <id>', 'subject: this SPIFFE ID and every ID below it (repeatable)', collect)
    .option('--method <method>', 'full method, /pkg.Service/* or * (repeatable)', collect)
    .option('--namespace <ns>', 'only calls in this namespace or below (repeatable)', collect)
    .option('--source-cidr <cidr>', 'only calls from this address block (repeatable)', collect)
    .option('--expires-at <time>', 'ignore the rule from this instant on (RFC 3339)')
    .option('--dry-run', dryRun)
    .option('--description <text>', 'free text');
}
