/**
 * Rule ids of a Casbin import (`casbin-L<line>`) that rules staying in the policy already use:
 * a second import of the same file appends the same ids. Reported per CSV line, saying what to do.
 */
import type { CasbinImport } from './casbin-import';

export interface CasbinIdConflict {
  /** `csv:<line>`, as the other import errors name their line. */
  readonly field: string;
  readonly message: string;
}

/**
 * `kept`: the rules that stay besides the imported ones (every rule when appending, the
 * config-declared ones when replacing).
 */
export function casbinIdConflicts(report: CasbinImport, kept: ReadonlyArray<{ id: string; source: string }>, mode: 'append' | 'replace'): CasbinIdConflict[] {
  const byId = new Map(kept.map((r) => [r.id, r.source]));
  const out: CasbinIdConflict[] = [];
  for (const line of report.lines) {
    if ((line.status !== 'imported' && line.status !== 'differs') || line.ruleId === undefined) continue;
    const source = byId.get(line.ruleId);
    if (source === undefined) continue;
    const fix =
      mode === 'append' && source !== 'config'
        ? 'already in the policy (imported before?); --replace replaces every rule not declared in the config file, or remove it first (parley admin policy rm)'
        : 'already declared in the config file (authz.policy.rules); rename that rule';
    out.push({ field: `csv:${line.line}`, message: `rule id ${line.ruleId} ${fix}` });
  }
  return out;
}
