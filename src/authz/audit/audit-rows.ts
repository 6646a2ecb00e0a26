/**
 * How queued decisions become rows of `authz_audit` (written by AuditRepository.insert, one
 * multi-row INSERT per batch that skips entries already stored by their entry id): each
 * entry gets its id when it is made, and is cleaned so PostgreSQL accepts every row.
 */
import type { AuditRecord } from '../ports';
import { BoundedQueue } from './domain/bounded-queue';
import { isEntryId, newEntryId } from './domain/entry-id';

/** A decision with the id it got when it was made. */
export type IdentifiedRecord = AuditRecord & { readonly entryId: string };

/** Longest text kept per column (longer values are cut); rule ids per row. */
const MAX_TEXT = 4096;
const MAX_DRY_RUN_RULES = 64;
/** SQLSTATE classes of errors caused by the rows themselves: retrying cannot help. */
const DATA_ERROR_CLASSES: ReadonlySet<string> = new Set(['22', '23']);

/**
 * The audit writer's queue. Decisions go in as they were made (nothing is copied or computed
 * on the request path); each gets its entry id when it is first read out, from the time of
 * its decision, and keeps it however often it is read again (a retry, the spool).
 */
export class AuditQueue extends BoundedQueue<AuditRecord> {
  /** Each entry read out for the first time is replaced in its slot by its identified form (no side table). */
  override peek(max: number): IdentifiedRecord[] {
    const batch = super.peek(max);
    for (let i = 0; i < batch.length; i++) {
      const entry = batch[i]!;
      if (isEntryId(entry.entryId)) continue;
      const date = entry.at;
      const at = date instanceof Date ? date.getTime() : Number.NaN;
      const done = identified(entry, Number.isFinite(at) ? at : Date.now());
      this.replace(i, done);
      batch[i] = done;
    }
    return batch as IdentifiedRecord[];
  }
}

/** `entry` with an entry id: its own when it carries a well-formed one, else a new one (made at `now`). */
export function identified(entry: AuditRecord, now: number): IdentifiedRecord {
  if (isEntryId(entry.entryId)) return entry as IdentifiedRecord;
  // Field by field: an entry's fields may be getters (CallAuditEntry), which a spread would miss.
  return {
    entryId: newEntryId(now),
    at: entry.at,
    spiffeId: entry.spiffeId,
    trustDomain: entry.trustDomain,
    sourceAddress: entry.sourceAddress,
    method: entry.method,
    namespace: entry.namespace,
    decision: entry.decision,
    rule: entry.rule,
    reason: entry.reason,
    dryRunDenied: entry.dryRunDenied,
  };
}

/**
 * The text columns of `authz_audit` sent dictionary-coded: per column the distinct values of
 * the batch once, and per row an index into them (1-based; 0 is NULL). A batch's rows mostly
 * share their caller, method, namespace, rule and reason, so this is a fraction of the bytes.
 */
export const CODED_COLUMNS = ['spiffe_id', 'trust_domain', 'source_address', 'method', 'namespace', 'decision', 'rule', 'reason', 'dry_run_denied'] as const;

/**
 * The batch as the parameters of the repository's INSERT, cleaned so PostgreSQL accepts every
 * row, each a PostgreSQL array literal (`{"a","b",NULL}`, what node-postgres would make of a JS
 * array): `at` (timestamptz[]), `entry_id` (uuid[]), then for each of CODED_COLUMNS its
 * distinct values (text[]; dry_run_denied as JSON arrays) and the rows' indexes (int[]).
 */
