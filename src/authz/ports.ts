/**
 * The seams of the authorization pipeline (DESIGN.md §2: policy, revocation, IP allowlist,
 * rate limit, audit). The CallAuthorizer composes them for every gRPC call; each part is
 * implemented by its own store/service and kept current from PostgreSQL (LISTEN/NOTIFY).
 * Every check is synchronous and in-memory: no call waits on the database.
 */
import type { CompiledPolicy } from './domain';
import type { PeerIdentity } from '../tls';

/** One authorization decision, as written to the audit trail and the log. */
export interface AuditRecord {
  readonly at: Date;
  readonly spiffeId: string;
  readonly trustDomain: string;
  /** Source IP address of the connection. */
  readonly sourceAddress: string;
  /** Full gRPC method, `/pkg.Service/Method`. */
  readonly method: string;
  /** The record namespace the decision covered, when the method has one. */
  readonly namespace?: string;
  readonly decision: 'allow' | 'deny';
  /** The deciding rule id, when a rule decided. */
  readonly rule?: string;
  /** Why (never sent to the caller). */
  readonly reason: string;
  /** Dry-run deny rules that matched (they did not deny). */
  readonly dryRunDenied?: readonly string[];
  /**
   * The entry's id (a lowercase UUID), when the caller made one with the decision; otherwise
   * the sink makes one when it is handed the entry. Written once however often it is retried.
   */
  readonly entryId?: string;
}

/** Takes decisions off the request path. `record` never throws and never blocks. */
export interface AuditSink {
  record(entry: AuditRecord): void;
}

/** The policy currently in force (replaced atomically on every change). */
export interface PolicySource {
  /** Read on every call: a data property, replaced as a whole on every change. */
  readonly compiled: CompiledPolicy;
}

/** Revoked SPIFFE IDs and certificate fingerprints. */
export interface RevocationCheck {
  /** Why the peer is revoked, or undefined when it is not. */
  revokedReason(peer: PeerIdentity): string | undefined;
  /**
   * Changes whenever the set of revocations does. A peer found not revoked stays so until
   * it changes (expiry only ever ends a revocation). Without it every call is checked.
   */
  readonly version?: number;
}

/** Per-trust-domain source address allowlists. */
export interface AllowlistCheck {
  /** Why the source address is refused for this trust domain, or undefined when allowed (no list = allowed). */
  deniedReason(trustDomain: string, sourceIp: string): string | undefined;
  /** Changes whenever any list does. Without it every call is checked. */
  readonly version?: number;
}

/** Per SPIFFE ID and per trust domain call rate limits (applied after authentication and authorization). */
export interface RateLimitCheck {
  /** Takes one token; why the call is limited, or undefined when it may go on. */
  limitedReason(peer: PeerIdentity, nowMs: number): string | undefined;
}

/** What a grant may be used for: the read actions an export grants. */
export type GrantAction = 'list' | 'lookup' | 'pull' | 'pull_referrer';

/** A presented grant that verified for the peer presenting it on this connection. */
export interface PresentedGrant {
  /** The grant's id (`jti`), for the audit. */
  readonly id: string;
  /** Whether it lets its holder do `action` on records of `namespace`. */
  allows(action: GrantAction, namespace: string, annotations?: Readonly<Record<string, string>>): boolean;
}

/**
 * Checks a grant presented as `authorization: Bearer <grant>` (implemented by the sync
 * context, set by the wiring): signature by a key this gateway holds, expiry, subject = the
 * peer's SPIFFE ID, certificate binding = the peer's certificate. Synchronous, in memory.
 * @throws on any refusal; an error's `details.reason` (when present) goes to the audit
 */
export interface GrantVerifier {
  verify(token: string, peer: PeerIdentity, nowMs: number): PresentedGrant;
}
