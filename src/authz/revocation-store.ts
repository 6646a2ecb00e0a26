/**
 * Revoked SPIFFE IDs and certificate fingerprints (table `authz_revocations`), kept in
 * memory so the per-call check is two map lookups. Every replica reloads the whole table
 * when the change feed says it changed (channel `parley_authz_revocations`) or after the
 * feed reconnects; writes notify inside their transaction. After a reload that added a
 * revocation, `onRevoked` listeners run on every replica so open connections of a revoked
 * peer can be closed at once instead of living on until they age out. The SQL is
 * revocation.repository.ts's.
 */
import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { SpiffeId } from '../spiffe';
import type { PeerIdentity } from '../tls';
import { canonicalFingerprint, parseFingerprint } from './domain/fingerprint';
import { LiveTable, type LiveTableOptions } from './live-table';
import type { RevocationCheck } from './ports';
import { REVOCATIONS_CHANNEL, RevocationRepository, type NewRevocation, type Revocation, type RevocationKind } from './revocation.repository';

export { REVOCATIONS_CHANNEL } from './revocation.repository';
export type { NewRevocation, Revocation, RevocationKind } from './revocation.repository';

/** Called with the current check after a reload that added revocations. */
export type RevokedListener = (isRevoked: (peer: PeerIdentity) => boolean) => void;

/** The canonical stored value of a revocation target, or why the text is not one. */
export function revocationValue(kind: RevocationKind, text: unknown): { value: string } | { error: string } {
  if (kind === 'fingerprint') return parseFingerprint(text);
  if (typeof text !== 'string') return { error: 'must be a string' };
  const id = SpiffeId.tryParse(text);
  if (id === undefined) return { error: 'must be a SPIFFE ID such as spiffe://example.org/ns/ml/sa/trainer' };
  if (id.path === '') return { error: 'must name a workload (a SPIFFE ID with a path), not a trust domain' };
  return { value: id.toString() };
}

interface Entry {
  readonly reason: string;
  /** Epoch ms; undefined = never expires. */
  readonly expiresAtMs?: number;
}

interface Index {
  readonly ids: ReadonlyMap<string, Entry>;
  readonly fingerprints: ReadonlyMap<string, Entry>;
}

const EMPTY: Index = { ids: new Map(), fingerprints: new Map() };

function active(e: Entry | undefined, nowMs: number): e is Entry {
  return e !== undefined && (e.expiresAtMs === undefined || e.expiresAtMs > nowMs);
}

/**
 * Where revocations are stored: a RevocationRepository, or the DataSource to make one from
 * (`repository` wins when both are given).
 */
export type RevocationStorage = { repository: RevocationRepository; dataSource?: DataSource } | { repository?: undefined; dataSource: DataSource };

export type RevocationStoreOptions = LiveTableOptions & RevocationStorage & { now?: () => number };

export class RevocationStore extends LiveTable implements RevocationCheck {
  private index: Index = EMPTY;
  private loaded = false;
  private readonly listeners = new Set<RevokedListener>();
  /** Canonical fingerprints of peers already seen (peers are immutable per connection). */
  private readonly fingerprintOf = new WeakMap<PeerIdentity, string>();
  private readonly now: () => number;
  private readonly repository: RevocationRepository;

  constructor(private readonly o: RevocationStoreOptions) {
    super(o, REVOCATIONS_CHANNEL, 'revocations');
    this.now = o.now ?? Date.now;
    this.repository = o.repository !== undefined ? o.repository : new RevocationRepository(o.dataSource);
  }

  revokedReason(peer: PeerIdentity): string | undefined {
    const now = this.now();
    const { ids, fingerprints } = this.index;
    const byId = ids.get(peer.id.toString());
    if (active(byId, now)) return withReason(`spiffe id ${peer.id.toString()} is revoked`, byId.reason);
    let fp = this.fingerprintOf.get(peer);
    if (fp === undefined) {
      fp = canonicalFingerprint(peer.fingerprint256) ?? '';
      this.fingerprintOf.set(peer, fp);
    }
    const byFp = fingerprints.get(fp);
    if (active(byFp, now)) return withReason(`certificate ${fp} of ${peer.id.toString()} is revoked`, byFp.reason);
    return undefined;
  }

  isRevoked(peer: PeerIdentity): boolean {
    return this.revokedReason(peer) !== undefined;
  }

  /**
   * Runs `listener` after every reload (on this replica) that added revocations, with the
   * check now in force. Listener failures are logged. Returns the unsubscribe function.
   */
  onRevoked(listener: RevokedListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Every stored revocation (expired ones too), newest first. */
  list(): Promise<Revocation[]> {
    return this.repository.list();
  }

  /**
   * Revokes; revoking a target again replaces its reason, expiry and author (`created` is
   * false then). The in-memory index of this replica is current when this resolves.
   */
  async add(r: NewRevocation): Promise<{ revocation: Revocation; created: boolean }> {
    const canonical = revocationValue(r.kind, r.value);
    if (!('value' in canonical) || canonical.value !== r.value) throw new ParleyError('invalid_argument', `revocation: value is not a canonical ${r.kind}`);
    const stored = await this.repository.upsert(r);
    await this.reloadAfterWrite();
    return stored;
  }

  /** Removes a revocation; false when there is none with this id. */
  async remove(id: string): Promise<boolean> {
    const removed = await this.repository.remove(id);
    if (removed) await this.reloadAfterWrite();
    return removed;
  }

  protected async load(): Promise<void> {
    const rows = await this.repository.active();
    const ids = new Map<string, Entry>();
    const fingerprints = new Map<string, Entry>();
    for (const r of rows) {
      const entry: Entry = r.expiresAt === undefined ? { reason: r.reason } : { reason: r.reason, expiresAtMs: r.expiresAt.getTime() };
      (r.kind === 'fingerprint' ? fingerprints : ids).set(r.value, entry);
    }
    const before = this.index;
    const now = this.now();
    this.index = { ids, fingerprints };
    this.replaced();
    const wasLoaded = this.loaded;
    this.loaded = true;
    if (wasLoaded && this.listeners.size > 0 && (addedTo(before.ids, ids, now) || addedTo(before.fingerprints, fingerprints, now))) {
      const check = (peer: PeerIdentity) => this.isRevoked(peer);
      for (const listener of this.listeners) {
        try {
          listener(check);
        } catch (err) {
          this.o.logger.error({ err }, 'revocations: listener failed');
        }
      }
    }
  }
}

function withReason(text: string, reason: string): string {
  return reason === '' ? text : `${text} (${reason})`;
}

/** Whether `after` holds an active key that was not active in `before`. */
function addedTo(before: ReadonlyMap<string, Entry>, after: ReadonlyMap<string, Entry>, nowMs: number): boolean {
  for (const [key, entry] of after) {
    if (active(entry, nowMs) && !active(before.get(key), nowMs)) return true;
  }
  return false;
}
