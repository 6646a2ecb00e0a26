/**
 * The only database code of federation: relationships, the partner bundle rows (last good
 * document + poll status, shared by every replica) and our own published bundle. Every
 * write notifies `parley_federation` with the trust domain inside its transaction, so the
 * other replicas reload exactly what changed once it is committed.
 */
import type { DataSource, QueryRunner } from 'typeorm';
import { ParleyError } from '../common';
import { notifyChange } from '../database';
import type { BundleSkip } from '../spiffe';
import type { FederationProfile, FederationRelationship } from './domain/relationship';

export const FEDERATION_CHANNEL = 'parley_federation';
export const FEDERATION_REFRESH_CHANNEL = 'parley_federation_refresh';

export type RelationshipSource = 'api' | 'config';

export interface StoredRelationship {
  readonly relationship: FederationRelationship;
  readonly source: RelationshipSource;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A partner's last good bundle and its poll status. */
export interface BundleRow {
  readonly trustDomain: string;
  /** The last good document (our canonical serialization), absent until the first success. */
  readonly document?: string;
  readonly sequence?: bigint;
  /** Seconds, as the partner published it. */
  readonly refreshHint?: number;
  readonly fetchedAt?: Date;
  readonly lastSuccessAt?: Date;
  readonly lastFailureAt?: Date;
  readonly lastError?: string;
  readonly lastErrorReason?: string;
  readonly consecutiveFailures: number;
  readonly polls: number;
  readonly skipped: readonly BundleSkip[];
  /** Something to report although the poll succeeded (e.g. a decreasing sequence). */
  readonly warning?: string;
  readonly polledBy?: string;
  readonly nextPollAt?: Date;
  /** Refresh requests made so far (a counter) and the highest one a finished fetch answered. */
  readonly refreshRequested: number;
  readonly refreshDone: number;
}

export interface SuccessWrite {
  document: string;
  sequence?: bigint;
  refreshHint?: number;
  skipped: readonly BundleSkip[];
  warning?: string;
  polledBy?: string;
  nextPollAt?: Date;
  /** refreshRequested as read when the fetch started. */
  refreshDone?: number;
}

export interface FailureWrite {
  reason: string;
  detail: string;
  polledBy?: string;
  nextPollAt?: Date;
  refreshDone?: number;
}

export interface OwnBundleRow {
  readonly trustDomain: string;
  readonly document: string;
  readonly sequence: bigint;
  readonly updatedAt: Date;
}

const REL_COLUMNS = `trust_domain, profile, endpoint_urls, endpoint_spiffe_id, bootstrap_bundle, ca_roots_pem, denied_authorities, source, created_at, updated_at`;
const BUNDLE_COLUMNS = `trust_domain, document, sequence::text AS sequence, refresh_hint, fetched_at, last_success_at, last_failure_at, last_error,
  last_error_reason, consecutive_failures, polls::text AS polls, skipped, warning, polled_by, next_poll_at,
  refresh_requested::text AS refresh_requested, refresh_done::text AS refresh_done`;

export class FederationRepository {
  constructor(private readonly ds: DataSource) {}

  async listRelationships(): Promise<StoredRelationship[]> {
    const rows = await this.rows<RelRow>(`SELECT ${REL_COLUMNS} FROM federation_relationships ORDER BY trust_domain`);
    return rows.map(toRelationship);
  }

  async findRelationship(td: string): Promise<StoredRelationship | undefined> {
    const rows = await this.rows<RelRow>(`SELECT ${REL_COLUMNS} FROM federation_relationships WHERE trust_domain = $1`, [td]);
    return rows.length === 0 ? undefined : toRelationship(rows[0]);
  }

  /** @throws ParleyError conflict when the trust domain already has a relationship */
  async insertRelationship(rel: FederationRelationship, source: RelationshipSource): Promise<void> {
    await this.tx(async (q) => {
      const rows = await this.rowsOn(q, `INSERT INTO federation_relationships (${REL_COLUMNS.replace(', created_at, updated_at', '')})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (trust_domain) DO NOTHING RETURNING trust_domain`, relParams(rel, source));
      if (rows.length === 0) throw new ParleyError('conflict', `federation ${rel.trustDomain}: a relationship with this trust domain exists`);
      await this.rowsOn(q, 'INSERT INTO federation_bundles (trust_domain) VALUES ($1)', [rel.trustDomain]);
      await notifyChange(q, FEDERATION_CHANNEL, rel.trustDomain);
    });
  }

