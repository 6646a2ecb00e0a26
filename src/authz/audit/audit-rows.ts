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
      const at = entry.at instanceof Date ? entry.at.getTime() : Number.NaN;
      const done = identified(entry, Number.isFinite(at) ? at : Date.now());
      this.replace(i, done);
      batch[i] = done;
    }
    return batch as IdentifiedRecord[];
  }
}

/** `entry` with an entry id: its own when it carries a well-formed one, else a new one (made at `now`). */
export function identified(entry: AuditRecord, now: number): IdentifiedRecord {
  return isEntryId(entry.entryId) ? (entry as IdentifiedRecord) : { ...entry, entryId: newEntryId(now) };
}

/**
 * The batch as the eleven parameters of the repository's INSERT: each column one PostgreSQL
 * array literal (`{"a","b",NULL}`, what node-postgres would make of a JS array), cleaned so
 * PostgreSQL accepts every row. The values that repeat through a batch (caller, method,
 * reason, …) are cleaned and quoted once.
 */
export function columns(batch: readonly IdentifiedRecord[], nowMs: number): string[] {
  const n = batch.length;
  const at = new Array<string>(n);
  const spiffeId = new Array<string>(n);
  const trustDomain = new Array<string>(n);
  const source = new Array<string>(n);
  const method = new Array<string>(n);
  const namespace = new Array<string>(n);
  const decision = new Array<string>(n);
  const rule = new Array<string>(n);
  const reason = new Array<string>(n);
  const dry = new Array<string>(n);
  const entryId = new Array<string>(n);
  const quoted = new Map<unknown, string>();
  const element = (v: unknown, optional: boolean): string => {
    if (optional && (v === undefined || v === null || v === '')) return 'NULL';
    let q = quoted.get(v);
    if (q === undefined) quoted.set(v, (q = quote(text(v))));
    return q;
  };
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
    spiffeId[i] = element(e.spiffeId, false);
    trustDomain[i] = element(e.trustDomain, false);
    source[i] = element(e.sourceAddress, false);
    method[i] = element(e.method, false);
    namespace[i] = element(e.namespace, true);
    decision[i] = e.decision === 'allow' ? '"allow"' : '"deny"';
    rule[i] = element(e.rule, true);
    reason[i] = element(e.reason, false);
    const rules = dryRunRules(e);
    dry[i] = rules.length > 0 ? quote(JSON.stringify(rules)) : 'NULL';
    entryId[i] = quote(e.entryId);
  }
  return [at, spiffeId, trustDomain, source, method, namespace, decision, rule, reason, dry, entryId].map((column) => `{${column.join(',')}}`);
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
