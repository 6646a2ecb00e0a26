/** The log line per authorization decision (authz.audit.log). */
import type { Logger } from 'pino';
import type { AuditRecord } from '../ports';

export type DecisionLogMode = 'deny' | 'all' | 'none';

/** deny: denials at info, allows at debug; all: both at info; none: no line. */
export function logDecision(logger: Logger, mode: DecisionLogMode, e: AuditRecord): void {
  if (mode === 'none') return;
  const level = e.decision !== 'allow' || mode === 'all' ? 'info' : 'debug';
  if (!logger.isLevelEnabled(level)) return;
  logger[level](
    {
      spiffeId: e.spiffeId,
      trustDomain: e.trustDomain,
      sourceAddress: e.sourceAddress,
      method: e.method,
      namespace: e.namespace,
      decision: e.decision,
      rule: e.rule,
      reason: e.reason,
      dryRunDenied: e.dryRunDenied !== undefined && e.dryRunDenied.length > 0 ? e.dryRunDenied : undefined,
    },
    e.decision === 'allow' ? 'authorization allowed' : 'authorization denied',
  );
}
