import { ParleyError } from '../common';
import { ContentId, parseMediaType } from '../store';
import { endsRun, PROVENANCE, runFailure, RunStopped, type OciSourceSpec, type RunResult, type SourceRunContext, type SyncCounters, type SyncSourceAdapter } from '../sync';
import type { Descriptor } from './domain/oci-mapping';
import { isReferrersTag, planManifest, referrerBlobs, type PlannedRecord } from './domain/oci-source-manifest';
import { OCI_BLOB_DOC, OCI_MANIFEST_DOC, OCI_REFERRER_DOC } from './domain/pushed-manifest';
import { OciClient, OciSourceError } from './oci-client';

const MAX_REFERRERS_PER_RECORD = 256;
const NO_REFERRERS_API = 'the registry has no referrers API (404); referrers were read from the referrers tag schema';

interface OciRunContext extends SourceRunContext {
  readonly client: OciClient;
}

/** The sync source adapter of OCI registries: one client per run, with the sync's credential. */
export class OciSyncSource implements SyncSourceAdapter {
  readonly kind = 'oci';

  async run(ctx: SourceRunContext): Promise<RunResult> {
    const client = new OciClient({ source: ctx.sync.source!, ...(ctx.secret === undefined ? {} : { secret: ctx.secret }), idleMs: ctx.idleMs, ...(ctx.signal === undefined ? {} : { signal: ctx.signal }) });
    try {
      return await runOciSync({ ...ctx, client });
    } finally {
      client.close();
    }
  }
}

type Counts = { -readonly [K in keyof SyncCounters]: number };
type Delta = Partial<SyncCounters> & { message?: string };

/**
 * One run of a sync from an OCI repository, through the same importer, leases, counters and
 * staged transfers as a sync from a partner gateway: the selected tags (or every tag, the
 * referrers tag schema's left out), each manifest's records with their documents and
 * referrers. The tag reached is written after each tag, so an interrupted run resumes there;
 * a record interrupted mid-payload resumes from its staged bytes (a Range request).
 */
export async function runOciSync(ctx: OciRunContext): Promise<RunResult> {
  const counters: Counts = { discovered: 0, transferred: 0, skipped: 0, failed: 0, bytes: 0 };
  const source = ctx.sync.source!;
  try {
    await ctx.client.ping();
    const tags = source.tags.length > 0 ? [...source.tags] : (await ctx.client.tags()).filter((t) => !isReferrersTag(t)).sort();
    const notes = new Set<string>();
    for (let i = startIndex(ctx.sync.listCursor, tags.length); i < tags.length; i++) {
      ctx.checkpoint();
      await copyTag(ctx, source, tags[i], counters, notes);
      await ctx.repository.progress(ctx.sync.id, ctx.owner, {}, { discovered: counters.discovered, listCursor: JSON.stringify({ index: i + 1, token: '' }) });
    }
    await ctx.repository.progress(ctx.sync.id, ctx.owner, {}, { listCursor: JSON.stringify({ index: 0, token: '' }) });
    return { ok: true, counters, ...(notes.size > 0 ? { note: [...notes].join('; ') } : {}) };
  } catch (err) {
    if (err instanceof RunStopped) throw err;
    return ociFailure(err);
  }
}

async function copyTag(ctx: OciRunContext, source: OciSourceSpec, tag: string, counters: Counts, notes: Set<string>): Promise<void> {
  let manifest;
  let plan;
  try {
    manifest = await ctx.client.manifest(tag);
    plan = planManifest(manifest, tag, `${source.url}/${source.repository}`);
  } catch (err) {
    // A manifest this gateway does not copy (an index, an unknown media type) is counted as failed; the run goes on.
    if (err instanceof OciSourceError && err.kind !== 'protocol') throw err;
    if (err instanceof Error) return count(ctx, counters, { failed: 1, message: `tag ${tag} not taken: ${err.message}` });
    throw err;
  }
  counters.discovered += plan.records.length;
  let first: ContentId | undefined;
  for (const record of plan.records) {
    ctx.checkpoint();
    const delta = await copyCounted(ctx, record);
    await count(ctx, counters, delta);
    if (delta.failed === undefined) first ??= ContentId.fromSha256(Buffer.from(record.sha256, 'hex'));
  }
  if (first === undefined) return;
  for (const blob of plan.documents) await keep(ctx, first, OCI_BLOB_DOC, blob.mediaType, await ctx.client.smallBlob(blob.digest));
  if (manifest.keep) await keep(ctx, first, OCI_MANIFEST_DOC, manifest.mediaType, manifest.bytes);
  const found = await ctx.client.referrers(manifest.digest);
  if (!found.api) notes.add(NO_REFERRERS_API);
  for (const referrer of found.referrers) await copyReferrer(ctx, first, referrer);
}

