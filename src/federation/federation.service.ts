/**
 * Federation on one replica. Every replica loads the stored partner bundles into its trust
 * store (at start and on every `parley_federation` notification, everything again after a
 * resync), publishes our own bundle when its authorities change, and answers the admin API.
 * One replica at a time also polls the partners (FederationPoller, advisory lock).
 * A partner's failure only ever affects that partner.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import type { ChangeEvent, ChangeFeed } from '../database';
import type { CheckResult } from '../ops';
import { SpiffeBundle, TrustDomain } from '../spiffe';
import type { TrustStore } from '../trust';
import { fetchBundle } from './bundle-fetcher';
import { POLL, validateRelationship, type FederationRelationship } from './domain';
import { FederationMetrics } from './federation-metrics';
import { FederationPoller, nothingToPoll, type FetchFn } from './federation-poller';
import { buildStatus, federationReadiness, trustedBundle, type FederationStatus } from './federation-status';
import { FEDERATION_CHANNEL, FEDERATION_REFRESH_CHANNEL, FederationRepository, type BundleRow, type StoredRelationship } from './federation.repository';
import { OwnBundle } from './own-bundle';
import { endpointTrust, parseStaticBundle, sameAuthorities, staticBundleRecord } from './static-bundle';

export interface FederationServiceOptions {
  dataSource: DataSource;
  /** For the poll lock's own connection. */
  databaseUrl: string;
  changes: ChangeFeed;
  trustStore: TrustStore;
  ownTrustDomain: TrustDomain;
  logger: Logger;
  metrics?: Registry;
  /** federation.relationships of the configuration (checked at start). */
  relationships?: readonly unknown[];
  poll?: { timeoutMs?: number; maxBytes?: number; minIntervalMs?: number; lockRetryMs?: number };
  /** spiffe_refresh_hint we publish with our own bundle (seconds). Default 300. */
  ownRefreshHintSeconds?: number;
  /** Names this replica in the status (`polledBy`). Default host name and process id. */
  replicaId?: string;
  /** Default fetchBundle. */
  fetch?: FetchFn;
  random?: () => number;
}

/** At most one early refresh per partner in this period (requestEarlyRefresh). */
export const EARLY_REFRESH_INTERVAL_MS = 30_000;

export class FederationService {
  readonly replicaId: string;
  private readonly repo: FederationRepository;
  private readonly poller: FederationPoller;
  private readonly metrics?: FederationMetrics;
  private readonly minIntervalMs: number;
  private readonly ownHint: number;
  private rels = new Map<string, StoredRelationship>();
  private rows = new Map<string, BundleRow>();
  /** Trust domains this service put into the trust store, with the (deny-listed) bundle. */
  private readonly applied = new Map<string, SpiffeBundle>();
  private readonly own: OwnBundle;
  private queue: Promise<void> = Promise.resolve();
  private readonly waiters = new Map<string, Set<(row: BundleRow | undefined) => void>>();
  private readonly earlyRefresh = new Map<string, number>();
  private readonly unsubscribe: Array<() => void> = [];
  private started = false;

  constructor(private readonly o: FederationServiceOptions) {
    this.replicaId = o.replicaId ?? `${hostname()}:${process.pid}`;
    this.repo = new FederationRepository(o.dataSource);
    this.minIntervalMs = o.poll?.minIntervalMs ?? POLL.minMs;
    this.ownHint = o.ownRefreshHintSeconds ?? 300;
    this.own = new OwnBundle({ repository: this.repo, trustStore: o.trustStore, trustDomain: o.ownTrustDomain, refreshHintSeconds: this.ownHint, logger: o.logger });
    if (o.metrics) this.metrics = new FederationMetrics(o.metrics, () => this.snapshot());
    this.poller = new FederationPoller({
      databaseUrl: o.databaseUrl,
      repository: this.repo,
      logger: o.logger,
      replicaId: this.replicaId,
      fetch: o.fetch ?? fetchBundle,
      timeoutMs: o.poll?.timeoutMs ?? 10_000,
      maxBytes: o.poll?.maxBytes ?? 1024 * 1024,
      minIntervalMs: this.minIntervalMs,
      lockRetryMs: o.poll?.lockRetryMs ?? 5_000,
      random: o.random,
      relationship: (td) => this.rels.get(td),
      relationships: () => this.rels.values(),
      row: (td) => this.rows.get(td),
      endpointTrust: (rel) => endpointTrust(o.trustStore, rel),
      onFetched: (td, outcome) => this.metrics?.fetched(td, outcome),
    });
  }

