/**
 * Readiness as a registry of named checks, each answering ok or not-ok with a reason.
 * Modules register their own conditions (database, identity, federation, ...); /readyz
 * reports every check so an operator sees why the gateway is not ready.
 */
export interface CheckResult {
  ok: boolean;
  /** Why the check fails (or a short status when it passes). Never a secret. */
  reason?: string;
  /** Extra structured status for operators (e.g. per-partner federation state). */
  details?: Record<string, unknown>;
}

export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

export interface CheckReport extends CheckResult {
  name: string;
  durationMs: number;
  /** A non-critical check is reported but does not make the gateway unready. */
  critical: boolean;
}

export interface ReadinessReport {
  ready: boolean;
  checks: CheckReport[];
}

export class ReadinessRegistry {
  private readonly checks = new Map<string, { check: ReadinessCheck; critical: boolean }>();

  register(name: string, check: ReadinessCheck, options: { critical?: boolean } = {}): void {
    if (this.checks.has(name)) throw new TypeError(`readiness check ${name} is already registered`);
    this.checks.set(name, { check, critical: options.critical ?? true });
  }

  unregister(name: string): void {
    this.checks.delete(name);
  }

  names(): string[] {
    return [...this.checks.keys()];
  }

  /** Runs every check concurrently, each bounded by `timeoutMs`; a throwing check fails with its message. */
  async evaluate(timeoutMs: number): Promise<ReadinessReport> {
    const reports = await Promise.all(
      [...this.checks.entries()].map(async ([name, { check, critical }]) => {
        const started = performance.now();
        const result = await withTimeout(check, timeoutMs);
        return { name, critical, ...result, durationMs: Math.round((performance.now() - started) * 10) / 10 };
      }),
    );
    return { ready: reports.every((r) => r.ok || !r.critical), checks: reports };
  }
}

async function withTimeout(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `check timed out after ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(check), timeout]);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
