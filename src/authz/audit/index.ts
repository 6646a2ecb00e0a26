/** The authorization audit trail: the writer (AuditSink), the reader and the pure parts. */
export { AuditWriter } from './audit-writer';
export type { AuditSettings, AuditStorage, AuditWriterOptions, AuditWriterSettings } from './audit-writer';
export { AuditSpool, openGatewaySpool } from './audit-spool';
export type { AuditSpoolOptions, SpoolRead } from './audit-spool';
export { AuditRepository } from './audit.repository';
export type { AuditDatabase } from './audit.repository';
export * from './domain';
