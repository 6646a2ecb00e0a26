/** The shapes shared by the audit trail's query, cursor and output code. */
export type AuditDecision = 'allow' | 'deny';

/** Filters of the audit trail: all optional, combined with AND; values already validated. */
export interface AuditFilter {
  readonly spiffeId?: string;
  readonly trustDomain?: string;
  readonly method?: string;
  readonly decision?: AuditDecision;
  readonly namespace?: string;
  readonly rule?: string;
  /** Entries at or after this instant (epoch microseconds). */
  readonly sinceMicros?: bigint;
  /** Entries strictly before this instant (epoch microseconds). */
  readonly untilMicros?: bigint;
}

/** The position after which the next page starts (newest first): the last entry's time and id. */
export interface AuditCursor {
  readonly atMicros: bigint;
  readonly id: bigint;
}

/** One stored decision as read back. */
export interface AuditEntry {
  readonly id: bigint;
  /** Epoch microseconds (PostgreSQL's precision). */
  readonly atMicros: bigint;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly sourceAddress: string;
  readonly method: string;
  readonly namespace?: string;
  readonly decision: AuditDecision;
  readonly rule?: string;
  readonly reason: string;
  readonly dryRunDenied: readonly string[];
}
