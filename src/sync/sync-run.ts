import type * as grpc from '@grpc/grpc-js';
import { ParleyError } from '../common';
import { ContentId, type RecordImporter, type StoreRepository, type WireRecord, type WireReferrer } from '../store';
import type { FailureReason, SyncCounters } from './domain/sync-state';
import { failureReasonOfGrpcCode } from './domain/sync-state';
import { PartnerError, type PartnerSession } from './partner-session';
import type { SyncRepository, SyncRow } from './sync.repository';

/** Provenance annotations of a synced record. */
export const PROVENANCE = { trustDomain: 'parley.sync.source-trust-domain', gateway: 'parley.sync.source-gateway', syncId: 'parley.sync.id' } as const;
const MAX_REFERRERS_PER_RECORD = 256;
const LIST_PAGE = 200;
const GRPC_UNAUTHENTICATED = 16;

/** Why a run stopped early. */
export class RunStopped extends Error {
  constructor(readonly why: 'deleted' | 'lease_lost') {
    super(`sync run stopped: ${why}`);
  }
}

export interface RunContext {
  readonly sync: SyncRow;
  readonly owner: string;
  readonly session: PartnerSession;
  readonly repository: SyncRepository;
  readonly store: StoreRepository;
  readonly importer: RecordImporter;
  /** Our gateway's SPIFFE ID: the creator of synced records. */
  readonly localId: string;
  readonly localTrustDomain: string;
  /** Throws RunStopped once the sync was deleted or the lease lost (checked at record boundaries). */
  checkpoint(): void;
  /** A transfer the partner sends nothing on for this long is cut (TIMEOUT). */
  readonly idleMs: number;
  /** Aborted when the worker cuts the run short (shutdown past its grace): the transfers in flight are cancelled. */
  readonly signal?: AbortSignal;
  /** Records copied at once (sync.recordsInFlight); 1 when unset. */
  readonly recordsInFlight?: number;
  onBytes?(n: number): void;
  /** Each record's counters, as they are recorded (metrics). */
  onProgress?(delta: Partial<SyncCounters>): void;
}

export type RunResult = { ok: true; counters: SyncCounters; /** Kept in the completed sync's message (e.g. how referrers were read). */ note?: string } | { ok: false; reason: FailureReason; message: string };

/** The resume point of an interrupted run: which selected namespace, and the partner's List token in it. */
interface Cursor {
  readonly index: number;
  readonly token: string;
}

/**
 * One run of a sync: asks the partner for a grant, enumerates the selected records it
 * exports (List per namespace, or Lookup of the selected CIDs), and copies each record with
 * its referrers. Records already held are skipped (their referrers are still brought up to
 * date). Progress and the List cursor are written after every record and page, so an
 * interrupted run resumes where it stopped.
 */
export async function runSync(ctx: RunContext): Promise<RunResult> {
  const counters = { discovered: 0, transferred: 0, skipped: 0, failed: 0, bytes: 0 };
  try {
    const scope = await ctx.session.scope();
    const namespaces = ctx.sync.selection.namespaces.length > 0 ? [...ctx.sync.selection.namespaces] : [...new Set(scope.flatMap((s) => s.namespaces))];
    if (ctx.sync.selection.cids.length > 0) {
      const records = await lookupSelected(ctx);
      counters.discovered = records.length;
      await ctx.repository.progress(ctx.sync.id, ctx.owner, {}, { discovered: records.length });
      await copyEach(ctx, records, counters);
    } else {
      let cursor = parseCursor(ctx.sync.listCursor);
      for (let i = cursor.index; i < namespaces.length; i++, cursor = { index: i, token: '' }) await copyNamespace(ctx, namespaces[i], i, cursor.token, counters);
    }
    return { ok: true, counters };
  } catch (err) {
    if (err instanceof RunStopped) throw err;
    return failure(err);
  }
}

type Counts = { -readonly [K in keyof SyncCounters]: number };

async function copyNamespace(ctx: RunContext, namespace: string, index: number, startToken: string, counters: Counts): Promise<void> {
  let token = startToken;
  do {
    const page = await ctx.session.store.list({ namespace, include_sub_namespaces: true, annotations: { ...ctx.sync.selection.annotations }, page_size: LIST_PAGE, page_token: token });
    counters.discovered += page.records.length;
    // Shown before the page is copied, so `discovered` tells how far the run has to go.
    await ctx.repository.progress(ctx.sync.id, ctx.owner, {}, { discovered: counters.discovered });
    await copyEach(ctx, page.records, counters);
    token = page.next_page_token;
    await ctx.repository.progress(ctx.sync.id, ctx.owner, {}, { discovered: counters.discovered, listCursor: JSON.stringify({ index, token }) });
  } while (token !== '');
}

