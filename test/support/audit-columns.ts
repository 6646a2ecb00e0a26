import { CODED_COLUMNS } from '../../src/authz/audit/audit-rows';
import { parseArrayLiteral } from './pg-array-literal';

export type AuditColumn = 'at' | 'entry_id' | (typeof CODED_COLUMNS)[number];

/**
 * The rows of the audit INSERT's parameters (`columns` in audit-rows.ts), column by column as
 * PostgreSQL would read them: `at` and `entry_id` as sent, the coded columns looked up in
 * their values (index 0 and indexes past the end are NULL, as PostgreSQL's subscripts are).
 */
export function auditColumns(params: readonly unknown[]): Record<AuditColumn, Array<string | null>> {
  const out = { at: parseArrayLiteral(params[0]), entry_id: parseArrayLiteral(params[1]) } as Record<AuditColumn, Array<string | null>>;
  CODED_COLUMNS.forEach((name, i) => {
    const values = parseArrayLiteral(params[2 + 2 * i]);
    out[name] = parseArrayLiteral(params[3 + 2 * i]).map((index) => values[Number(index) - 1] ?? null);
  });
  return out;
}