  /** Declares the configured relationships, loads every stored bundle, publishes ours and joins the poller election. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.unsubscribe.push(this.o.changes.subscribe(FEDERATION_CHANNEL, (e) => this.onChange(e)));
    this.unsubscribe.push(this.o.changes.subscribe(FEDERATION_REFRESH_CHANNEL, (e) => void this.onRefreshRequest(e)));
    await this.declareConfigured();
    await this.enqueue(() => this.reloadAll());
    const own = this.o.ownTrustDomain;
    this.unsubscribe.push(
      this.o.trustStore.onChange((c) => {
        if (c.kind === 'set' && c.trustDomain.equals(own)) void this.enqueue(() => this.own.publish());
      }),
    );
    await this.enqueue(() => this.own.publish());
    await this.poller.start();
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.poller.stop();
    await this.queue.catch(() => undefined);
  }

  /** Whether this replica polls the partners now. */
  get polling(): boolean {
    return this.poller.holding;
  }

  async list(): Promise<FederationStatus[]> {
    const [rels, rows] = await Promise.all([this.repo.listRelationships(), this.repo.listBundles()]);
    const byTd = new Map(rows.map((r) => [r.trustDomain, r]));
    const now = new Date();
    return rels.map((rel) => buildStatus(rel, byTd.get(rel.relationship.trustDomain), now, this.minIntervalMs));
  }

  /** @throws ParleyError not_found */
  async status(td: string): Promise<FederationStatus> {
    const rel = await this.repo.findRelationship(td);
    if (rel === undefined) throw notFound(td);
    return buildStatus(rel, await this.repo.findBundle(td), new Date(), this.minIntervalMs);
  }

  /** @throws ValidationError | ParleyError conflict */
  async create(input: unknown): Promise<FederationStatus> {
    const rel = this.validate(input);
    await this.repo.insertRelationship(rel, 'api');
    await this.seedStaticBundle(rel);
    await this.enqueue(() => this.reloadOne(rel.trustDomain));
    this.o.logger.info({ trustDomain: rel.trustDomain, profile: rel.profile }, 'federation: relationship created');
    return this.status(rel.trustDomain);
  }

  /** Replaces a relationship (body without trustDomain, or with the same one). @throws ValidationError | ParleyError not_found */
  async update(td: string, input: unknown): Promise<FederationStatus> {
    const body = input !== null && typeof input === 'object' && !Array.isArray(input) ? { trustDomain: td, ...(input as Record<string, unknown>) } : input;
    if (body !== null && typeof body === 'object' && (body as { trustDomain?: unknown }).trustDomain !== td) {
      throw new ValidationError('federation: invalid relationship', [{ field: 'trustDomain', message: 'must be the trust domain of the URL (delete and create to rename)' }]);
    }
    const rel = this.validate(body);
    if (!(await this.repo.updateRelationship(rel, 'api'))) throw notFound(td);
    await this.seedStaticBundle(rel);
    await this.enqueue(() => this.reloadOne(td));
    this.o.logger.info({ trustDomain: td, profile: rel.profile, denied: rel.deniedAuthorities?.length ?? 0 }, 'federation: relationship updated');
    return this.status(td);
  }

  /** Deletes a relationship; every replica drops the partner's bundle (its connections close). @throws ParleyError not_found */
  async remove(td: string): Promise<void> {
    if (!(await this.repo.deleteRelationship(td))) throw notFound(td);
    await this.enqueue(() => this.reloadOne(td));
    this.o.logger.info({ trustDomain: td }, 'federation: relationship deleted');
  }

  /**
   * Stores the bundle of a static relationship (SPIFFE JSON or PEM).
   * @throws ValidationError (bad document) | ParleyError not_found | precondition_failed (not static)
   */
  async uploadBundle(td: string, text: string): Promise<FederationStatus> {
    const rel = await this.repo.findRelationship(td);
    if (rel === undefined) throw notFound(td);
    if (rel.relationship.profile !== 'static') {
      throw new ParleyError('precondition_failed', `federation ${td}: only a static relationship takes an uploaded bundle (this one is ${rel.relationship.profile})`);
    }
    const bundle = parseStaticBundle(td, text);
    const record = staticBundleRecord(bundle, await this.repo.findBundle(td), `upload@${this.replicaId}`);
    await this.repo.recordSuccess(td, record);
    await this.enqueue(() => this.reloadOne(td));
    this.o.logger.info({ trustDomain: td, sequence: record.sequence.toString(), authorities: bundle.x509Authorities.length }, 'federation: static bundle uploaded');
    return this.status(td);
  }