  /** Replaces a relationship (keeping its bundle and status). False when there is none. */
  async updateRelationship(rel: FederationRelationship, source: RelationshipSource): Promise<boolean> {
    return this.tx(async (q) => {
      const rows = await this.rowsOn(q, `UPDATE federation_relationships SET profile = $2, endpoint_urls = $3, endpoint_spiffe_id = $4, bootstrap_bundle = $5,
         ca_roots_pem = $6, denied_authorities = $7, source = $8, updated_at = now() WHERE trust_domain = $1 RETURNING trust_domain`, relParams(rel, source));
      if (rows.length === 0) return false;
      await notifyChange(q, FEDERATION_CHANNEL, rel.trustDomain);
      return true;
    });
  }

  /** Inserts or replaces a relationship declared in the configuration. True when something changed. */
  async upsertRelationship(rel: FederationRelationship, source: RelationshipSource): Promise<boolean> {
    return this.tx(async (q) => {
      const rows = await this.rowsOn(q, `INSERT INTO federation_relationships (${REL_COLUMNS.replace(', created_at, updated_at', '')})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (trust_domain) DO UPDATE SET profile = EXCLUDED.profile, endpoint_urls = EXCLUDED.endpoint_urls,
           endpoint_spiffe_id = EXCLUDED.endpoint_spiffe_id, bootstrap_bundle = EXCLUDED.bootstrap_bundle, ca_roots_pem = EXCLUDED.ca_roots_pem,
           denied_authorities = EXCLUDED.denied_authorities, source = EXCLUDED.source, updated_at = now()
         WHERE (federation_relationships.profile, federation_relationships.endpoint_urls, federation_relationships.endpoint_spiffe_id,
                federation_relationships.bootstrap_bundle, federation_relationships.ca_roots_pem, federation_relationships.denied_authorities,
                federation_relationships.source)
           IS DISTINCT FROM (EXCLUDED.profile, EXCLUDED.endpoint_urls, EXCLUDED.endpoint_spiffe_id, EXCLUDED.bootstrap_bundle,
                EXCLUDED.ca_roots_pem, EXCLUDED.denied_authorities, EXCLUDED.source)
         RETURNING trust_domain`, relParams(rel, source));
      if (rows.length === 0) return false;
      await this.rowsOn(q, 'INSERT INTO federation_bundles (trust_domain) VALUES ($1) ON CONFLICT DO NOTHING', [rel.trustDomain]);
      await notifyChange(q, FEDERATION_CHANNEL, rel.trustDomain);
      return true;
    });
  }

  /** Removes a relationship and its bundle. False when there is none. */
  async deleteRelationship(td: string): Promise<boolean> {
    return this.tx(async (q) => {
      const rows = await this.rowsOn(q, 'DELETE FROM federation_relationships WHERE trust_domain = $1 RETURNING trust_domain', [td]);
      if (rows.length === 0) return false;
      await notifyChange(q, FEDERATION_CHANNEL, td);
      return true;
    });
  }

  async listBundles(): Promise<BundleRow[]> {
    return (await this.rows<BundleDbRow>(`SELECT ${BUNDLE_COLUMNS} FROM federation_bundles ORDER BY trust_domain`)).map(toBundleRow);
  }

  async findBundle(td: string): Promise<BundleRow | undefined> {
    const rows = await this.rows<BundleDbRow>(`SELECT ${BUNDLE_COLUMNS} FROM federation_bundles WHERE trust_domain = $1`, [td]);
    return rows.length === 0 ? undefined : toBundleRow(rows[0]);
  }

