export { BoundedQueue } from './bounded-queue';
export { parseAuditQuery, AUDIT_QUERY_PARAMS, DEFAULT_AUDIT_PAGE, MAX_AUDIT_CSV_ROWS, MAX_AUDIT_PAGE } from './audit-filter';
export type { AuditQueryOptions, AuditQuery, AuditQueryResult, AuditFieldError, AuditFormat } from './audit-filter';
export { encodeAuditCursor, decodeAuditCursor } from './audit-cursor';
export type { AuditCursor, AuditDecision, AuditEntry, AuditFilter } from './audit-types';
export { auditCsvRow, auditEntryJson, AUDIT_CSV_COLUMNS, AUDIT_CSV_HEADER } from './audit-output';
export type { AuditEntryJson } from './audit-output';
export { csvCell, csvRow } from './csv';
