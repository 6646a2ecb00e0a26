/**
 * What operators see of one relationship: its declaration, the held (deny-listed) bundle and
 * the poll status every replica shares. Built from the stored rows; never reads the network.
 */
import type { X509Certificate } from 'node:crypto';
import { SpiffeBundle, TrustDomain, type BundleSkip } from '../spiffe';
import { applyDenyList, federationState, fingerprintOf, refreshIntervalMs, subjectKeyIdentifier, type FederationRelationship, type FederationState } from './domain';
import type { BundleRow, RelationshipSource, StoredRelationship } from './federation.repository';
import type { CheckResult } from '../ops';

export interface AuthoritySummary {
  /** SHA-256 fingerprint, 64 lowercase hex digits (what deny lists take). */
  readonly fingerprint: string;
  /** Subject key identifier as `ski:<hex>`, when the certificate has one. */
  readonly ski?: string;
  readonly subject: string;
  readonly notAfter: string;
}

/** The declared relationship (deny list always present), then what replicas observed. */
export interface FederationStatus extends Omit<FederationRelationship, 'deniedAuthorities'> {
  readonly deniedAuthorities: readonly string[];
  /** api: made through the admin API; config: declared in federation.relationships. */
  readonly source: RelationshipSource;
  readonly state: FederationState;
  readonly polls: number;
  readonly consecutiveFailures: number;
  readonly lastSuccessAt?: string;
  /** The latest failed poll (kept after a later success; compare with lastSuccessAt). */
  readonly lastError?: { readonly reason: string; readonly detail: string; readonly at?: string };
  /** spiffe_sequence of the held bundle (decimal text: a 64-bit integer). */
  readonly sequence?: string;
  /** spiffe_refresh_hint of the held bundle (seconds). */
  readonly refreshHint?: number;
  readonly nextPollAt?: string;
  /** Replica that polled last. */
  readonly polledBy?: string;
  /** Reported although the last poll succeeded, e.g. a decreasing sequence. */
  readonly warning?: string;
  /** X.509 authorities trusted for this trust domain (after the deny list). */
  readonly authorities: readonly AuthoritySummary[];
  /** Fingerprints of published authorities the deny list removed. */
  readonly deniedInBundle: readonly string[];
  readonly jwtKeyIds: readonly string[];
  /** Entries of the last document that were skipped, and why. */
  readonly skipped: readonly BundleSkip[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The bundle a replica trusts for the relationship: the stored document minus denied authorities. */
export function trustedBundle(rel: StoredRelationship, row: BundleRow | undefined): { bundle: SpiffeBundle; removed: string[] } | undefined {
  if (row?.document === undefined) return undefined;
  const parsed = SpiffeBundle.parse(row.document, TrustDomain.parse(rel.relationship.trustDomain));
  return applyDenyList(parsed, rel.relationship.deniedAuthorities ?? []);
}

/** State of a relationship at `now` (a static one is ready as soon as a bundle was uploaded). */
export function stateOf(rel: StoredRelationship, row: BundleRow | undefined, now: Date, minIntervalMs: number): FederationState {
  const hasBundle = row?.document !== undefined;
  if (rel.relationship.profile === 'static') return hasBundle ? 'ready' : 'pending';
  return federationState({
    polls: row?.polls ?? 0,
    lastSuccessAt: row?.lastSuccessAt,
    lastFailureAt: row?.lastFailureAt,
    hasBundle,
    refreshIntervalMs: Math.max(minIntervalMs, refreshIntervalMs(row?.refreshHint)),
    now,
  });
}

export function summarizeAuthority(cert: X509Certificate): AuthoritySummary {
  const ski = subjectKeyIdentifier(cert.raw);
  return {
    fingerprint: fingerprintOf(cert),
    ...(ski === undefined ? {} : { ski: `ski:${ski}` }),
    subject: cert.subject.split('\n').join(', '),
    notAfter: new Date(cert.validTo).toISOString(),
  };
}

export function buildStatus(rel: StoredRelationship, row: BundleRow | undefined, now: Date, minIntervalMs: number): FederationStatus {
  const r = rel.relationship;
  let trusted: ReturnType<typeof trustedBundle>;
  try {
    trusted = trustedBundle(rel, row);
  } catch {
    trusted = undefined; // a stored document always parsed once; never fail the status for it
  }
  const iso = (d: Date | undefined) => d?.toISOString();
  return {
    trustDomain: r.trustDomain,
    profile: r.profile,
    endpointUrls: [...r.endpointUrls],
    ...(r.endpointSpiffeId === undefined ? {} : { endpointSpiffeId: r.endpointSpiffeId }),
    ...(r.bootstrapBundle === undefined ? {} : { bootstrapBundle: r.bootstrapBundle }),
    ...(r.caRootsPem === undefined ? {} : { caRootsPem: r.caRootsPem }),
    deniedAuthorities: [...(r.deniedAuthorities ?? [])],
    source: rel.source,
    state: stateOf(rel, row, now, minIntervalMs),
    polls: row?.polls ?? 0,
    consecutiveFailures: row?.consecutiveFailures ?? 0,
    ...(row?.lastSuccessAt === undefined ? {} : { lastSuccessAt: iso(row.lastSuccessAt) }),
    ...(row?.lastErrorReason === undefined ? {} : { lastError: { reason: row.lastErrorReason, detail: row.lastError ?? '', at: iso(row.lastFailureAt) } }),
    ...(row?.sequence === undefined ? {} : { sequence: row.sequence.toString() }),
    ...(row?.refreshHint === undefined ? {} : { refreshHint: row.refreshHint }),
    ...(row?.nextPollAt === undefined || r.profile === 'static' ? {} : { nextPollAt: iso(row.nextPollAt) }),
    ...(row?.polledBy === undefined ? {} : { polledBy: row.polledBy }),
    ...(row?.warning === undefined ? {} : { warning: row.warning }),
    authorities: (trusted?.bundle.x509Authorities ?? []).map(summarizeAuthority),
    deniedInBundle: trusted?.removed ?? [],
    jwtKeyIds: [...(trusted?.bundle.jwtAuthorities.keys() ?? [])],
    skipped: row?.skipped ?? [],
    createdAt: rel.createdAt.toISOString(),
    updatedAt: rel.updatedAt.toISOString(),
  };
}

/** The `federation` readiness check: reports each partner's state, never fails the gateway. */
export function federationReadiness(
  rels: ReadonlyMap<string, StoredRelationship>,
  rows: ReadonlyMap<string, BundleRow>,
  minIntervalMs: number,
  replica: { polling: boolean; replica: string },
): CheckResult {
  const now = new Date();
  const partners: Record<string, string> = {};
  const counts = new Map<string, number>();
  for (const [td, rel] of rels) {
    const state = stateOf(rel, rows.get(td), now, minIntervalMs);
    partners[td] = state;
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  const summary = [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
  return {
    ok: true,
    reason: rels.size === 0 ? 'no federation relationships' : `${rels.size} partner(s): ${summary}`,
    details: { partners, ...replica },
  };
}
