import type { IncomingMessage } from 'node:http';
import { ContentId, parseAnnotations, parseMediaType, type DigestDocument, type StoredRecord, type TagTarget } from '../store';
import { isSha256Digest, OCI_MANIFEST, sha256Digest, type Descriptor } from './domain/oci-mapping';
import { OciError, parseUploadRange } from './domain/oci-errors';
import { documentBlobs, imageBlobs, isNonDistributable, isRecordManifest, OCI_BLOB_DOC, OCI_MANIFEST_DOC, OCI_REFERRER_DOC, parsePushedDocument, payloadLayer, recordAnnotations, type PushedManifest } from './domain/pushed-manifest';
import { parseManifestRef, requireTagFor } from './domain/tags';
import { requireNamespace, type Exchange } from './exchange';
import type { ReadDeps } from './read-handlers';
import { uploadBody } from './registry-admission';
import type { StagedBlob } from './uploads';

const BLOB_DOCS: ReadonlySet<string> = new Set([OCI_BLOB_DOC]);

export interface WriteDeps extends ReadDeps {
  readonly maxManifestBytes: number;
  /** Most manifests kept as pushed (not one record) one namespace holds (registry.maxManifests). */
  readonly maxManifests: number;
}

function uploadHeaders(name: string, id: string, size: number): Record<string, string> {
  return { Location: `/v2/${name}/blobs/uploads/${id}`, 'Docker-Upload-UUID': id, Range: `0-${Math.max(0, size - 1)}`, 'Content-Length': '0' };
}

function digestParam(x: Exchange): string {
  const digest = x.query.get('digest');
  if (digest === null || !isSha256Digest(digest)) throw new OciError('DIGEST_INVALID', 'digest: expected ?digest=sha256: and 64 lowercase hex digits');
  return digest;
}

