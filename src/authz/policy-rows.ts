/**
 * The stored shape of the policy (tables authz_rules and authz_policy_version): rows as read
 * and as a write wants them. Its SQL is policy.repository.ts's.
 */

/** NOTIFY channel of policy changes; the payload is the new policy version. */
export const POLICY_CHANNEL = 'parley_authz_policy';

export type RuleSource = 'seed' | 'api' | 'config';

/** One stored rule, `rule` as the JSON the row holds. */
export interface PolicyRow {
  readonly id: string;
  readonly position: number;
  readonly rule: unknown;
  readonly source: RuleSource;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A rule as a write wants it stored, in list order. */
export interface DesiredRow {
  readonly id: string;
  /** The JSON to store (`expiresAt` as RFC 3339). */
  readonly rule: unknown;
  readonly source: RuleSource;
}

export interface PolicySnapshot {
  readonly version: number;
  readonly rows: PolicyRow[];
}
