import { ParleyError } from '../common';
import type { StoreService } from '../store';
import { EMPTY_BLOB, EMPTY_DIGEST, isDigestSyntax, isSha256Digest, mergeReferrers, OCI_INDEX, OCI_MANIFEST, referrersIndex, type RenderedManifest } from './domain/oci-mapping';
import { OciError, pageTags, parseRange, parseTagsQuery } from './domain/oci-errors';
import { requireNamespace, sendJson, writeWithBackpressure, type Exchange } from './exchange';
import type { ManifestResolver } from './manifest-resolver';
import { OCI_BLOB_DOC } from './domain/pushed-manifest';
import { namespaceTags, parseManifestRef } from './domain/tags';
import type { StagedBlob, UploadSessions } from './uploads';
import type { StoredRecord } from '../store';

export interface ReadDeps {
  readonly store: StoreService;
  readonly resolver: ManifestResolver;
  readonly uploads: UploadSessions;
  readonly maxTags: number;
}

const BLOB_DOCS: ReadonlySet<string> = new Set([OCI_BLOB_DOC]);

/** Where a blob's bytes are: a record's payload, a finished upload waiting for its manifest, or a kept document. */
type BlobSource =
  | { readonly size: number; readonly blobId: string; readonly chunkBytes: number; readonly label: string }
  | { readonly size: number; readonly staged: StagedBlob }
  | { readonly size: number; readonly data: Buffer };

async function findBlob(d: ReadDeps, namespace: string, digest: string, hex: string): Promise<BlobSource | undefined> {
  const record = await d.resolver.recordByPayload(namespace, hex);
  if (record !== undefined) return { size: record.size, blobId: record.blobId, chunkBytes: record.chunkBytes, label: record.cid.toString() };
  const staged = d.uploads.stagedBlob(namespace, digest);
  if (staged !== undefined) return { size: staged.size, staged };
  const doc = (await d.resolver.document(namespace, digest, BLOB_DOCS)) ?? (await d.store.repository.subjectless.blob(namespace, digest));
  return doc === undefined ? undefined : { size: doc.data.length, data: doc.data };
}

/** A digest reference: `sha256:<hex>`; another well-formed algorithm is unknown here, anything else invalid. */
export function sha256Of(ref: string, unknown: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN'): string {
  if (isSha256Digest(ref)) return ref.slice(7);
  if (isDigestSyntax(ref) && !ref.startsWith('sha256:')) throw new OciError(unknown, `${ref}: only sha256 digests are held here`);
  throw new OciError('DIGEST_INVALID', 'digest: expected sha256: and 64 lowercase hex digits');
}

/**
 * GET|HEAD /v2/<name>/manifests/<ref>: by digest (a record's, a referrer's, one kept as pushed), by a record's
 * CID (its tag), or by a named tag (what it points at: the same bytes and digest as by digest).
 */
export async function getManifest(d: ReadDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const ref = parseManifestRef(x.route.ref!, 'get');
  let manifest: RenderedManifest | undefined;
  if (ref.kind === 'digest') {
    sha256Of(ref.digest, 'MANIFEST_UNKNOWN');
    manifest = (await d.resolver.kept(x.name, ref.digest)) ?? (await d.resolver.byDigest(x.name, ref.digest))?.manifest ?? (await subjectlessManifest(d, x.name, ref.digest));
  } else {
    const record = await d.resolver.recordByTag(x.name, ref.tag);
    if (record !== undefined) manifest = d.resolver.renderRecord(record);
    else {
      const target = await d.store.repository.tags.find(x.name, ref.tag);
      manifest = target === undefined ? undefined : await d.resolver.byTagTarget(x.name, target);
    }
  }
  if (manifest === undefined) throw new OciError('MANIFEST_UNKNOWN', `manifest ${x.route.ref!.slice(0, 80)} is not in repository ${x.name}`);
  sendJson(x.res, 200, manifest.bytes, { 'Content-Type': manifest.descriptor.mediaType || OCI_MANIFEST, 'Docker-Content-Digest': manifest.descriptor.digest }, x.req.method === 'HEAD');
}

/** A referrer kept before its subject was there, as pushed. */
async function subjectlessManifest(d: ReadDeps, namespace: string, digest: string): Promise<RenderedManifest | undefined> {
  const kept = await d.store.repository.subjectless.manifest(namespace, digest);
  return kept === undefined ? undefined : { bytes: kept.data, descriptor: { mediaType: kept.mediaType, digest, size: kept.data.length } };
}

