/**
 * Exports: what this gateway shares, and with whom. Deny by default: a federated caller
 * enumerates and syncs only what an export names for it. An export names its partner as a
 * trust domain, an exact SPIFFE ID or an ID path prefix (on `/` boundaries, as policies do),
 * the namespaces it covers (each with everything below it), optionally an annotation
 * selector (every pair must be on the record), and the read actions it grants.
 */
import { authorizePathPrefix, SpiffeId, TrustDomain, type Authorizer } from '../../spiffe';
import { namespaceCovers } from '../../authz/domain';
import { parseNamespace } from '../../store/domain';
import { ParleyError } from '../../common/errors';
import type { FieldError } from '../../authz/domain';

export const EXPORT_ACTIONS = ['list', 'lookup', 'pull', 'pull_referrer'] as const;
export type ExportAction = (typeof EXPORT_ACTIONS)[number];

export type ExportPartner = { readonly trustDomain: string } | { readonly spiffeId: string } | { readonly spiffeIdPrefix: string };

export interface ExportDefinition {
  readonly id: string;
  readonly partner: ExportPartner;
  readonly namespaces: readonly string[];
  /** Every key must be on the record with this value (an empty or absent selector selects all). */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly actions: readonly ExportAction[];
  readonly description?: string;
}

/** What one export lets a caller read: the namespaces for these actions, records matching the selector. */
export interface ScopeEntry {
  readonly exportId: string;
  readonly namespaces: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly actions: readonly ExportAction[];
}

/** The union of the exports that name a caller (empty: nothing is exported to it). */
export type GrantScope = readonly ScopeEntry[];

const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MAX_NAMESPACES = 64;
const MAX_SELECTOR_PAIRS = 16;

/** Exports compiled for matching: one predicate per partner. */
export class ExportSet {
  private readonly entries: ReadonlyArray<{ readonly admits: Authorizer; readonly scope: ScopeEntry }>;

  constructor(readonly definitions: readonly ExportDefinition[]) {
    this.entries = definitions.map((d) => ({
      admits: partnerAuthorizer(d.partner),
      scope: Object.freeze({ exportId: d.id, namespaces: [...d.namespaces], ...(hasSelector(d) ? { annotations: { ...d.annotations } } : {}), actions: [...d.actions] }),
    }));
  }

  /** The scope exported to `caller`; empty when no export names it. */
  scopeFor(caller: SpiffeId): GrantScope {
    return this.entries.filter((e) => e.admits(caller)).map((e) => e.scope);
  }
}

/** Whether `scope` lets its holder do `action` on a record of `namespace` with `annotations`. */
export function scopeAllows(scope: GrantScope, action: ExportAction, namespace: string, annotations?: Readonly<Record<string, string>>): boolean {
  return scope.some((e) => e.actions.includes(action) && e.namespaces.some((ns) => namespaceCovers(ns, namespace)) && selectorMatches(e.annotations, annotations));
}

/** Whether some entry of `scope` could cover records of `namespace` (before their annotations are known). */
export function scopeMayCover(scope: GrantScope, action: ExportAction, namespace: string): boolean {
  return scope.some((e) => e.actions.includes(action) && e.namespaces.some((ns) => namespaceCovers(ns, namespace)));
}

function selectorMatches(selector: Readonly<Record<string, string>> | undefined, annotations: Readonly<Record<string, string>> | undefined): boolean {
  if (selector === undefined) return true;
  for (const [key, value] of Object.entries(selector)) if (annotations?.[key] !== value) return false;
  return true;
}

function hasSelector(d: ExportDefinition): boolean {
  return d.annotations !== undefined && Object.keys(d.annotations).length > 0;
}

function partnerAuthorizer(p: ExportPartner): Authorizer {
  if ('trustDomain' in p) {
    const name = TrustDomain.parse(p.trustDomain).name;
    return (id) => id.trustDomain.name === name;
  }
  if ('spiffeId' in p) {
    const exact = SpiffeId.parse(p.spiffeId).toString();
    return (id) => id.toString() === exact;
  }
  const prefix = SpiffeId.parse(p.spiffeIdPrefix);
  return authorizePathPrefix(prefix.trustDomain, prefix.path);
}

