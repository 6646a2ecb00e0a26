/**
 * Source-address allowlists per trust domain (table `authz_allowlists`), defense in depth on
 * top of mTLS: a partner's workloads must also connect from the partner's networks. Kept in
 * memory (one map lookup and a CIDR scan per call), reloaded on every replica when the change
 * feed says so (channel `parley_authz_allowlists`) or after the feed reconnects.
 *
 * No list for a trust domain = no address restriction. A list present = the source address
 * must lie in one of its blocks; an empty list refuses every address, and a source address
 * that cannot be parsed is refused (fail closed). IPv4-mapped IPv6 addresses
 * (`::ffff:192.0.2.1`, what dual-stack sockets report) match IPv4 blocks.
 */
import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { notifyChange } from '../database';
import { cidrContains, parseCidr, parseIp, trustDomainNameError, type Cidr, type FieldError } from './domain';
import type { AllowlistCheck } from './ports';
import { LiveTable, queryRows, type LiveTableOptions } from './live-table';

export const ALLOWLISTS_CHANNEL = 'parley_authz_allowlists';

/** Most CIDR blocks in one trust domain's list. */
export const MAX_ALLOWLIST_CIDRS = 1000;

export interface Allowlist {
  readonly trustDomain: string;
  readonly cidrs: readonly string[];
  /** SPIFFE ID of the operator who last set it. */
  readonly updatedBy: string;
  readonly updatedAt: Date;
}

/** Why `sourceIp` is refused by `cidrs` (a trust domain's parsed list), or undefined when allowed. */
export function allowlistDecision(trustDomain: string, cidrs: readonly Cidr[] | undefined, sourceIp: string): string | undefined {
  if (cidrs === undefined) return undefined;
  const ip = parseIp(sourceIp);
  if (ip === undefined) return `source address of trust domain ${trustDomain} cannot be parsed; refused because the trust domain has an allowlist`;
  for (const cidr of cidrs) if (cidrContains(cidr, ip)) return undefined;
  return `source address ${sourceIp} is not in the allowlist of trust domain ${trustDomain}`;
}

/**
 * Validates a request to set a trust domain's list: the name and every block (field
 * `cidrs[i]`). Returns the field errors, empty when valid.
 */
export function allowlistErrors(trustDomain: unknown, cidrs: unknown): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof trustDomain !== 'string') errors.push({ field: 'trustDomain', message: 'must be a string' });
  else {
    const why = trustDomainNameError(trustDomain);
    if (why !== undefined) errors.push({ field: 'trustDomain', message: why });
  }
  if (!Array.isArray(cidrs)) {
    errors.push({ field: 'cidrs', message: 'must be an array of CIDR blocks such as 192.0.2.0/24 or 2001:db8::/32' });
    return errors;
  }
  if (cidrs.length > MAX_ALLOWLIST_CIDRS) {
    errors.push({ field: 'cidrs', message: `at most ${MAX_ALLOWLIST_CIDRS} blocks` });
    return errors;
  }
  cidrs.forEach((c: unknown, i) => {
    const parsed = typeof c === 'string' ? parseCidr(c) : 'must be a string';
    if (typeof parsed === 'string') errors.push({ field: `cidrs[${i}]`, message: parsed });
  });
  return errors;
}

function parseAll(cidrs: readonly string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const c of cidrs) {
    const parsed = parseCidr(c);
    // Rows are validated before they are written; a bad one narrows the list (fail closed).
    if (typeof parsed !== 'string') out.push(parsed);
  }
  return out;
}

interface Row {
  trust_domain: string;
  cidrs: string[];
  updated_by: string;
  updated_at: Date;
}

function toAllowlist(r: Row): Allowlist {
  return { trustDomain: r.trust_domain, cidrs: [...r.cidrs], updatedBy: r.updated_by, updatedAt: new Date(r.updated_at) };
}

export interface AllowlistStoreOptions extends LiveTableOptions {
  dataSource: DataSource;
}

export class AllowlistStore extends LiveTable implements AllowlistCheck {
  private lists: ReadonlyMap<string, readonly Cidr[]> = new Map();

  constructor(private readonly o: AllowlistStoreOptions) {
    super(o, ALLOWLISTS_CHANNEL, 'allowlists');
  }

  deniedReason(trustDomain: string, sourceIp: string): string | undefined {
    return allowlistDecision(trustDomain, this.lists.get(trustDomain), sourceIp);
  }

  async list(): Promise<Allowlist[]> {
    const rows: Row[] = await this.o.dataSource.query('SELECT trust_domain, cidrs, updated_by, updated_at FROM authz_allowlists ORDER BY trust_domain');
    return rows.map(toAllowlist);
  }

  async get(trustDomain: string): Promise<Allowlist | undefined> {
    const rows: Row[] = await this.o.dataSource.query('SELECT trust_domain, cidrs, updated_by, updated_at FROM authz_allowlists WHERE trust_domain = $1', [trustDomain]);
    return rows[0] === undefined ? undefined : toAllowlist(rows[0]);
  }

  /**
   * Replaces a trust domain's list (creates it when absent; `created` tells which). Input must
   * pass `allowlistErrors`. This replica enforces the new list when this resolves.
   */
  async set(trustDomain: string, cidrs: readonly string[], updatedBy: string): Promise<{ allowlist: Allowlist; created: boolean }> {
    if (allowlistErrors(trustDomain, cidrs).length > 0) throw new ParleyError('invalid_argument', 'allowlist: invalid trust domain or CIDR block');
    const rows = await this.o.dataSource.transaction(async (m) => {
      const result = await queryRows<Row & { inserted: boolean }>(
        m,
        `INSERT INTO authz_allowlists (trust_domain, cidrs, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (trust_domain) DO UPDATE SET cidrs = EXCLUDED.cidrs, updated_by = EXCLUDED.updated_by, updated_at = now()
         RETURNING trust_domain, cidrs, updated_by, updated_at, (xmax = 0) AS inserted`,
        [trustDomain, [...cidrs], updatedBy],
      );
      await notifyChange(m, ALLOWLISTS_CHANNEL, trustDomain);
      return result;
    });
    await this.reloadAfterWrite();
    const row = rows[0];
    if (row === undefined) throw new ParleyError('internal', 'allowlist: upsert returned no row');
    return { allowlist: toAllowlist(row), created: row.inserted };
  }

  /** Removes a trust domain's list (its addresses are no longer restricted); false when it had none. */
  async remove(trustDomain: string): Promise<boolean> {
    const rows = await this.o.dataSource.transaction(async (m) => {
      const result = await queryRows<{ trust_domain: string }>(m, 'DELETE FROM authz_allowlists WHERE trust_domain = $1 RETURNING trust_domain', [trustDomain]);
      if (result.length > 0) await notifyChange(m, ALLOWLISTS_CHANNEL, trustDomain);
      return result;
    });
    if (rows.length > 0) await this.reloadAfterWrite();
    return rows.length > 0;
  }

  protected async load(): Promise<void> {
    const rows: Array<Pick<Row, 'trust_domain' | 'cidrs'>> = await this.o.dataSource.query('SELECT trust_domain, cidrs FROM authz_allowlists');
    const lists = new Map<string, readonly Cidr[]>();
    for (const r of rows) lists.set(r.trust_domain, Object.freeze(parseAll(r.cidrs)));
    this.lists = lists;
    this.replaced();
  }
}
