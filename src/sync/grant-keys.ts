import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { LiveReload } from '../authz';
import type { ChangeFeed } from '../database';
import { MAX_GRANT_TTL_MS, type SigningKey } from './domain/grant';
import { SYNC_KEYS_CHANNEL, type SigningKeyRepository, type SigningKeyRow } from './signing-key.repository';

export interface GrantKeysOptions {
  repository: SigningKeyRepository;
  changes: ChangeFeed;
  logger: Logger;
  /** A new signing key this often. Default 24 h. */
  rotateAfterMs?: number;
  /** How long a new key is held by every replica before it signs. Default 60 s. */
  publishLeadMs?: number;
  /** How often this replica checks whether a rotation is due. Default 60 s. */
  checkEveryMs?: number;
}

interface LoadedKey {
  readonly kid: string;
  readonly createdAtMs: number;
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/**
 * The grant signing keys as this replica holds them: the key that signs now and every key
 * that still verifies (another replica's included, they share PostgreSQL). Reloaded on
 * every change notification and after each rotation check.
 */
export class GrantKeys {
  private keys = new Map<string, LoadedKey>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly reloads: LiveReload;
  private readonly rotateAfterMs: number;
  private readonly publishLeadMs: number;
  private readonly checkEveryMs: number;

  constructor(private readonly o: GrantKeysOptions) {
    this.rotateAfterMs = o.rotateAfterMs ?? 24 * 3_600_000;
    this.publishLeadMs = o.publishLeadMs ?? 60_000;
    this.checkEveryMs = o.checkEveryMs ?? 60_000;
    if (this.publishLeadMs >= this.rotateAfterMs) throw new TypeError('GrantKeys: publishLeadMs must be shorter than rotateAfterMs');
    this.reloads = new LiveReload(() => this.load(), o.logger, 'sync grant keys');
  }

  async start(): Promise<void> {
    this.unsubscribe = this.o.changes.subscribe(SYNC_KEYS_CHANNEL, () => this.reloads.trigger());
    await this.check();
    this.timer = setInterval(() => void this.check().catch((err: unknown) => this.o.logger.warn({ err }, 'sync: grant key rotation check failed')), this.checkEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.reloads.stop();
  }

  /** Rotates when due (any replica), then reloads. */
  async check(): Promise<void> {
    await this.o.repository.rotate({ rotateAfterMs: this.rotateAfterMs, publishLeadMs: this.publishLeadMs, verifyForMs: MAX_GRANT_TTL_MS + this.publishLeadMs });
    await this.reloads.request();
  }

  /** The public key of `kid`, when this replica holds it. */
  keyFor = (kid: string): KeyObject | undefined => this.keys.get(kid)?.publicKey;

  /** The key that signs now: the newest one every replica has had time to load (the newest of all before that). */
  signer(nowMs = Date.now()): SigningKey {
    let published: LoadedKey | undefined;
    let newest: LoadedKey | undefined;
    for (const k of this.keys.values()) {
      if (newest === undefined || k.createdAtMs > newest.createdAtMs) newest = k;
      if (nowMs - k.createdAtMs >= this.publishLeadMs && (published === undefined || k.createdAtMs > published.createdAtMs)) published = k;
    }
    const key = published ?? newest;
    if (key === undefined) throw new Error('sync: no grant signing key loaded yet');
    return { kid: key.kid, privateKey: key.privateKey };
  }

  get size(): number {
    return this.keys.size;
  }

  private async load(): Promise<void> {
    const rows = await this.o.repository.verifiable();
    this.keys = new Map(rows.map((r) => [r.kid, loadKey(r)]));
  }
}

function loadKey(r: SigningKeyRow): LoadedKey {
  return { kid: r.kid, createdAtMs: r.createdAt.getTime(), publicKey: createPublicKey(r.publicKeyPem), privateKey: createPrivateKey(r.privateKeyPem) };
}
