/**
 * `parley doctor`'s sequencing: checks run in order; each says in words what it found; the
 * first hard failure stops the run (later checks need what it would have given) and sets a
 * non-zero exit code. Warnings never stop the run. Pure: checks are injected functions.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skipped';

export interface CheckOutcome {
  status: CheckStatus;
  /** What was found, one sentence. */
  summary: string;
  /** What to do about it (warn/fail), one line each. */
  hints?: string[];
  /** Facts for --json (identifiers, times). */
  facts?: Record<string, string | number | boolean>;
}

export interface Check {
  /** Stable key for --json (e.g. "identity"). */
  name: string;
  /** What is checked, for people ("own SVID"). */
  title: string;
  run(): Promise<CheckOutcome>;
}

export interface CheckResult extends CheckOutcome {
  name: string;
  title: string;
  status: CheckStatus;
}

export interface DoctorReport {
  ok: boolean;
  /** 0 when no check failed, else 1. */
  exitCode: 0 | 1;
  checks: CheckResult[];
}

/** Runs the checks in order; after the first failure the rest are reported as skipped. */
export async function runChecks(checks: readonly Check[]): Promise<DoctorReport> {
  const results: CheckResult[] = [];
  let failed: CheckResult | undefined;
  for (const check of checks) {
    if (failed !== undefined) {
      results.push({ name: check.name, title: check.title, status: 'skipped', summary: `not checked: "${failed.title}" failed` });
      continue;
    }
    let outcome: CheckOutcome;
    try {
      outcome = await check.run();
    } catch (err) {
      outcome = { status: 'fail', summary: `the check could not run: ${err instanceof Error ? err.message : String(err)}` };
    }
    const result: CheckResult = { name: check.name, title: check.title, ...outcome };
    results.push(result);
    if (outcome.status === 'fail') failed = result;
  }
  return { ok: failed === undefined, exitCode: failed === undefined ? 0 : 1, checks: results };
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skipped: 'skip' };

/** The report for people: one line per check, hints indented under it, a verdict at the end. */
export function renderReport(report: DoctorReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`[${MARK[c.status]}] ${c.title}: ${c.summary}`);
    for (const hint of c.hints ?? []) lines.push(`       ${hint}`);
  }
  const failed = report.checks.find((c) => c.status === 'fail');
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  if (failed !== undefined) lines.push(`doctor: "${failed.title}" failed; fix it and run parley doctor again`);
  else lines.push(warned > 0 ? `doctor: no failures, ${warned} warning${warned === 1 ? '' : 's'}` : 'doctor: everything checked is fine');
  return `${lines.join('\n')}\n`;
}
