/**
 * The query of the audit trail: validated filters (all optional, combined with AND), the
 * page size (JSON) or row cap (CSV) and the position to continue from. Invalid input yields
 * field errors naming the query parameter; unknown parameters are refused so a misspelt
 * filter never widens a result.
 *
 * Paging follows the admin API's convention: `pageSize` (0 or absent: the default, larger
 * values are capped) and `pageToken`. A CSV export is one response, not pages: `maxRows`
 * bounds it. `limit` is the deprecated name of both (JSON: page size, CSV: row cap), with
 * its old range.
 */
import { SpiffeId, TrustDomain } from '../../../spiffe';
import { namespaceError } from '../../domain/namespace';
import { parseFullMethod } from '../../domain/methods';
import { decodeAuditCursor } from './audit-cursor';
import type { AuditCursor, AuditDecision, AuditFilter } from './audit-types';
import { parseRfc3339Micros } from '../../domain/rfc3339';

export type AuditFormat = 'json' | 'csv';

export interface AuditQuery {
  readonly filter: AuditFilter;
  /** Entries per page (JSON), already defaulted and capped; undefined for CSV. */
  readonly pageSize?: number;
  /** CSV: the cap on rows, undefined = every matching row; undefined for JSON. */
  readonly maxRows?: number;
  /** Continue after this entry (newest first). */
  readonly after?: AuditCursor;
  /** Only when the query names one (`format=`); content negotiation decides otherwise. */
  readonly format?: AuditFormat;
}

export interface AuditFieldError {
  readonly field: string;
  readonly message: string;
}

export type AuditQueryResult = { readonly ok: true; readonly query: AuditQuery } | { readonly ok: false; readonly errors: AuditFieldError[] };

export const DEFAULT_AUDIT_PAGE = 100;
export const MAX_AUDIT_PAGE = 1000;
/** Largest `maxRows` of a CSV export (which otherwise streams every matching row). */
export const MAX_AUDIT_CSV_ROWS = 100_000_000;

export interface AuditQueryOptions {
  /** The response is a CSV export (`maxRows`), not a JSON page (`pageSize`); default false. */
  readonly csv?: boolean;
}
const MAX_RULE_LENGTH = 256;
const MAX_ADMIN_ACTION_LENGTH = 1100;

/** `<HTTP method> <path>` as the admin API audits its actions: an upper-case verb, one space, a path without spaces or control characters. */
export function isAdminAction(s: string): boolean {
  if (s.length > MAX_ADMIN_ACTION_LENGTH) return false;
  let space = -1;
  for (let i = 0; i < s.length && space < 0; i++) if (s.charCodeAt(i) === 0x20) space = i;
  if (space < 3 || space > 7 || s.charCodeAt(space + 1) !== 0x2f) return false;
  for (let i = 0; i < space; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x41 || c > 0x5a) return false;
  }
  for (let i = space + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  return true;
}
/** Years 0001 to 9999. */
const MIN_MICROS = -62_135_596_800_000_000n;
const MAX_MICROS = 253_402_300_799_999_999n;

export const AUDIT_QUERY_PARAMS = ['spiffeId', 'trustDomain', 'method', 'decision', 'namespace', 'rule', 'since', 'until', 'pageSize', 'pageToken', 'maxRows', 'limit', 'format'] as const;
const KNOWN: ReadonlySet<string> = new Set(AUDIT_QUERY_PARAMS);