  /** Stores a good document and the poll status; false when the relationship is gone. */
  async recordSuccess(td: string, w: SuccessWrite): Promise<boolean> {
    return this.tx(async (q) => {
      const rows = await this.rowsOn(q, `UPDATE federation_bundles SET document = $2, sequence = $3::numeric, refresh_hint = $4, fetched_at = now(),
         last_success_at = now(), consecutive_failures = 0, polls = polls + 1, skipped = $5::jsonb, warning = $6, polled_by = $7,
         next_poll_at = $8, refresh_done = GREATEST(refresh_done, $9), updated_at = now() WHERE trust_domain = $1 RETURNING trust_domain`,
      [td, w.document, w.sequence?.toString() ?? null, w.refreshHint ?? null, JSON.stringify(w.skipped), w.warning ?? null, w.polledBy ?? null, w.nextPollAt ?? null, w.refreshDone ?? 0]);
      if (rows.length === 0) return false;
      await notifyChange(q, FEDERATION_CHANNEL, td);
      return true;
    });
  }

  /** Records a failed poll; the last good document stays. */
  async recordFailure(td: string, w: FailureWrite): Promise<boolean> {
    return this.tx(async (q) => {
      const rows = await this.rowsOn(q, `UPDATE federation_bundles SET last_failure_at = now(), last_error = $2, last_error_reason = $3,
         consecutive_failures = consecutive_failures + 1, polls = polls + 1, polled_by = $4, next_poll_at = $5,
         refresh_done = GREATEST(refresh_done, $6), updated_at = now()
         WHERE trust_domain = $1 RETURNING trust_domain`, [td, w.detail, w.reason, w.polledBy ?? null, w.nextPollAt ?? null, w.refreshDone ?? 0]);
      if (rows.length === 0) return false;
      await notifyChange(q, FEDERATION_CHANNEL, td);
      return true;
    });
  }

  /**
   * Asks the polling replica for a fetch of `td` (notifies `parley_federation_refresh`).
   * Returns the request number: the fetch answering it stores `refreshDone` >= it; undefined when `td` is unknown.
   */
  async requestRefresh(td: string): Promise<number | undefined> {
    return this.tx(async (q) => {
      const rows = await this.rowsOn<{ n: string }>(q, 'UPDATE federation_bundles SET refresh_requested = refresh_requested + 1 WHERE trust_domain = $1 RETURNING refresh_requested::text AS n', [td]);
      if (rows.length === 0) return undefined;
      await notifyChange(q, FEDERATION_REFRESH_CHANNEL, td);
      return Number(rows[0].n);
    });
  }

  async findOwnBundle(): Promise<OwnBundleRow | undefined> {
    const rows = await this.rows<OwnDbRow>('SELECT trust_domain, document, sequence::text AS sequence, updated_at FROM federation_own_bundle WHERE id');
    return rows.length === 0 ? undefined : toOwnRow(rows[0]);
  }

  /**
   * Stores our own bundle when its authorities differ from the stored one (`same` decides),
   * with the next sequence number; several replicas may race, the row lock serializes them.
   */
  async saveOwnBundle(td: string, serialize: (sequence: bigint) => string, same: (storedDocument: string) => boolean): Promise<OwnBundleRow> {
    return this.tx(async (q) => {
      const current = await this.rowsOn<OwnDbRow>(q, 'SELECT trust_domain, document, sequence::text AS sequence, updated_at FROM federation_own_bundle WHERE id FOR UPDATE');
      if (current.length > 0 && current[0].trust_domain === td && same(current[0].document)) return toOwnRow(current[0]);
      const sequence = current.length > 0 ? BigInt(current[0].sequence) + 1n : 1n;
      const rows = await this.rowsOn<OwnDbRow>(q, `INSERT INTO federation_own_bundle (id, trust_domain, document, sequence) VALUES (true, $1, $2, $3::numeric)
         ON CONFLICT (id) DO UPDATE SET trust_domain = EXCLUDED.trust_domain, document = EXCLUDED.document, sequence = EXCLUDED.sequence, updated_at = now()
         RETURNING trust_domain, document, sequence::text AS sequence, updated_at`, [td, serialize(sequence), sequence.toString()]);
      await notifyChange(q, FEDERATION_CHANNEL, td);
      return toOwnRow(rows[0]);
    });
  }

