import { EMPTY_DIGEST } from './domain/oci-mapping';
import { OciError } from './domain/oci-errors';
import { documentBlobs, OCI_BLOB_DOC, parsePushedManifest } from './domain/pushed-manifest';
import { parseManifestRef } from './domain/tags';
import { requireNamespace, type Exchange } from './exchange';
import { sha256Of } from './read-handlers';
import { namedTag, type WriteDeps } from './write-handlers';

const BLOB_DOCS: ReadonlySet<string> = new Set([OCI_BLOB_DOC]);

function accepted(x: Exchange): void {
  x.req.resume();
  x.res.writeHead(202, { 'Content-Length': '0' });
  x.res.end();
}

/** The blob digests a referrer manifest kept without its subject names (those kept with it). */
function referrerBlobs(manifest: Buffer): string[] {
  try {
    return documentBlobs(parsePushedManifest(manifest, undefined), true).map((b) => b.digest);
  } catch {
    return [];
  }
}

/**
 * DELETE /v2/<name>/manifests/<ref> (202): by a named tag, the tag alone; by digest, what the
 * manifest is — one kept as pushed (the records it stands on stay), a referrer (the document;
 * kept without its subject: the manifest and the blobs only it named), or a record's manifest
 * (the record, as a gRPC Delete: with its referrers and payload). Named tags pointing at a
 * deleted manifest go with it. A CID tag names its record and is not deleted by itself (405).
 */
export async function deleteManifest(d: WriteDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const ref = parseManifestRef(x.route.ref!, 'get');
  if (ref.kind === 'tag') {
    if (namedTag(ref.tag) === undefined) throw new OciError('UNSUPPORTED', `manifest: tag ${ref.tag} is a CID, its record's own tag; delete the record's manifest by its digest`);
    if (!(await d.store.repository.tags.remove(x.name, ref.tag))) throw new OciError('MANIFEST_UNKNOWN', `manifest ${ref.tag} is not in repository ${x.name}`);
    return accepted(x);
  }
  const { digest } = ref;
  sha256Of(digest, 'MANIFEST_UNKNOWN');
  const kept = await d.store.repository.manifests.remove(x.name, digest);
  const subjectless = await d.store.repository.subjectless.removeManifest(x.name, digest, referrerBlobs);
  // A referrer kept without its subject may also be a referrer of the subject's record (pushed again once it was there).
  const found = kept ? undefined : await d.resolver.byDigest(x.name, digest);
  if (found?.referrer !== undefined) await d.store.repository.referrers.delete(found.record.cid, found.referrer);
  else if (found !== undefined) await d.store.repository.delete(found.record.cid);
  if (!kept && !subjectless && found === undefined) throw new OciError('MANIFEST_UNKNOWN', `manifest ${digest} is not in repository ${x.name}`);
  await d.store.repository.tags.removeTo(x.name, digest);
  accepted(x);
}

/**
 * DELETE /v2/<name>/blobs/<digest> (202): wherever the repository holds those bytes — a
 * record's payload (the record goes, as a gRPC Delete; manifests standing on it are no longer
 * whole), a finished upload no manifest took, a small document of a record, or a blob kept with
 * a referrer whose subject is not there. The empty JSON blob, every generated manifest's
 * config, is always served (405).
 */
export async function deleteBlob(d: WriteDeps, x: Exchange): Promise<void> {
  requireNamespace(x, x.name);
  const digest = x.route.ref!;
  const hex = sha256Of(digest, 'BLOB_UNKNOWN');
  if (digest === EMPTY_DIGEST) throw new OciError('UNSUPPORTED', `blob ${digest} is the empty JSON blob, the config of every manifest Parley generates; it is always served`);
  let deleted = false;
  const record = await d.resolver.recordByPayload(x.name, hex);
  if (record !== undefined) deleted = await d.store.repository.delete(record.cid);
  const staged = d.uploads.stagedBlob(x.name, digest);
  if (staged !== undefined) {
    d.uploads.taken(x.name, digest);
    await d.uploads.discard(staged);
    deleted = true;
  }
  for (;;) {
    const doc = await d.resolver.document(x.name, digest, BLOB_DOCS);
    if (doc === undefined) break;
    await d.store.repository.referrers.delete(doc.record.cid, doc.cid);
    deleted = true;
  }
  deleted = (await d.store.repository.subjectless.removeBlob(x.name, digest)) || deleted;
  if (!deleted) throw new OciError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${x.name}`);
  accepted(x);
}
