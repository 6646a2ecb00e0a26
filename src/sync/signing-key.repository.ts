import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { notifyChange } from '../database';
import { inTransaction, sql, sqlOn } from '../store';

/** NOTIFY channel of signing key changes (every replica reloads its keys). */
export const SYNC_KEYS_CHANNEL = 'parley_sync_keys';

export interface SigningKeyRow {
  readonly kid: string;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  readonly createdAt: Date;
  readonly retiredAt?: Date;
  readonly verifyUntil?: Date;
}

interface DbRow {
  kid: string;
  private_key_pem: string;
  public_key_pem: string;
  created_at: Date;
  retired_at: Date | null;
  verify_until: Date | null;
}

/** Serializes rotations across replicas (pg_advisory_xact_lock key). */
const ROTATION_LOCK = 0x70617273; // 'pars'

/**
 * The keys that sign grants, shared by every replica through PostgreSQL. A new key is made
 * (by whichever replica rotates first) `publishLeadMs` before it signs, so every replica
 * has loaded it by the time a grant signed with it arrives; a retired key keeps verifying
 * until the last grant it signed has expired.
 */
export class SigningKeyRepository {
  constructor(private readonly ds: DataSource) {}

  /** Every key that still verifies (unretired, or retired and within its verify window). */
  async verifiable(): Promise<SigningKeyRow[]> {
    const { rows } = await sql<DbRow>(this.ds, 'SELECT * FROM sync_signing_keys WHERE retired_at IS NULL OR verify_until > now() ORDER BY created_at');
    return rows.map(toRow);
  }

  /**
   * Makes a key when there is none, and a successor once the newest key is older than
   * `rotateAfterMs`; retires keys whose successor has been published for `publishLeadMs`
   * (they verify for `verifyForMs` more). Returns whether anything changed. Safe on every
   * replica at once (an advisory lock serializes it).
   */
  async rotate(o: { rotateAfterMs: number; publishLeadMs: number; verifyForMs: number }): Promise<boolean> {
    return inTransaction(this.ds, async (runner) => {
      await sqlOn(runner, 'SELECT pg_advisory_xact_lock($1)', [ROTATION_LOCK]);
      const { rows } = await sqlOn<DbRow & { age_ms: number }>(
        runner,
        'SELECT *, extract(epoch FROM now() - created_at) * 1000 AS age_ms FROM sync_signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC',
      );
      let changed = false;
      const newest = rows[0];
      if (newest === undefined || Number(newest.age_ms) >= o.rotateAfterMs) {
        const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        await sqlOn(runner, 'INSERT INTO sync_signing_keys (kid, private_key_pem, public_key_pem) VALUES ($1, $2, $3)', [
          randomBytes(12).toString('base64url'),
          pair.privateKey.export({ type: 'pkcs8', format: 'pem' }),
          pair.publicKey.export({ type: 'spki', format: 'pem' }),
        ]);
        changed = true;
      }
      // Older unretired keys are retired once a successor is old enough to sign.
      const successorSigns = newest !== undefined && Number(newest.age_ms) >= o.publishLeadMs;
      if (successorSigns && rows.length > 1) {
        const { count } = await sqlOn(
          runner,
          `UPDATE sync_signing_keys SET retired_at = now(), verify_until = now() + $2 * interval '1 millisecond' WHERE retired_at IS NULL AND kid <> $1`,
          [newest.kid, o.verifyForMs],
        );
        changed ||= count > 0;
      }
      const { count: purged } = await sqlOn(runner, 'DELETE FROM sync_signing_keys WHERE retired_at IS NOT NULL AND verify_until < now()');
      changed ||= purged > 0;
      if (changed) await notifyChange(runner, SYNC_KEYS_CHANNEL);
      return changed;
    });
  }
}

function toRow(r: DbRow): SigningKeyRow {
  return {
    kid: r.kid,
    privateKeyPem: r.private_key_pem,
    publicKeyPem: r.public_key_pem,
    createdAt: r.created_at,
    ...(r.retired_at === null ? {} : { retiredAt: r.retired_at }),
    ...(r.verify_until === null ? {} : { verifyUntil: r.verify_until }),
  };
}