/** GET|HEAD /v2/<name>/blobs/<digest>: a record's payload (Range: one byte range), or the empty config. */
export async function getBlob(d: ReadDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const digest = x.route.ref!;
  const hex = sha256Of(digest, 'BLOB_UNKNOWN');
  const head = x.req.method === 'HEAD';
  if (digest === EMPTY_DIGEST) {
    sendJson(x.res, 200, EMPTY_BLOB, { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': EMPTY_DIGEST }, head);
    return;
  }
  const blob = await findBlob(d, x.name, digest, hex);
  if (blob === undefined) throw new OciError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${x.name}`);
  const range = parseRange(x.req.headers.range, blob.size);
  const start = range?.start ?? 0;
  const end = range?.end ?? blob.size;
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Content-Length': end - start,
    'Docker-Content-Digest': digest,
    'Accept-Ranges': 'bytes',
  };
  if (range !== undefined) headers['Content-Range'] = `bytes ${start}-${end - 1}/${blob.size}`;
  x.res.writeHead(range === undefined ? 200 : 206, headers);
  if (head || start >= end) {
    x.res.end();
    return;
  }
  if ('data' in blob) x.res.end(blob.data.subarray(start, end));
  else if ('staged' in blob) {
    for await (const part of d.uploads.read(blob.staged, start, end)) await writeWithBackpressure(x.res, part, d.store.limits.pullStallTimeoutMs);
    x.res.end();
  } else {
    await streamPayload(d.store, blob, start, end, x);
    x.res.end();
  }
}

/** Streams bytes [start, end) of a record from its stored chunks, one chunk in memory, waiting for the client. */
async function streamPayload(store: StoreService, blob: { blobId: string; chunkBytes: number; label: string }, start: number, end: number, x: Exchange): Promise<void> {
  const { blobId, chunkBytes } = blob;
  const first = Math.floor(start / chunkBytes);
  const last = Math.ceil(end / chunkBytes);
  let seq = first;
  for await (const chunk of store.repository.payloads.read(blobId, first, last, chunkBytes)) {
    if (chunk.seq !== seq) break;
    const at = seq * chunkBytes;
    seq++;
    const from = Math.max(start - at, 0);
    const to = Math.min(end - at, chunk.data.length);
    await writeWithBackpressure(x.res, from === 0 && to === chunk.data.length ? chunk.data : chunk.data.subarray(from, to), store.limits.pullStallTimeoutMs);
  }
  // Headers are sent: a record deleted meanwhile can only end the response early (the client sees a short body).
  if (seq !== last) throw new ParleyError('not_found', `registry: blob ${blob.label} was deleted during the download`);
}

/**
 * GET /v2/<name>/tags/list: the CIDs of the namespace's records and its named tags, lexically,
 * paged by `n` and `last` (at most registry.maxTags of each are gathered).
 */
export async function listTags(d: ReadDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const { n, last } = parseTagsQuery(x.query, d.maxTags);
  const records = await d.resolver.recordsOf(x.name, d.maxTags);
  const named = await d.store.repository.tags.names(x.name, d.maxTags);
  const page = pageTags(
    namespaceTags(
      records.map((r) => r.cid.toString()),
      named,
    ),
    n,
    last,
  );
  const headers: Record<string, string> = {};
  if (page.more && page.tags.length > 0) headers.Link = `</v2/${x.name}/tags/list?n=${n}&last=${encodeURIComponent(page.tags.at(-1)!)}>; rel="next"`;
  sendJson(x.res, 200, Buffer.from(JSON.stringify({ name: x.name, tags: page.tags })), headers);
}

/** GET /v2/<name>/referrers/<digest>: the referrers of a record's manifest as an image index (artifactType filter). */
export async function listReferrers(d: ReadDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const digest = x.route.ref!;
  sha256Of(digest, 'MANIFEST_UNKNOWN');
  const artifactType = x.query.get('artifactType') ?? undefined;
  const found = await d.resolver.byDigest(x.name, digest);
  const ofRecord = found === undefined ? [] : [...(await referrersOfRecord(d, found.record, found.manifest)), ...(await d.resolver.pushedReferrers(found.record, digest))];
  // With those pushed before the subject was there (or while it is not), and indexes kept as pushed: each digest once.
  const manifests = mergeReferrers(ofRecord, [...(await d.resolver.subjectlessReferrers(x.name, digest)), ...(await d.resolver.keptReferrers(x.name, digest))]);
  const headers: Record<string, string> = { 'Content-Type': OCI_INDEX };
  if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
  sendJson(x.res, 200, referrersIndex(manifests, artifactType), headers);
}

async function referrersOfRecord(d: ReadDeps, record: StoredRecord, manifest: RenderedManifest) {
  // Only a record's own manifest has referrers (a referrer of a referrer is not kept).
  const own = d.resolver.renderRecord(record);
  if (own.descriptor.digest !== manifest.descriptor.digest) return [];
  return (await d.resolver.referrers(record, own.descriptor)).map((m) => m.descriptor);
}