function blobCreated(x: Exchange, digest: string): void {
  x.res.writeHead(201, { Location: `/v2/${x.name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': '0' });
  x.res.end();
}

/** POST /v2/<name>/blobs/uploads/: opens an upload (202), or with ?digest= takes the whole blob in this request (201). */
export async function startUpload(d: WriteDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const owner = x.peer.spiffeId;
  const id = await d.uploads.start(x.name, owner);
  if (x.query.has('digest')) {
    const digest = digestParam(x);
    await d.uploads.append(id, x.name, owner, uploadBody(x, d.store.limits.pushIdleTimeoutMs));
    await d.uploads.finish(id, x.name, owner, digest);
    return blobCreated(x, digest);
  }
  x.req.resume();
  x.res.writeHead(202, uploadHeaders(x.name, id, 0));
  x.res.end();
}

/** PATCH /v2/<name>/blobs/uploads/<id>: appends the body (Content-Range, when sent, must start where the upload stands). */
export async function patchUpload(d: WriteDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const range = parseUploadRange(header(x.req, 'content-range'));
  const size = await d.uploads.append(x.route.ref!, x.name, x.peer.spiffeId, uploadBody(x, d.store.limits.pushIdleTimeoutMs), range?.start);
  x.res.writeHead(202, uploadHeaders(x.name, x.route.ref!, size));
  x.res.end();
}

/**
 * PUT /v2/<name>/blobs/uploads/<id>?digest=: the last bytes (if any), then the digest check (201).
 * A last chunk sent with Content-Range must start where the upload stands, as on PATCH (416).
 */
export async function completeUpload(d: WriteDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const digest = digestParam(x);
  const owner = x.peer.spiffeId;
  const range = parseUploadRange(header(x.req, 'content-range'));
  await d.uploads.append(x.route.ref!, x.name, owner, uploadBody(x, d.store.limits.pushIdleTimeoutMs), range?.start);
  await d.uploads.finish(x.route.ref!, x.name, owner, digest);
  blobCreated(x, digest);
}

/** GET /v2/<name>/blobs/uploads/<id>: where the upload stands (204 with Range). */
export async function uploadStatus(d: WriteDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const size = d.uploads.size(x.route.ref!, x.name, x.peer.spiffeId);
  x.res.writeHead(204, uploadHeaders(x.name, x.route.ref!, size));
  x.res.end();
}

/** DELETE /v2/<name>/blobs/uploads/<id>: abandons the upload (204). */
export async function cancelUpload(d: WriteDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  await d.uploads.cancel(x.route.ref!, x.name, x.peer.spiffeId);
  x.res.writeHead(204, { 'Content-Length': '0' });
  x.res.end();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The request body, at most `max` bytes. @throws OciError SIZE_INVALID (413) */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of req as AsyncIterable<Buffer>) {
    size += piece.length;
    if (size > max) throw new OciError('SIZE_INVALID', `manifest: larger than ${max} bytes (registry.maxManifestBytes)`, 413);
    parts.push(piece);
  }
  return Buffer.concat(parts, size);
}

/**
 * PUT /v2/<name>/manifests/<ref>: a manifest without subject of one layer makes that layer a
 * record (pushed by digest, by the record's CID, or by a named tag); an image manifest with a
 * subject becomes a referrer of the subject's record, or, when the subject is no record's
 * manifest here (yet), a referrer of the subject digest (kept with the namespace, listed under
 * that digest). Any other manifest (an image of several layers or none, an image index, with or
 * without subject) is kept as pushed, its blobs records of their own. Each is kept byte for byte
 * under the digest the client computed; a named tag (any tag but a CID) then points at that
 * digest, moved if it pointed elsewhere.
 */
export async function putManifest(d: WriteDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const ref = parseManifestRef(x.route.ref!, 'put');
  const tag = ref.kind === 'tag' ? namedTag(ref.tag) : undefined;
  const bytes = await readBody(x.req, d.maxManifestBytes);
  const digest = sha256Digest(bytes);
  if (ref.kind === 'digest' && ref.digest !== digest) throw new OciError('DIGEST_INVALID', `manifest: its bytes have digest ${digest}, not ${ref.digest.slice(0, 80)}`);
  const doc = parsePushedDocument(bytes, header(x.req, 'content-type'));
  const headers: Record<string, string> = { Location: `/v2/${x.name}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': '0' };
  const subject = doc.kind === 'image' ? doc.image.subject : doc.index.subject;
  if (subject !== undefined) headers['OCI-Subject'] = subject.digest;
  let target: TagTarget;
  if (doc.kind === 'index' || (!isRecordManifest(doc.image) && doc.image.subject === undefined)) {
    if (ref.kind === 'tag') requireTagFor(ref.tag, tag === undefined, undefined);
    if (tag !== undefined) await d.store.repository.tags.requireRoom(x.name, tag, d.maxTags);
    const recordCids = doc.kind === 'index' ? await childRecords(d, x, doc.index.manifests) : await blobRecords(d, x, doc.image);
    const kept = { namespace: x.name, digest, mediaType: doc.mediaType, data: bytes, recordCids, creatorSpiffeId: x.peer.spiffeId, creatorTrustDomain: x.peer.trustDomain.name };
    await d.store.repository.manifests.put(subject === undefined ? kept : { ...kept, subjectDigest: subject.digest }, d.maxManifests);
    target = { kind: 'manifest', digest };
  } else if (doc.image.subject !== undefined) {
    const manifest = doc.image;
    if (ref.kind === 'tag') requireTagFor(ref.tag, tag === undefined, undefined);
    if (tag !== undefined) await d.store.repository.tags.requireRoom(x.name, tag, d.maxTags);
    const found = await d.resolver.byDigest(x.name, doc.image.subject.digest);
    if (found === undefined) {
      await keepSubjectless(d, x, manifest, { digest, mediaType: OCI_MANIFEST, data: bytes });
      target = { kind: 'subjectless', digest };
    } else {
      await keepBlobs(d, x, found.record, documentBlobs(manifest, true));
      await keepDocument(d, x, found.record, OCI_REFERRER_DOC, OCI_MANIFEST, bytes);
      target = { kind: 'referrer', digest, recordCid: found.record.cid.toString() };
    }
  } else {
    const manifest = doc.image;
    const layer = payloadLayer(manifest);
    const cid = cidOf(layer);
    if (ref.kind === 'tag') requireTagFor(ref.tag, tag === undefined, cid.toString());
    if (tag !== undefined) await d.store.repository.tags.requireRoom(x.name, tag, d.maxTags);
    const record = await recordOf(d, x, layer, 'layers[0]');
    await keepBlobs(d, x, record, documentBlobs(manifest, false));
    if (d.resolver.renderRecord(record).descriptor.digest !== digest) await keepDocument(d, x, record, OCI_MANIFEST_DOC, OCI_MANIFEST, bytes);
    target = { kind: 'record', digest, recordCid: record.cid.toString() };
  }
  if (tag !== undefined) {
    const pointer = { namespace: x.name, tag, target, creatorSpiffeId: x.peer.spiffeId, creatorTrustDomain: x.peer.trustDomain.name };
    await d.store.repository.tags.point(pointer, d.maxTags);
  }
  x.res.writeHead(201, headers);
  x.res.end();
}

/**
 * The records an image kept as pushed stands on: its config and each layer, found in the
 * repository or made from their finished uploads. A non-distributable layer that is not here
 * is not needed (its bytes are fetched from its urls).
 */
async function blobRecords(d: WriteDeps, x: Exchange, image: PushedManifest): Promise<string[]> {
  const cids: string[] = [];
  for (const { field, blob } of imageBlobs(image)) {
    if (isNonDistributable(blob.mediaType) && d.uploads.stagedBlob(x.name, blob.digest) === undefined && (await d.resolver.recordByPayload(x.name, blob.digest.slice(7))) === undefined) continue;
    cids.push((await recordOf(d, x, blob, field)).cid.toString());
  }
  return cids;
}

/**
 * The records an index stands on: each child must be a manifest of the repository (a record's,
 * a referrer, one kept as pushed); a record's manifest counts its record, one kept as pushed
 * the records it stands on.
 */
async function childRecords(d: WriteDeps, x: Exchange, children: readonly Descriptor[]): Promise<string[]> {
  const cids: string[] = [];
  for (const [i, child] of children.entries()) {
    const kept = await d.store.repository.manifests.find(x.name, child.digest);
    if (kept !== undefined) {
      cids.push(...kept.recordCids);
      continue;
    }
    const found = await d.resolver.byDigest(x.name, child.digest);
    if (found !== undefined) {
      cids.push(found.record.cid.toString());
      continue;
    }
    if ((await d.store.repository.subjectless.manifest(x.name, child.digest)) !== undefined) continue;
    throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest: manifests[${i}] ${child.digest} is not a manifest in repository ${x.name}`);
  }
  return cids;
}

/** `tag` when it is a named tag; undefined when it parses as a CID (a CID tag is its record's, never stored). */
export function namedTag(tag: string): string | undefined {
  try {
    ContentId.parse(tag);
    return undefined;
  } catch {
    return tag;
  }
}

/** The CID of the record a blob is: its sha256 as a CID. */
function cidOf(blob: Descriptor): ContentId {
  return ContentId.fromSha256(Buffer.from(blob.digest.slice(7), 'hex'));
}

/** The record a blob (`field` of its manifest) is: found in the repository, or made from the finished upload of its bytes. */
async function recordOf(d: WriteDeps, x: Exchange, blob: Descriptor, field: string): Promise<StoredRecord> {
  const cid = cidOf(blob);
  const existing = await d.store.repository.find(cid);
  const staged = d.uploads.stagedBlob(x.name, blob.digest);
  if (existing !== undefined) {
    if (existing.namespace !== x.name) throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest: blob ${blob.digest} is not in repository ${x.name}`);
    if (staged !== undefined) {
      // Uploaded again: the record has the bytes already.
      d.uploads.taken(x.name, blob.digest);
      await d.uploads.discard(staged);
    }
    return existing;
  }
  if (staged === undefined) throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest: blob ${blob.digest} is not in repository ${x.name}`);
  if (staged.size !== blob.size) throw new OciError('MANIFEST_INVALID', `manifest: ${field}.size is ${blob.size}, the blob has ${staged.size} bytes`);
  const draft = {
    namespace: x.name,
    mediaType: parseMediaType(blob.mediaType, `${field}.mediaType`),
    annotations: parseAnnotations(recordAnnotations(blob, cid.toString()), d.store.limits, `${field}.annotations`),
    creatorSpiffeId: x.peer.spiffeId,
    creatorTrustDomain: x.peer.trustDomain.name,
  };
  await d.store.repository.commit(await d.uploads.claim(staged, blob.digest), cid, staged.size, draft);
  d.uploads.taken(x.name, blob.digest);
  const record = await d.store.repository.find(cid);
  if (record === undefined || record.namespace !== x.name) throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest: blob ${blob.digest} is not in repository ${x.name}`);
  return record;
}

