/**
 * What a manifest of a sync's OCI source becomes here. Pure. The registry face's own inverse
 * mapping (pushed-manifest.ts) decides, so an artifact copied from a
 * registry reads back through Parley's registry face as it was pushed there:
 *
 * - a manifest of one layer: a record whose payload is the layer (its media type, its
 *   annotations, plus the tag as `org.opencontainers.image.ref.name`); the manifest's bytes
 *   and a non-empty config are kept as documents of the record (types oci.manifest, oci.blob);
 * - a manifest of several layers: each layer a record of its own (the manifest is not kept:
 *   the registry face reads records as one-layer artifacts);
 * - a referrer (from the referrers API, or the referrers tag schema `sha256-<hex>` on
 *   registries without it): kept as pushed (type oci.referrer) with its blobs (oci.blob).
 *
 * Docker schema 2 manifests read as OCI image manifests (same shape); their bytes are not
 * kept (the registry face serves OCI manifests only).
 */
import { createHash } from 'node:crypto';
import { EMPTY_DIGEST, isSha256Digest, OCI_INDEX, OCI_MANIFEST, type Descriptor } from './oci-mapping';
import { documentBlobs, parsePushedManifest, recordAnnotations, type PushedManifest } from './pushed-manifest';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** The Accept of a manifest request. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX].join(', ');
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** Provenance of a record copied from an OCI source: `<registry origin>/<repository>`. */
export const ANNOTATION_SOURCE_REGISTRY = 'parley.sync.source-registry';
/** Set on records of a several-layer manifest: the manifest's digest. */
export const ANNOTATION_SOURCE_MANIFEST = 'parley.sync.source-manifest';

export interface SourceManifest extends PushedManifest {
  readonly mediaType: string;
  readonly digest: string;
  /** Kept as the record's manifest document (an OCI image manifest of one layer). */
  readonly keep: boolean;
}

export interface PlannedRecord {
  readonly layer: Descriptor;
  /** The payload's SHA-256 (hex): the record's CID. */
  readonly sha256: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ManifestPlan {
  readonly records: readonly PlannedRecord[];
  /** Blobs kept as documents of the (one) record. */
  readonly documents: readonly Descriptor[];
}

export const sha256Of = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * An image manifest's bytes, checked against the digest asked for and the one the registry
 * said (`Docker-Content-Digest`).
 * @throws Error (`digest` in its message on a mismatch: code details integrity_mismatch)
 */
export function parseSourceManifest(bytes: Buffer, contentType: string | undefined, expected: { requested?: string; header?: string }): SourceManifest {
  const digest = sha256Of(bytes);
  for (const want of [expected.requested, expected.header]) {
    if (want !== undefined && want.startsWith('sha256:') && want !== digest) throw new DigestMismatch(`manifest digest is ${digest}, expected ${want}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error('manifest: not json');
  }
  const mediaType = typeof doc?.mediaType === 'string' ? doc.mediaType : (contentType?.split(';')[0]?.trim() ?? '');
  if (mediaType === OCI_INDEX || Array.isArray(doc?.manifests)) throw new Error('manifest: an image index (several platforms) is not copied; name a tag of one manifest');
  if (mediaType !== OCI_MANIFEST && mediaType !== DOCKER_MANIFEST) throw new Error(`manifest: media type ${mediaType.slice(0, 100) || '(none)'} is not an OCI image manifest or Docker schema 2`);
  const parsed = mediaType === OCI_MANIFEST ? parsePushedManifest(bytes, contentType) : parsePushedManifest(Buffer.from(JSON.stringify({ ...doc, mediaType: OCI_MANIFEST })), OCI_MANIFEST);
  return { ...parsed, mediaType, digest, keep: mediaType === OCI_MANIFEST && parsed.layers.length === 1 };
}

export class DigestMismatch extends Error {}

/** The records (and documents) a tagged manifest becomes. @throws Error for a layer not addressed by sha256 */
export function planManifest(m: SourceManifest, tag: string, source: string): ManifestPlan {
  const layers = m.layers.filter((l) => l.digest !== EMPTY_DIGEST);
  const records = layers.map((layer) => {
    if (!isSha256Digest(layer.digest)) throw new Error(`manifest ${m.digest}: layer ${layer.digest.slice(0, 80)} is not a sha256 digest`);
    const hex = layer.digest.slice('sha256:'.length);
    const annotations: Record<string, string> = { ...recordAnnotations(layer, ''), [ANNOTATION_REF_NAME]: tag, [ANNOTATION_SOURCE_REGISTRY]: source };
    if (layers.length > 1) annotations[ANNOTATION_SOURCE_MANIFEST] = m.digest;
    return { layer, sha256: hex, annotations };
  });
  return { records, documents: records.length === 1 && m.keep ? documentBlobs(m, false) : [] };
}

/** The blobs of a referrer kept as its documents. */
export function referrerBlobs(m: SourceManifest): Descriptor[] {
  return documentBlobs(m, true);
}

/** The referrers tag schema's tag of a manifest (registries without the referrers API). */
export function referrersTagOf(digest: string): string {
  return digest.replace(':', '-');
}

/** Tags of the referrers tag schema, never copied as records. */
export function isReferrersTag(tag: string): boolean {
  return /^sha256-[0-9a-f]{64}$/.test(tag);
}

/** The referrer descriptors of an image index (the referrers API's answer or a referrers tag's index). */
export function referrersOf(bytes: Buffer, subject: string): Descriptor[] {
  let doc: { manifests?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
  } catch {
    throw new Error(`referrers of ${subject}: not json`);
  }
  if (!Array.isArray(doc.manifests)) throw new Error(`referrers of ${subject}: not an image index`);
  return doc.manifests.filter(
    (d): d is Descriptor => typeof d === 'object' && d !== null && typeof (d as Descriptor).digest === 'string' && isSha256Digest((d as Descriptor).digest) && (d as Descriptor).mediaType === OCI_MANIFEST,
  );
}
