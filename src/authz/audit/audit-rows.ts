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
  private readonly ids = new WeakMap<AuditRecord, IdentifiedRecord>();

  override peek(max: number): IdentifiedRecord[] {
    return super.peek(max).map((entry) => {
      let done = this.ids.get(entry);
      if (done === undefined) {
        const at = entry.at instanceof Date ? entry.at.getTime() : Number.NaN;
        this.ids.set(entry, (done = identified(entry, Number.isFinite(at) ? at : Date.now())));
      }
      return done;
    });
  }
}

/** `entry` with an entry id: its own when it carries a well-formed one, else a new one (made at `now`). */
export function identified(entry: AuditRecord, now: number): IdentifiedRecord {
  return isEntryId(entry.entryId) ? (entry as IdentifiedRecord) : { ...entry, entryId: newEntryId(now) };
}

/** The batch as the eleven column arrays of the repository's INSERT, cleaned so PostgreSQL accepts every row. */
export function columns(batch: readonly IdentifiedRecord[], nowMs: number): unknown[][] {
  const at: string[] = [];
  const spiffeId: string[] = [];
  const trustDomain: string[] = [];
  const source: string[] = [];
  const method: string[] = [];
  const namespace: Array<string | null> = [];
  const decision: string[] = [];
  const rule: Array<string | null> = [];
  const reason: string[] = [];
  const dry: Array<string | null> = [];
  const entryId: string[] = [];
  for (const e of batch) {
    at.push(timeOf(e, nowMs).toISOString());
    spiffeId.push(text(e.spiffeId));
    trustDomain.push(text(e.trustDomain));
    source.push(text(e.sourceAddress));
    method.push(text(e.method));
    namespace.push(optionalText(e.namespace));
    decision.push(e.decision === 'allow' ? 'allow' : 'deny');
    rule.push(optionalText(e.rule));
    reason.push(text(e.reason));
    const rules = dryRunRules(e);
    dry.push(rules.length > 0 ? JSON.stringify(rules) : null);
    entryId.push(e.entryId);
  }
  return [at, spiffeId, trustDomain, source, method, namespace, decision, rule, reason, dry, entryId];
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