  /**
   * Polls the partner now: here when this replica polls, else through the polling replica
   * (waits for its result up to the fetch timeout). Returns the resulting status.
   * @throws ParleyError not_found | precondition_failed (static)
   */
  async refreshNow(td: string): Promise<FederationStatus> {
    const rel = await this.repo.findRelationship(td);
    if (rel === undefined) throw notFound(td);
    if (rel.relationship.profile === 'static') throw nothingToPoll(td);
    if (this.poller.holding) {
      await this.enqueue(() => this.reloadOne(td));
      await this.poller.pollNow(td, true);
    } else {
      // The polling replica answers with a fetch that starts after this request (refresh_done >= n).
      const request = await this.repo.requestRefresh(td);
      if (request !== undefined) await this.waitFor(td, (row) => row === undefined || row.refreshDone >= request, (this.o.poll?.timeoutMs ?? 10_000) + 2_000);
    }
    // Answer once this replica's trust store holds what was fetched (not only the table).
    await this.enqueue(() => this.reloadOne(td));
    return this.status(td);
  }

  /**
   * Asks for an early poll of a federated partner (e.g. a peer of that trust domain presented
   * an authority we do not hold). At most once per partner every 30 s; false when ignored.
   */
  requestEarlyRefresh(td: string): boolean {
    const rel = this.rels.get(td);
    if (rel === undefined || rel.relationship.profile === 'static') return false;
    const now = Date.now();
    const last = this.earlyRefresh.get(td);
    if (last !== undefined && now - last < EARLY_REFRESH_INTERVAL_MS) return false;
    this.earlyRefresh.set(td, now);
    this.o.logger.info({ trustDomain: td }, 'federation: early refresh requested');
    if (this.poller.holding) void this.poller.pollNow(td, true);
    else this.repo.requestRefresh(td).catch((err: unknown) => this.o.logger.warn({ err, trustDomain: td }, 'federation: cannot request an early refresh'));
    return true;
  }

  /** Our own bundle as the bundle endpoint serves it (with spiffe_sequence and spiffe_refresh_hint). */
  ownBundleDocument(): string | undefined {
    return this.own.document();
  }

  /** The bundle this replica holds for `td` (our own or a partner's), with sequence and refresh hint set. */
  heldBundle(td: string): SpiffeBundle | undefined {
    let name: TrustDomain;
    try {
      name = TrustDomain.parse(td);
    } catch {
      return undefined;
    }
    const ownDocument = this.own.document();
    if (name.equals(this.o.ownTrustDomain) && ownDocument !== undefined) return SpiffeBundle.parse(ownDocument, name);
    const held = this.o.trustStore.get(name);
    if (held === undefined) return undefined;
    const row = this.rows.get(td);
    return held.withMetadata({ sequence: row?.sequence ?? held.sequence ?? 0n, refreshHint: row?.refreshHint ?? held.refreshHint ?? this.ownHint });
  }

  /** Every trust domain this replica holds a bundle for (own, partners, identity-source federated). */
  heldTrustDomains(): Array<{ trustDomain: string; own: boolean; relationship: boolean; authorities: number }> {
    return this.o.trustStore.trustDomains().map((td) => ({
      trustDomain: td.name,
      own: td.equals(this.o.ownTrustDomain),
      relationship: this.rels.has(td.name),
      authorities: this.o.trustStore.getX509Authorities(td)?.length ?? 0,
    }));
  }

  /** Readiness: always ok (one failing partner must not take the gateway out); details per partner. */
  readiness(): CheckResult {
    return federationReadiness(this.rels, this.rows, this.minIntervalMs, { polling: this.poller.holding, replica: this.replicaId });
  }

  private validate(input: unknown): FederationRelationship {
    const { value, errors } = validateRelationship(input, this.o.ownTrustDomain.name);
    if (value === undefined) throw new ValidationError('federation: invalid relationship', errors.length > 0 ? [...errors] : [{ field: '', message: 'invalid' }]);
    return value;
  }

  private async declareConfigured(): Promise<void> {
    const declared = this.o.relationships ?? [];
    const checked: FederationRelationship[] = [];
    const problems: string[] = [];
    declared.forEach((input, i) => {
      const { value, errors } = validateRelationship(input, this.o.ownTrustDomain.name);
      for (const e of errors) problems.push(`federation.relationships[${i}]${e.field === '' ? '' : `.${e.field}`}: ${e.message}`);
      if (value !== undefined) checked.push(value);
    });
    if (problems.length > 0) throw new ParleyError('config_invalid', `invalid federation relationships:\n  - ${problems.join('\n  - ')}`);
    for (const rel of checked) {
      if (await this.repo.upsertRelationship(rel, 'config')) this.o.logger.info({ trustDomain: rel.trustDomain, profile: rel.profile }, 'federation: relationship declared by the configuration');
      await this.seedStaticBundle(rel);
    }
  }

