/**
 * Manifest references of the registry face: a digest, or a tag (Distribution Spec v1.1: at
 * most 128 characters, `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`). A tag that is a record's CID
 * names that record and never moves; any other tag is a named tag, a mutable pointer kept in
 * registry_tags. Pure.
 */
import { OciError } from './oci-errors';

const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Whether `ref` has the spec's tag syntax. */
export function isTagSyntax(ref: string): boolean {
  return TAG.test(ref);
}

/** What a manifest reference in a path is. */
export type ManifestRef = { readonly kind: 'digest'; readonly digest: string } | { readonly kind: 'tag'; readonly tag: string };

/**
 * The reference of `PUT|GET /v2/<name>/manifests/<ref>`: a digest when it holds a ":" (checked
 * by the caller), else a tag of the spec's syntax.
 * @throws OciError MANIFEST_INVALID (put) or MANIFEST_UNKNOWN (get): neither a digest nor a tag
 */
export function parseManifestRef(ref: string, use: 'put' | 'get'): ManifestRef {
  if (ref.includes(':')) return { kind: 'digest', digest: ref };
  if (isTagSyntax(ref)) return { kind: 'tag', tag: ref };
  const shown = JSON.stringify(ref.slice(0, 80));
  if (use === 'put') throw new OciError('MANIFEST_INVALID', `manifest: reference ${shown} is neither a digest nor a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})`);
  throw new OciError('MANIFEST_UNKNOWN', `manifest: reference ${shown} is neither a digest nor a tag`);
}

/**
 * Whether a manifest may be tagged `tag`: a CID tag is only the record's own (`ownCid`, for a
 * record's manifest; none for a referrer), so no named tag can shadow a record.
 * @param isCid whether `tag` parses as a CID
 * @throws OciError MANIFEST_INVALID
 */
export function requireTagFor(tag: string, isCid: boolean, ownCid: string | undefined): void {
  if (!isCid || tag === ownCid) return;
  if (ownCid === undefined) throw new OciError('MANIFEST_INVALID', `manifest: tag ${tag} is a CID; a CID tag names its record, a referrer is tagged by name`);
  throw new OciError('MANIFEST_INVALID', `manifest: tag ${tag} is a CID; the CID tag of this record is ${ownCid}`);
}

/** The tags of a namespace as the tags list shows them: CID tags and named tags, each once. */
export function namespaceTags(cidTags: readonly string[], namedTags: readonly string[]): string[] {
  return [...new Set([...cidTags, ...namedTags])];
}