/** Keeps each blob a manifest names besides the payload as a document of the record (from its finished upload). */
async function keepBlobs(d: WriteDeps, x: Exchange, record: StoredRecord, blobs: readonly Descriptor[]): Promise<void> {
  for (const blob of blobs) {
    const staged = d.uploads.stagedBlob(x.name, blob.digest);
    if (staged === undefined) {
      if ((await d.resolver.recordByPayload(x.name, blob.digest.slice(7))) !== undefined) continue;
      if ((await d.resolver.document(x.name, blob.digest, BLOB_DOCS)) !== undefined) continue;
      // Kept with a referrer whose subject was not there: copied to the record.
      const kept = await d.store.repository.subjectless.blob(x.name, blob.digest);
      if (kept === undefined) throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest: blob ${blob.digest} is not in repository ${x.name}`);
      await keepDocument(d, x, record, OCI_BLOB_DOC, kept.mediaType, kept.data);
      continue;
    }
    if (staged.size > d.store.limits.maxReferrerBytes) throw tooLarge(blob.digest, d.store.limits.maxReferrerBytes);
    const parts: Buffer[] = [];
    for await (const part of d.uploads.read(staged, 0, staged.size)) parts.push(part);
    await keepDocument(d, x, record, OCI_BLOB_DOC, blob.mediaType, Buffer.concat(parts));
    d.uploads.taken(x.name, blob.digest);
    await d.uploads.discard(staged);
  }
}

function tooLarge(digest: string, max: number): OciError {
  return new OciError('MANIFEST_INVALID', `manifest: blob ${digest} is larger than ${max} bytes (store.maxReferrerBytes); only the payload may be`);
}

async function keepDocument(d: WriteDeps, x: Exchange, record: StoredRecord, type: string, mediaType: string, data: Buffer): Promise<void> {
  const input = { type, mediaType: parseMediaType(mediaType, 'mediaType'), data, annotations: {}, creatorSpiffeId: x.peer.spiffeId, creatorTrustDomain: x.peer.trustDomain.name };
  await d.store.repository.referrers.put(record.cid, input, d.store.limits.maxReferrersPerRecord);
}

/**
 * Keeps a referrer whose subject is not here with the blobs it names, all at once: each blob
 * from its finished upload or copied from where the namespace keeps it (at most
 * store.maxReferrerBytes each), so the referrer stays whole whatever happens to the others;
 * a blob that is a record of the namespace (of an image kept as pushed) is read from the record.
 */
async function keepSubjectless(d: WriteDeps, x: Exchange, manifest: PushedManifest, doc: DigestDocument): Promise<void> {
  const limits = d.store.limits;
  const blobs: DigestDocument[] = [];
  const taken: Array<{ digest: string; staged: StagedBlob }> = [];
  for (const blob of documentBlobs(manifest, true)) {
    if (blobs.some((b) => b.digest === blob.digest)) continue;
    const staged = d.uploads.stagedBlob(x.name, blob.digest);
    let data: Buffer | undefined;
    if (staged !== undefined) {
      if (staged.size > limits.maxReferrerBytes) throw tooLarge(blob.digest, limits.maxReferrerBytes);
      const parts: Buffer[] = [];
      for await (const part of d.uploads.read(staged, 0, staged.size)) parts.push(part);
      data = Buffer.concat(parts);
      taken.push({ digest: blob.digest, staged });
    } else {
      // A record of the repository holds it (the blob of an image kept as pushed): read from there.
      if ((await d.resolver.recordByPayload(x.name, blob.digest.slice(7))) !== undefined) continue;
      data = (await d.resolver.document(x.name, blob.digest, BLOB_DOCS))?.data ?? (await d.store.repository.subjectless.blob(x.name, blob.digest))?.data;
    }
    if (data === undefined) throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest: blob ${blob.digest} is not in repository ${x.name}`);
    if (data.length > limits.maxReferrerBytes) throw tooLarge(blob.digest, limits.maxReferrerBytes);
    blobs.push({ digest: blob.digest, mediaType: parseMediaType(blob.mediaType, 'mediaType'), data });
  }
  await d.store.repository.subjectless.put(
    { namespace: x.name, subjectDigest: manifest.subject!.digest, manifest: doc, blobs, creatorSpiffeId: x.peer.spiffeId, creatorTrustDomain: x.peer.trustDomain.name },
    { perSubject: limits.maxReferrersPerRecord, perNamespace: limits.maxSubjectlessReferrers },
  );
  for (const { digest, staged } of taken) {
    d.uploads.taken(x.name, digest);
    await d.uploads.discard(staged);
  }
}