  /**
   * A static relationship declared with its bundle (`bootstrapBundle`): that bundle is held
   * unless the same authorities are held already (an upload through the API replaces it).
   */
  private async seedStaticBundle(rel: FederationRelationship): Promise<void> {
    if (rel.profile !== 'static' || rel.bootstrapBundle === undefined) return;
    const held = await this.repo.findBundle(rel.trustDomain);
    if (held?.document !== undefined && sameAuthorities(held.document, rel.bootstrapBundle, rel.trustDomain)) return;
    await this.uploadBundle(rel.trustDomain, rel.bootstrapBundle);
  }

  private onChange(e: ChangeEvent): void {
    if (e.resync || e.payload === undefined || e.payload === '') {
      void this.enqueue(() => this.reloadAll());
      return;
    }
    const td = e.payload;
    if (td === this.o.ownTrustDomain.name) void this.enqueue(() => this.own.reload());
    else void this.enqueue(() => this.reloadOne(td));
  }

  private async onRefreshRequest(e: ChangeEvent): Promise<void> {
    if (e.resync || !e.payload || !this.poller.holding) return;
    await this.enqueue(() => this.reloadOne(e.payload as string));
    await this.poller.pollNow(e.payload, true);
  }

  /** Runs state changes one at a time, in order; a failure is logged and does not stop the queue. */
  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work).catch((err: unknown) => {
      this.o.logger.error({ err }, 'federation: cannot reload the stored federation state');
    });
    this.queue = next;
    return next;
  }

  private async reloadAll(): Promise<void> {
    const [rels, rows] = await Promise.all([this.repo.listRelationships(), this.repo.listBundles()]);
    const previous = new Set([...this.rels.keys(), ...this.applied.keys()]);
    this.rels = new Map(rels.map((r) => [r.relationship.trustDomain, r]));
    this.rows = new Map(rows.map((r) => [r.trustDomain, r]));
    for (const td of new Set([...previous, ...this.rels.keys()])) this.settle(td);
    await this.own.reload();
  }

  private async reloadOne(td: string): Promise<void> {
    const [rel, row] = await Promise.all([this.repo.findRelationship(td), this.repo.findBundle(td)]);
    if (rel === undefined) this.rels.delete(td);
    else this.rels.set(td, rel);
    if (row === undefined) this.rows.delete(td);
    else this.rows.set(td, row);
    this.settle(td);
  }

  /** Brings the trust store, the poller and waiters in line with what is known of `td`. */
  private settle(td: string): void {
    this.applyTrust(td);
    this.poller.changed(td);
    for (const w of this.waiters.get(td) ?? []) w(this.rows.get(td));
  }

  private applyTrust(td: string): void {
    if (td === this.o.ownTrustDomain.name) return;
    const rel = this.rels.get(td);
    let trusted: SpiffeBundle | undefined;
    try {
      trusted = rel === undefined ? undefined : trustedBundle(rel, this.rows.get(td))?.bundle;
    } catch (err) {
      this.o.logger.error({ trustDomain: td, reason: (err as Error).message }, 'federation: stored partner bundle does not parse; keeping what is held');
      return;
    }
    if (trusted !== undefined) {
      this.applied.set(td, trusted);
      this.o.trustStore.set(trusted);
    } else if (this.applied.delete(td)) {
      this.o.trustStore.remove(TrustDomain.parse(td));
      this.o.logger.info({ trustDomain: td }, 'federation: partner bundle removed from the trust store');
    }
  }

  /** Resolves when `done` holds for the row of `td` as this replica knows it (now or after a reload), or after `timeoutMs`. */
  private waitFor(td: string, done: (row: BundleRow | undefined) => boolean, timeoutMs: number): Promise<void> {
    if (done(this.rows.get(td))) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiters.get(td);
      if (set === undefined) this.waiters.set(td, (set = new Set()));
      const finish = () => {
        clearTimeout(timer);
        set.delete(check);
        if (set.size === 0) this.waiters.delete(td);
        resolve();
      };
      const check = (row: BundleRow | undefined) => {
        if (done(row)) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();
      set.add(check);
    });
  }

  private snapshot(): Array<{ trustDomain: string; row?: BundleRow; bundle?: SpiffeBundle }> {
    return [...this.rels.keys()].map((td) => ({ trustDomain: td, row: this.rows.get(td), bundle: this.applied.get(td) }));
  }
}

function notFound(td: string): ParleyError {
  return new ParleyError('not_found', `federation ${td}: no relationship with this trust domain`);
}