/**
 * Every problem of an export definition at once, with field paths (`partner.trustDomain`,
 * `namespaces[1]`, …). `ownTrustDomain` cannot be a partner: own workloads need no export.
 */
export function exportErrors(input: unknown, ownTrustDomain: string): FieldError[] {
  const errors: FieldError[] = [];
  const add = (field: string, message: string) => errors.push({ field, message });
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [{ field: '', message: 'must be an object' }];
  const e = input as Record<string, unknown>;
  for (const key of Object.keys(e)) if (!['id', 'partner', 'namespaces', 'annotations', 'actions', 'description'].includes(key)) add(key, 'is not a known field');
  if (typeof e.id !== 'string' || !ID_PATTERN.test(e.id)) add('id', 'must match [a-z0-9][a-z0-9._-]{0,62}');
  partnerErrors(e.partner, ownTrustDomain, add);
  if (!Array.isArray(e.namespaces) || e.namespaces.length === 0) add('namespaces', 'must be a non-empty array');
  else if (e.namespaces.length > MAX_NAMESPACES) add('namespaces', `must have at most ${MAX_NAMESPACES} entries`);
  else e.namespaces.forEach((ns, i) => fieldCheck(() => parseNamespace(ns, `namespaces[${i}]`), `namespaces[${i}]`, add));
  if (!Array.isArray(e.actions) || e.actions.length === 0) add('actions', `must be a non-empty array of ${EXPORT_ACTIONS.join(', ')}`);
  else e.actions.forEach((a, i) => (EXPORT_ACTIONS as readonly unknown[]).includes(a) || add(`actions[${i}]`, `must be one of ${EXPORT_ACTIONS.join(', ')}`));
  selectorErrors(e.annotations, add);
  if (e.description !== undefined && (typeof e.description !== 'string' || e.description.length > 1024)) add('description', 'must be a string of at most 1024 characters');
  return errors;
}

function partnerErrors(partner: unknown, ownTrustDomain: string, add: (field: string, message: string) => void): void {
  if (typeof partner !== 'object' || partner === null || Array.isArray(partner)) return add('partner', 'must be an object with one of trustDomain, spiffeId, spiffeIdPrefix');
  const keys = Object.keys(partner);
  if (keys.length !== 1 || !['trustDomain', 'spiffeId', 'spiffeIdPrefix'].includes(keys[0])) return add('partner', 'must have exactly one of trustDomain, spiffeId, spiffeIdPrefix');
  const key = keys[0];
  const value = (partner as Record<string, unknown>)[key];
  const field = `partner.${key}`;
  if (typeof value !== 'string') return add(field, 'must be a string');
  let td: string;
  try {
    td = key === 'trustDomain' ? TrustDomain.parse(value).name : SpiffeId.parse(value).trustDomain.name;
  } catch (err) {
    return add(field, (err as Error).message);
  }
  if (td === ownTrustDomain) add(field, `names the gateway's own trust domain ${ownTrustDomain}: own workloads need no export`);
}

function selectorErrors(selector: unknown, add: (field: string, message: string) => void): void {
  if (selector === undefined) return;
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) return add('annotations', 'must be an object of string values');
  const pairs = Object.entries(selector);
  if (pairs.length > MAX_SELECTOR_PAIRS) add('annotations', `must have at most ${MAX_SELECTOR_PAIRS} pairs`);
  for (const [key, value] of pairs) if (typeof value !== 'string' || key.length === 0) add(`annotations.${key}`, 'must be a string');
}

function fieldCheck(check: () => unknown, field: string, add: (field: string, message: string) => void): void {
  try {
    check();
  } catch (err) {
    const message = err instanceof ParleyError ? err.message.replace(`${field}: `, '') : String(err);
    add(field, message);
  }
}