export function columns(batch: readonly IdentifiedRecord[], nowMs: number): string[] {
  const n = batch.length;
  const at = new Array<string>(n);
  const entryId = new Array<string>(n);
  const coded = CODED_COLUMNS.map(() => new DictionaryColumn(n));
  const [spiffeId, trustDomain, source, method, namespace, decision, rule, reason, dry] = coded as [DictionaryColumn, DictionaryColumn, DictionaryColumn, DictionaryColumn, DictionaryColumn, DictionaryColumn, DictionaryColumn, DictionaryColumn, DictionaryColumn];
  let lastMs = Number.NaN;
  let lastAt = '';
  for (let i = 0; i < n; i++) {
    const e = batch[i]!;
    const ms = timeOf(e, nowMs).getTime();
    if (ms !== lastMs) {
      lastMs = ms;
      lastAt = `"${new Date(ms).toISOString()}"`;
    }
    at[i] = lastAt;
    entryId[i] = quote(e.entryId);
    spiffeId.add(i, e.spiffeId, false);
    trustDomain.add(i, e.trustDomain, false);
    source.add(i, e.sourceAddress, false);
    method.add(i, e.method, false);
    namespace.add(i, e.namespace, true);
    decision.add(i, e.decision === 'allow' ? 'allow' : 'deny', false);
    rule.add(i, e.rule, true);
    reason.add(i, e.reason, false);
    const rules = dryRunRules(e);
    dry.add(i, rules.length > 0 ? JSON.stringify(rules) : undefined, true);
  }
  const out = [literal(at), literal(entryId)];
  for (const c of coded) out.push(literal(c.values), literal(c.indexes));
  return out;
}

/** One dictionary-coded column of a batch. */
class DictionaryColumn {
  /** Distinct cleaned values, quoted for the literal. */
  readonly values: string[] = [];
  readonly indexes: number[];
  /** By the value as given (cleaned once) and by the cleaned value (so two spellings that clean alike share an index). */
  private readonly byRaw = new Map<unknown, number>();
  private readonly byCleaned = new Map<string, number>();

  constructor(rows: number) {
    this.indexes = new Array<number>(rows);
  }

  add(row: number, v: unknown, optional: boolean): void {
    if (optional && (v === undefined || v === null || v === '')) {
      this.indexes[row] = 0;
      return;
    }
    let index = this.byRaw.get(v);
    if (index === undefined) {
      const clean = text(v);
      index = this.byCleaned.get(clean);
      if (index === undefined) {
        this.values.push(quote(clean));
        this.byCleaned.set(clean, (index = this.values.length));
      }
      this.byRaw.set(v, index);
    }
    this.indexes[row] = index;
  }
}

function literal(elements: readonly (string | number)[]): string {
  return `{${elements.join(',')}}`;
}

/** One element of an array literal: double-quoted, backslash and quote escaped. */
function quote(s: string): string {
  return `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** The entry cleaned the same way for the spool (so what is replayed is what would have been written). */
export function cleaned(e: IdentifiedRecord, nowMs: number): IdentifiedRecord {
  const namespace = optionalText(e.namespace) ?? undefined;
  const rule = optionalText(e.rule) ?? undefined;
  return {
    entryId: e.entryId,
    at: timeOf(e, nowMs),
    spiffeId: text(e.spiffeId),
    trustDomain: text(e.trustDomain),
    sourceAddress: text(e.sourceAddress),
    method: text(e.method),
    namespace,
    decision: e.decision === 'allow' ? 'allow' : 'deny',
    rule,
    reason: text(e.reason),
    dryRunDenied: dryRunRules(e),
  };
}

export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && DATA_ERROR_CLASSES.has(code.slice(0, 2));
}

function timeOf(e: AuditRecord, nowMs: number): Date {
  return e.at instanceof Date && Number.isFinite(e.at.getTime()) ? e.at : new Date(nowMs);
}

function dryRunRules(e: AuditRecord): string[] {
  return Array.isArray(e.dryRunDenied) ? e.dryRunDenied.slice(0, MAX_DRY_RUN_RULES).map(text) : [];
}

/** PostgreSQL text holds no NUL; very long values are cut. */
function text(v: unknown): string {
  const s = typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
  return (s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s).replaceAll('\u0000', '\uFFFD');
}

function optionalText(v: unknown): string | null {
  return v === undefined || v === null || v === '' ? null : text(v);
}