async function count(ctx: OciRunContext, counters: Counts, delta: Delta): Promise<void> {
  for (const key of ['transferred', 'skipped', 'failed', 'bytes'] as const) counters[key] += delta[key] ?? 0;
  await ctx.repository.progress(ctx.sync.id, ctx.owner, delta, delta.message === undefined ? {} : { message: delta.message });
  ctx.onProgress?.(delta);
}

/** One layer as a record; one this gateway cannot take (namespace, annotations, size limits) is counted as failed. */
async function copyCounted(ctx: OciRunContext, planned: PlannedRecord): Promise<Delta> {
  try {
    const copied = await copyRecord(ctx, planned);
    return copied.created ? { transferred: 1, bytes: copied.bytes } : { skipped: 1, bytes: copied.bytes };
  } catch (err) {
    if (ParleyError.is(err) && !endsRun(err) && (err.code === 'invalid_argument' || err.code === 'resource_exhausted')) {
      return { failed: 1, message: `layer ${planned.layer.digest} not taken: ${err.message}` };
    }
    throw err;
  }
}

async function copyRecord(ctx: OciRunContext, planned: PlannedRecord): Promise<{ created: boolean; bytes: number }> {
  const cid = ContentId.fromSha256(Buffer.from(planned.sha256, 'hex'));
  const resume = await ctx.repository.transfer(ctx.sync.id, cid.toString());
  const result = await ctx.importer.import({
    cid,
    size: planned.layer.size,
    draft: {
      namespace: ctx.sync.targetNamespace,
      mediaType: parseMediaType(planned.layer.mediaType, 'layers[].mediaType'),
      annotations: { ...planned.annotations, [PROVENANCE.syncId]: ctx.sync.id },
      creatorSpiffeId: ctx.localId,
      creatorTrustDomain: ctx.localTrustDomain,
    },
    ...(resume === undefined ? {} : { resume }),
    onStaged: (staged) => ctx.repository.saveTransfer(ctx.sync.id, cid.toString(), staged.uploadId, staged.stagedBytes),
    source: (offset) => counted(ctx, ctx.client.blob(planned.layer.digest, offset)),
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
  });
  if (resume !== undefined || result.created) await ctx.repository.dropTransfer(ctx.sync.id, cid.toString());
  return { created: result.created, bytes: result.fetchedBytes };
}

async function* counted(ctx: OciRunContext, pieces: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  for await (const piece of pieces) {
    ctx.onBytes?.(piece.length);
    yield piece;
  }
}

/** A referrer manifest kept as pushed (oci.referrer), with its blobs (oci.blob): the registry face serves it to OCI tools, digest for digest. */
async function copyReferrer(ctx: OciRunContext, record: ContentId, referrer: Descriptor): Promise<void> {
  const m = await ctx.client.manifest(referrer.digest);
  for (const blob of referrerBlobs(m)) await keep(ctx, record, OCI_BLOB_DOC, blob.mediaType, await ctx.client.smallBlob(blob.digest));
  await keep(ctx, record, OCI_REFERRER_DOC, m.mediaType, m.bytes);
}

async function keep(ctx: OciRunContext, record: ContentId, type: string, mediaType: string, data: Buffer): Promise<void> {
  await ctx.store.referrers.put(record, { type, mediaType: parseMediaType(mediaType, 'mediaType'), data, annotations: {}, creatorSpiffeId: ctx.localId, creatorTrustDomain: ctx.localTrustDomain }, MAX_REFERRERS_PER_RECORD);
}

function startIndex(cursor: string | undefined, tags: number): number {
  try {
    const c = JSON.parse(cursor ?? '{}') as { index?: unknown };
    return Number.isSafeInteger(c.index) && (c.index as number) >= 0 && (c.index as number) < tags ? (c.index as number) : 0;
  } catch {
    return 0;
  }
}

/** Registry failures as sync failure reasons (unauthenticated, unreachable, a digest mismatch …); the rest as for a gateway sync. */
export function ociFailure(err: unknown): RunResult {
  if (!(err instanceof OciSourceError)) return runFailure(err);
  const reason = ({ unreachable: 'UNREACHABLE', unauthenticated: 'UNAUTHENTICATED', denied: 'PERMISSION_DENIED', not_found: 'NOTHING_EXPORTED', digest_mismatch: 'INTEGRITY_MISMATCH', protocol: 'INTERNAL', timeout: 'TIMEOUT' } as const)[err.kind];
  return { ok: false, reason, message: `registry: ${err.message}` };
}
