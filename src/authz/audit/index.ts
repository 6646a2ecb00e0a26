/** The authorization audit trail: the writer (AuditSink), the reader and the pure parts. */
export { AuditWriter } from './audit-writer';
export type { AuditSettings, AuditWriterOptions } from './audit-writer';
export { AuditSpool, openGatewaySpool } from './audit-spool';
export type { AuditSpoolOptions, SpoolRead } from './audit-spool';
export { AuditRepository } from './audit-query';
export type { AuditDatabase } from './audit-query';
export * from './domain';