  private async rows<T>(text: string, params: unknown[] = []): Promise<T[]> {
    const runner = this.ds.createQueryRunner();
    try {
      return await this.rowsOn<T>(runner, text, params);
    } finally {
      await runner.release();
    }
  }

  private async rowsOn<T>(q: QueryRunner, text: string, params: unknown[] = []): Promise<T[]> {
    const result = (await q.query(text, params, true)) as { records?: unknown };
    return (Array.isArray(result.records) ? result.records : []) as T[];
  }

  private async tx<T>(work: (q: QueryRunner) => Promise<T>): Promise<T> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      try {
        const result = await work(runner);
        await runner.commitTransaction();
        return result;
      } catch (err) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw err;
      }
    } finally {
      await runner.release();
    }
  }
}

interface RelRow {
  trust_domain: string;
  profile: FederationProfile;
  endpoint_urls: string[];
  endpoint_spiffe_id: string | null;
  bootstrap_bundle: string | null;
  ca_roots_pem: string | null;
  denied_authorities: string[];
  source: RelationshipSource;
  created_at: Date;
  updated_at: Date;
}

interface BundleDbRow {
  trust_domain: string;
  document: string | null;
  sequence: string | null;
  refresh_hint: number | null;
  fetched_at: Date | null;
  last_success_at: Date | null;
  last_failure_at: Date | null;
  last_error: string | null;
  last_error_reason: string | null;
  consecutive_failures: number;
  polls: string;
  skipped: BundleSkip[] | null;
  warning: string | null;
  polled_by: string | null;
  next_poll_at: Date | null;
  refresh_requested: string;
  refresh_done: string;
}

interface OwnDbRow {
  trust_domain: string;
  document: string;
  sequence: string;
  updated_at: Date;
}

function relParams(rel: FederationRelationship, source: RelationshipSource): unknown[] {
  return [
    rel.trustDomain,
    rel.profile,
    [...rel.endpointUrls],
    rel.endpointSpiffeId ?? null,
    rel.bootstrapBundle ?? null,
    rel.caRootsPem ?? null,
    [...(rel.deniedAuthorities ?? [])],
    source,
  ];
}

function toRelationship(r: RelRow): StoredRelationship {
  const relationship: FederationRelationship = {
    trustDomain: r.trust_domain,
    profile: r.profile,
    endpointUrls: r.endpoint_urls ?? [],
    ...(r.endpoint_spiffe_id === null ? {} : { endpointSpiffeId: r.endpoint_spiffe_id }),
    ...(r.bootstrap_bundle === null ? {} : { bootstrapBundle: r.bootstrap_bundle }),
    ...(r.ca_roots_pem === null ? {} : { caRootsPem: r.ca_roots_pem }),
    deniedAuthorities: r.denied_authorities ?? [],
  };
  return { relationship, source: r.source, createdAt: r.created_at, updatedAt: r.updated_at };
}

function toBundleRow(r: BundleDbRow): BundleRow {
  const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  return {
    trustDomain: r.trust_domain,
    document: opt(r.document),
    sequence: r.sequence === null ? undefined : BigInt(r.sequence),
    refreshHint: opt(r.refresh_hint),
    fetchedAt: opt(r.fetched_at),
    lastSuccessAt: opt(r.last_success_at),
    lastFailureAt: opt(r.last_failure_at),
    lastError: opt(r.last_error),
    lastErrorReason: opt(r.last_error_reason),
    consecutiveFailures: r.consecutive_failures,
    polls: Number(r.polls),
    skipped: r.skipped ?? [],
    warning: opt(r.warning),
    polledBy: opt(r.polled_by),
    nextPollAt: opt(r.next_poll_at),
    refreshRequested: Number(r.refresh_requested),
    refreshDone: Number(r.refresh_done),
  };
}

function toOwnRow(r: OwnDbRow): OwnBundleRow {
  return { trustDomain: r.trust_domain, document: r.document, sequence: BigInt(r.sequence), updatedAt: r.updated_at };
}