async function lookupSelected(ctx: RunContext): Promise<WireRecord[]> {
  const cids = ctx.sync.selection.cids;
  const found: WireRecord[] = [];
  for (let at = 0; at < cids.length; at += 100) found.push(...(await ctx.session.store.lookup(cids.slice(at, at + 100), true)).records);
  return found;
}

/**
 * Copies a page's records, up to `recordsInFlight` at once (a record's lookups, commits and
 * referrer round trips overlap another's transfer). The first error that ends the run stops
 * the records still in flight (their staged bytes stay for the resume) and is thrown once
 * they have stopped; no record starts after it.
 */
async function copyEach(ctx: RunContext, records: readonly WireRecord[], counters: Counts): Promise<void> {
  const stop = new AbortController();
  const parent = ctx.signal;
  const onParentAbort = () => stop.abort(parent?.reason);
  parent?.addEventListener('abort', onParentAbort, { once: true });
  const lane: RunContext = { ...ctx, signal: stop.signal };
  let next = 0;
  let failure: { err: unknown } | undefined;
  const copyNext = async (): Promise<void> => {
    while (failure === undefined && next < records.length) {
      const record = records[next++];
      try {
        ctx.checkpoint();
        const delta = await copyCounted(lane, record);
        for (const key of ['transferred', 'skipped', 'failed', 'bytes'] as const) counters[key] += delta[key] ?? 0;
        await ctx.repository.progress(ctx.sync.id, ctx.owner, delta, delta.message === undefined ? {} : { message: delta.message });
        ctx.onProgress?.(delta);
      } catch (err) {
        if (failure === undefined) failure = { err };
        stop.abort(err);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(Math.max(1, ctx.recordsInFlight ?? 1), records.length) }, copyNext));
  } finally {
    parent?.removeEventListener('abort', onParentAbort);
  }
  if (failure !== undefined) throw failure.err;
}

/**
 * One record, retried once with a new grant when the partner refused the one we held (our
 * SVID rotated under it). A record this gateway cannot take (its namespace or annotations
 * exceed our limits) is counted as failed and the run goes on; anything else ends the run.
 */
async function copyCounted(ctx: RunContext, record: WireRecord): Promise<Partial<SyncCounters> & { message?: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const copied = await copyRecord(ctx, record);
      return copied.created ? { transferred: 1, bytes: copied.bytes } : { skipped: 1, bytes: copied.bytes };
    } catch (err) {
      if ((err as grpc.ServiceError)?.code === GRPC_UNAUTHENTICATED && attempt === 0) {
        ctx.session.invalidate();
        continue;
      }
      if (ParleyError.is(err) && !endsRun(err) && (err.code === 'invalid_argument' || err.code === 'resource_exhausted')) {
        return { failed: 1, message: `record ${record.cid} not taken: ${err.message}` };
      }
      throw err;
    }
  }
}

/** Copies one record (resuming its staged bytes) and its referrers. */
async function copyRecord(ctx: RunContext, record: WireRecord): Promise<{ created: boolean; bytes: number }> {
  const cid = ContentId.parse(record.cid);
  const size = Number(record.size);
  const resume = await ctx.repository.transfer(ctx.sync.id, cid.toString());
  const result = await ctx.importer.import({
    cid,
    size,
    draft: {
      namespace: localNamespace(ctx.sync.targetNamespace, record.namespace),
      mediaType: record.media_type,
      annotations: { ...record.annotations, [PROVENANCE.trustDomain]: ctx.sync.remoteSpiffeId.slice('spiffe://'.length).split('/')[0], [PROVENANCE.gateway]: ctx.sync.remoteSpiffeId, [PROVENANCE.syncId]: ctx.sync.id },
      creatorSpiffeId: ctx.localId,
      creatorTrustDomain: ctx.localTrustDomain,
    },
    ...(resume === undefined ? {} : { resume }),
    onStaged: (staged) => ctx.repository.saveTransfer(ctx.sync.id, cid.toString(), staged.uploadId, staged.stagedBytes),
    source: (offset) => pullFrom(ctx, record.cid, offset),
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
  });
  if (resume !== undefined || result.created) await ctx.repository.dropTransfer(ctx.sync.id, cid.toString());
  for (const doc of await ctx.session.store.pullReferrers(record.cid)) await putReferrer(ctx, cid, doc);
  return { created: result.created, bytes: result.fetchedBytes };
}

