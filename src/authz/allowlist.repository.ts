/**
 * The SQL of the allowlist store (table `authz_allowlists`): the lists, one list, the blocks
 * the store keeps in memory, and the writes, which notify the change feed (channel
 * `parley_authz_allowlists`, payload the trust domain) inside their transaction.
 */
import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { notifyChange } from '../database';
import { queryRows } from '../database';

export const ALLOWLISTS_CHANNEL = 'parley_authz_allowlists';

export interface Allowlist {
  readonly trustDomain: string;
  readonly cidrs: readonly string[];
  /** SPIFFE ID of the operator who last set it. */
  readonly updatedBy: string;
  readonly updatedAt: Date;
}

interface Row {
  trust_domain: string;
  cidrs: string[];
  updated_by: string;
  updated_at: Date;
}

const LIST_SQL = 'SELECT trust_domain, cidrs, updated_by, updated_at FROM authz_allowlists ORDER BY trust_domain';

const GET_SQL = 'SELECT trust_domain, cidrs, updated_by, updated_at FROM authz_allowlists WHERE trust_domain = $1';

const BLOCKS_SQL = 'SELECT trust_domain, cidrs FROM authz_allowlists';

const UPSERT_SQL = `INSERT INTO authz_allowlists (trust_domain, cidrs, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (trust_domain) DO UPDATE SET cidrs = EXCLUDED.cidrs, updated_by = EXCLUDED.updated_by, updated_at = now()
         RETURNING trust_domain, cidrs, updated_by, updated_at, (xmax = 0) AS inserted`;

const DELETE_SQL = 'DELETE FROM authz_allowlists WHERE trust_domain = $1 RETURNING trust_domain';

export class AllowlistRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Every list, by trust domain. */
  async list(): Promise<Allowlist[]> {
    const rows: Row[] = await this.dataSource.query(LIST_SQL);
    return rows.map(toAllowlist);
  }

  async get(trustDomain: string): Promise<Allowlist | undefined> {
    const rows: Row[] = await this.dataSource.query(GET_SQL, [trustDomain]);
    return rows[0] === undefined ? undefined : toAllowlist(rows[0]);
  }

  /** Every trust domain's blocks as stored (the text of each block). */
  async blocks(): Promise<Array<Pick<Allowlist, 'trustDomain' | 'cidrs'>>> {
    const rows: Array<Pick<Row, 'trust_domain' | 'cidrs'>> = await this.dataSource.query(BLOCKS_SQL);
    return rows.map((r) => ({ trustDomain: r.trust_domain, cidrs: r.cidrs }));
  }

  /** Replaces a trust domain's list, creating it when absent (`created` tells which), and notifies. */
  async upsert(trustDomain: string, cidrs: readonly string[], updatedBy: string): Promise<{ allowlist: Allowlist; created: boolean }> {
    const rows = await this.dataSource.transaction(async (m) => {
      const result = await queryRows<Row & { inserted: boolean }>(m, UPSERT_SQL, [trustDomain, [...cidrs], updatedBy]);
      await notifyChange(m, ALLOWLISTS_CHANNEL, trustDomain);
      return result;
    });
    const row = rows[0];
    if (row === undefined) throw new ParleyError('internal', 'allowlist: upsert returned no row');
    return { allowlist: toAllowlist(row), created: row.inserted };
  }

  /** Deletes a trust domain's list and notifies; false when it had none. */
  async remove(trustDomain: string): Promise<boolean> {
    const rows = await this.dataSource.transaction(async (m) => {
      const result = await queryRows<{ trust_domain: string }>(m, DELETE_SQL, [trustDomain]);
      if (result.length > 0) await notifyChange(m, ALLOWLISTS_CHANNEL, trustDomain);
      return result;
    });
    return rows.length > 0;
  }
}

function toAllowlist(r: Row): Allowlist {
  return { trustDomain: r.trust_domain, cidrs: [...r.cidrs], updatedBy: r.updated_by, updatedAt: new Date(r.updated_at) };
}
