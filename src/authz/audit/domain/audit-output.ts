/** How a stored decision is shown: the JSON object of the admin API and the CSV columns. */
import type { AuditEntry } from './audit-types';
import { csvRow } from './csv';
import { formatMicros } from '../../domain/rfc3339';

export interface AuditEntryJson {
  id: string;
  at: string;
  spiffeId: string;
  trustDomain: string;
  sourceAddress: string;
  method: string;
  namespace: string | null;
  decision: 'allow' | 'deny';
  rule: string | null;
  reason: string;
  dryRunDenied: string[];
}

export function auditEntryJson(e: AuditEntry): AuditEntryJson {
  return {
    id: e.id.toString(),
    at: formatMicros(e.atMicros),
    spiffeId: e.spiffeId,
    trustDomain: e.trustDomain,
    sourceAddress: e.sourceAddress,
    method: e.method,
    namespace: e.namespace ?? null,
    decision: e.decision,
    rule: e.rule ?? null,
    reason: e.reason,
    dryRunDenied: [...e.dryRunDenied],
  };
}

export const AUDIT_CSV_COLUMNS = ['id', 'at', 'spiffe_id', 'trust_domain', 'source_address', 'method', 'namespace', 'decision', 'rule', 'reason', 'dry_run_denied'] as const;

export const AUDIT_CSV_HEADER = csvRow(AUDIT_CSV_COLUMNS);

/** One CSV record; several dry-run deny rules share their cell, joined with ";" (the JSON form keeps them apart). */
export function auditCsvRow(e: AuditEntry): string {
  return csvRow([
    e.id.toString(),
    formatMicros(e.atMicros),
    e.spiffeId,
    e.trustDomain,
    e.sourceAddress,
    e.method,
    e.namespace ?? '',
    e.decision,
    e.rule ?? '',
    e.reason,
    e.dryRunDenied.join(';'),
  ]);
}