/**
 * The partner's payload from `offset`. The wait for each message is bounded by `idleMs` (a
 * stalled partner is cut, TIMEOUT, and the record resumes from what was staged), and the
 * worker's abort signal cancels the call.
 */
async function* pullFrom(ctx: RunContext, cid: string, offset: number): AsyncIterable<Uint8Array> {
  const stream = ctx.session.store.pull(cid, { offset });
  let idle = false;
  const cancel = () => stream.cancel();
  ctx.signal?.addEventListener('abort', cancel, { once: true });
  const messages = (stream as AsyncIterable<{ record?: unknown; chunk?: Buffer }>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const watchdog = setTimeout(() => ((idle = true), cancel()), ctx.idleMs);
      let next: IteratorResult<{ record?: unknown; chunk?: Buffer }>;
      try {
        next = await messages.next();
      } catch (err) {
        if (idle) throw new ParleyError('timeout', `sync: ${cid}: the partner sent nothing for ${ctx.idleMs} ms; the transfer resumes from what was staged`);
        throw err;
      } finally {
        clearTimeout(watchdog);
      }
      if (next.done === true) return;
      const chunk = next.value.chunk;
      if (chunk === undefined || chunk === null) continue;
      ctx.onBytes?.(chunk.length);
      yield chunk;
    }
  } finally {
    ctx.signal?.removeEventListener('abort', cancel);
    cancel();
  }
}

async function putReferrer(ctx: RunContext, record: ContentId, doc: WireReferrer): Promise<void> {
  if (doc.data === undefined || doc.cid === undefined) return;
  if (!ContentId.of(doc.data).equals(ContentId.parse(doc.cid))) {
    throw new ParleyError('invalid_argument', `sync: referrer ${doc.cid} of ${record.toString()} does not match its cid`, { details: { reason: 'integrity_mismatch' } });
  }
  await ctx.store.referrers.put(
    record,
    { type: doc.type ?? '', mediaType: doc.media_type ?? '', data: doc.data, annotations: { ...(doc.annotations ?? {}) }, creatorSpiffeId: ctx.localId, creatorTrustDomain: ctx.localTrustDomain },
    MAX_REFERRERS_PER_RECORD,
  );
}

/** Where a partner's record lands: below the sync's target namespace. */
export function localNamespace(target: string, remote: string): string {
  return `${target}/${remote}`;
}

function parseCursor(text: string | undefined): Cursor {
  if (text === undefined) return { index: 0, token: '' };
  try {
    const c = JSON.parse(text) as Cursor;
    return Number.isSafeInteger(c.index) && c.index >= 0 && typeof c.token === 'string' ? c : { index: 0, token: '' };
  } catch {
    return { index: 0, token: '' };
  }
}

/** A failure ending a run, as the sync reports it. */
/**
 * A ParleyError that ends the run instead of counting its record as not taken: an integrity
 * mismatch, or no upload buffer space for store.uploadBufferWait (the gateway is busy, not
 * the record too large: the run is retried with backoff and resumes at its cursor).
 */
export function endsRun(err: ParleyError): boolean {
  return err.details.reason === 'integrity_mismatch' || err.details.reason === 'upload_buffer';
}

export function failure(err: unknown): RunResult {
  if (err instanceof PartnerError) {
    if (err.kind === 'nothing_exported') return { ok: false, reason: 'NOTHING_EXPORTED', message: err.message };
    if (err.kind === 'grant_expired') return { ok: false, reason: 'GRANT_EXPIRED', message: err.message };
    return { ok: false, reason: failureReasonOfGrpcCode(err.grpcCode), message: err.message };
  }
  if (ParleyError.is(err)) {
    if (err.details.reason === 'integrity_mismatch') return { ok: false, reason: 'INTEGRITY_MISMATCH', message: err.message };
    if (err.code === 'unavailable') return { ok: false, reason: 'UNREACHABLE', message: err.message };
    if (err.code === 'timeout' || err.details.reason === 'upload_buffer') return { ok: false, reason: 'TIMEOUT', message: err.message };
    return { ok: false, reason: 'INTERNAL', message: err.message };
  }
  const code = (err as grpc.ServiceError)?.code;
  if (typeof code === 'number') return { ok: false, reason: failureReasonOfGrpcCode(code), message: `partner: ${(err as Error).message}` };
  return { ok: false, reason: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