/** Validates the query parameters of `GET /v1/audit` (an Express-style query object). */
export function parseAuditQuery(raw: Readonly<Record<string, unknown>>, options: AuditQueryOptions = {}): AuditQueryResult {
  const csv = options.csv === true;
  const errors: AuditFieldError[] = [];
  const fail = (field: string, message: string): undefined => {
    errors.push({ field, message });
    return undefined;
  };
  for (const name of Object.keys(raw)) if (!KNOWN.has(name)) fail(name.slice(0, 64), 'unknown query parameter');
  const single = (name: string): string | undefined => {
    const v = raw[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') return fail(name, 'must be given at most once, as text');
    return v;
  };

  const spiffeIdText = single('spiffeId');
  let spiffeId: string | undefined;
  if (spiffeIdText !== undefined) {
    try {
      spiffeId = SpiffeId.parse(spiffeIdText).toString();
    } catch {
      fail('spiffeId', 'must be a SPIFFE ID such as spiffe://example.org/ns/ml/sa/trainer');
    }
  }
  const trustDomainText = single('trustDomain');
  let trustDomain: string | undefined;
  if (trustDomainText !== undefined) {
    try {
      trustDomain = TrustDomain.parse(trustDomainText).name;
      if (trustDomain !== trustDomainText) throw new TypeError('not a bare name');
    } catch {
      trustDomain = undefined;
      fail('trustDomain', 'must be a trust domain name such as example.org (without spiffe://)');
    }
  }
  const method = single('method');
  if (method !== undefined && parseFullMethod(method) === undefined && !isAdminAction(method)) {
    fail('method', 'must be a full gRPC method name such as /parley.store.v1.StoreService/Pull, or an admin action such as POST /v1/policies');
  }
  const decision = single('decision');
  if (decision !== undefined && decision !== 'allow' && decision !== 'deny') fail('decision', 'must be allow or deny');
  const namespace = single('namespace');
  const namespaceWhy = namespace === undefined ? undefined : namespaceError(namespace);
  if (namespaceWhy !== undefined) fail('namespace', `must be a namespace such as team/ml: ${namespaceWhy}`);
  const rule = single('rule');
  if (rule !== undefined && rule.length > MAX_RULE_LENGTH) fail('rule', `must be at most ${MAX_RULE_LENGTH} characters`);
  const since = instant(single('since'), 'since', fail);
  const until = instant(single('until'), 'until', fail);
  if (since !== undefined && until !== undefined && since >= until) fail('until', 'must be after since');

  const { pageSize, maxRows } = sizes(single, csv, fail);
  const formatText = single('format');
  if (formatText !== undefined && formatText !== 'json' && formatText !== 'csv') fail('format', 'must be json or csv');
  if (errors.length > 0) return { ok: false, errors };

  const filter: AuditFilter = Object.freeze({
    spiffeId,
    trustDomain,
    method,
    decision: decision as AuditDecision | undefined,
    namespace,
    rule,
    sinceMicros: since,
    untilMicros: until,
  });
  const token = single('pageToken');
  let after: AuditCursor | undefined;
  if (token !== undefined) {
    const decoded = decodeAuditCursor(token, filter);
    if (typeof decoded === 'string') return { ok: false, errors: [{ field: 'pageToken', message: decoded }] };
    after = decoded;
  }
  return { ok: true, query: Object.freeze({ filter, pageSize, maxRows, after, format: formatText as AuditFormat | undefined }) };
}

/** `pageSize` (JSON pages), `maxRows` (CSV) and `limit`, their deprecated name with its old range. */
function sizes(single: (name: string) => string | undefined, csv: boolean, fail: (field: string, message: string) => undefined): { pageSize?: number; maxRows?: number } {
  const pageSizeText = single('pageSize');
  const maxRowsText = single('maxRows');
  const limitText = single('limit');
  let pageSize: number | undefined;
  let maxRows: number | undefined;
  if (pageSizeText !== undefined) {
    const n = decimal(pageSizeText, 10);
    if (csv) fail('pageSize', 'pages are JSON only; a CSV export takes maxRows');
    else if (n === undefined) fail('pageSize', `must be a non-negative integer (0: ${DEFAULT_AUDIT_PAGE}, at most ${MAX_AUDIT_PAGE})`);
    else pageSize = n === 0 ? DEFAULT_AUDIT_PAGE : Math.min(n, MAX_AUDIT_PAGE);
  }
  if (maxRowsText !== undefined) {
    const n = decimal(maxRowsText);
    if (!csv) fail('maxRows', 'applies to a CSV export only; JSON pages take pageSize');
    else if (n === undefined || n < 1 || n > MAX_AUDIT_CSV_ROWS) fail('maxRows', `must be an integer from 1 to ${MAX_AUDIT_CSV_ROWS}`);
    else maxRows = n;
  }
  if (limitText !== undefined) {
    const max = csv ? MAX_AUDIT_CSV_ROWS : MAX_AUDIT_PAGE;
    const current = csv ? 'maxRows' : 'pageSize';
    const n = decimal(limitText);
    if ((csv ? maxRowsText : pageSizeText) !== undefined) fail('limit', `deprecated name of ${current}: give only ${current}`);
    else if (n === undefined || n < 1 || n > max) fail('limit', `must be an integer from 1 to ${max}`);
    else if (csv) maxRows = n;
    else pageSize = n;
  }
  if (!csv && pageSize === undefined) pageSize = DEFAULT_AUDIT_PAGE;
  return { pageSize, maxRows };
}

function instant(text: string | undefined, field: string, fail: (field: string, message: string) => undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const micros = parseRfc3339Micros(text);
  if (micros === undefined) return fail(field, 'must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z');
  if (micros < MIN_MICROS || micros > MAX_MICROS) return fail(field, 'out of range (years 0001 to 9999)');
  return micros;
}

/** An unsigned decimal of at most `digits` digits, or undefined. */
function decimal(s: string, digits = 9): number | undefined {
  if (s.length === 0 || s.length > digits) return undefined;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return undefined;
    v = v * 10 + c;
  }
  return v;
}
