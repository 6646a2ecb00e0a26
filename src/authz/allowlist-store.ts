/**
 * Source-address allowlists per trust domain (table `authz_allowlists`), defense in depth on
 * top of mTLS: a partner's workloads must also connect from the partner's networks. Kept in
 * memory (one map lookup and a CIDR scan per call), reloaded on every replica when the change
 * feed says so (channel `parley_authz_allowlists`) or after the feed reconnects.
 *
 * No list for a trust domain = no address restriction. A list present = the source address
 * must lie in one of its blocks; an empty list refuses every address, and a source address
 * that cannot be parsed is refused (fail closed). IPv4-mapped IPv6 addresses
 * (`::ffff:192.0.2.1`, what dual-stack sockets report) match IPv4 blocks. The SQL is
 * allowlist.repository.ts's.
 */
import type { DataSource } from 'typeorm';
import { ParleyError } from '../common';
import { cidrContains, parseCidr, parseIp, trustDomainNameError, type Cidr, type FieldError } from './domain';
import type { AllowlistCheck } from './ports';
import { LiveTable, type LiveTableOptions } from './live-table';
import { ALLOWLISTS_CHANNEL, AllowlistRepository, type Allowlist } from './allowlist.repository';

export { ALLOWLISTS_CHANNEL } from './allowlist.repository';
export type { Allowlist } from './allowlist.repository';

/** Most CIDR blocks in one trust domain's list. */
export const MAX_ALLOWLIST_CIDRS = 1000;

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

/**
 * Where the lists are stored: an AllowlistRepository, or the DataSource to make one from
 * (`repository` wins when both are given).
 */
export type AllowlistStorage = { repository: AllowlistRepository; dataSource?: DataSource } | { repository?: undefined; dataSource: DataSource };

export type AllowlistStoreOptions = LiveTableOptions & AllowlistStorage;

export class AllowlistStore extends LiveTable implements AllowlistCheck {
  private lists: ReadonlyMap<string, readonly Cidr[]> = new Map();
  private readonly repository: AllowlistRepository;

  constructor(o: AllowlistStoreOptions) {
    super(o, ALLOWLISTS_CHANNEL, 'allowlists');
    this.repository = o.repository !== undefined ? o.repository : new AllowlistRepository(o.dataSource);
  }

  deniedReason(trustDomain: string, sourceIp: string): string | undefined {
    return allowlistDecision(trustDomain, this.lists.get(trustDomain), sourceIp);
  }

  list(): Promise<Allowlist[]> {
    return this.repository.list();
  }

  get(trustDomain: string): Promise<Allowlist | undefined> {
    return this.repository.get(trustDomain);
  }

  /**
   * Replaces a trust domain's list (creates it when absent; `created` tells which). Input must
   * pass `allowlistErrors`. This replica enforces the new list when this resolves.
   */
  async set(trustDomain: string, cidrs: readonly string[], updatedBy: string): Promise<{ allowlist: Allowlist; created: boolean }> {
    if (allowlistErrors(trustDomain, cidrs).length > 0) throw new ParleyError('invalid_argument', 'allowlist: invalid trust domain or CIDR block');
    const stored = await this.repository.upsert(trustDomain, cidrs, updatedBy);
    await this.reloadAfterWrite();
    return stored;
  }

  /** Removes a trust domain's list (its addresses are no longer restricted); false when it had none. */
  async remove(trustDomain: string): Promise<boolean> {
    const removed = await this.repository.remove(trustDomain);
    if (removed) await this.reloadAfterWrite();
    return removed;
  }

  protected async load(): Promise<void> {
    const rows = await this.repository.blocks();
    const lists = new Map<string, readonly Cidr[]>();
    for (const r of rows) lists.set(r.trustDomain, Object.freeze(parseAll(r.cidrs)));
    this.lists = lists;
    this.replaced();
  }
}
