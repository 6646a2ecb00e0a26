/**
 * What a manifest pushed by an OCI tool means to the store. Pure.
 *
 * - no `subject`, one layer: a record; the layer is its payload (media type, annotations);
 *   the manifest's own bytes are kept too (a referrer document of type OCI_MANIFEST_DOC), so
 *   the tool finds exactly what it pushed under the digest it computed;
 * - a `subject` (a record's manifest): a referrer of that record, kept as it was pushed
 *   (type OCI_REFERRER_DOC), found by the referrers API;
 * - every other blob it names (a non-empty config, a referrer's layers) is kept as a small
 *   document of the record (type OCI_BLOB_DOC).
 */
import { ANNOTATION_TITLE, EMPTY_DIGEST, isSha256Digest, OCI_INDEX, OCI_MANIFEST, type Descriptor } from './oci-mapping';
import { OciError } from './oci-errors';

export const OCI_MANIFEST_DOC = 'oci.manifest';
export const OCI_REFERRER_DOC = 'oci.referrer';
export const OCI_BLOB_DOC = 'oci.blob';
/** Referrer document types the registry keeps for itself (not listed as Parley referrers by the referrers API). */
export const REGISTRY_DOC_TYPES: ReadonlySet<string> = new Set([OCI_MANIFEST_DOC, OCI_REFERRER_DOC, OCI_BLOB_DOC]);

export interface PushedManifest {
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations: Readonly<Record<string, string>>;
}

function invalid(message: string): OciError {
  return new OciError('MANIFEST_INVALID', `manifest: ${message}`);
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${field} must be a map of strings`);
  for (const v of Object.values(value)) if (typeof v !== 'string') throw invalid(`${field} must be a map of strings`);
  return value as Record<string, string>;
}

function descriptor(value: unknown, field: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${field} must be a descriptor`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType.length === 0) throw invalid(`${field}.mediaType is required`);
  if (typeof d.digest !== 'string' || !isSha256Digest(d.digest)) throw invalid(`${field}.digest must be sha256: and 64 lowercase hex digits`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${field}.size must be a non-negative integer`);
  const annotations = stringMap(d.annotations, `${field}.annotations`);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(typeof d.artifactType === 'string' ? { artifactType: d.artifactType } : {}), annotations };
}

/** An OCI image index pushed by an OCI tool (kept as pushed; its children must be manifests of the repository). */
export interface PushedIndex {
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations: Readonly<Record<string, string>>;
}

/** What a manifest PUT carries: an image manifest or an image index, with the media type it is kept under. */
export type PushedDocument = { readonly kind: 'image'; readonly mediaType: string; readonly image: PushedManifest } | { readonly kind: 'index'; readonly mediaType: string; readonly index: PushedIndex };

/**
 * Parses an OCI image manifest or image index (the kinds kept; unknown fields are kept as
 * pushed and not read). The media type is the document's own `mediaType`, else the request's
 * Content-Type.
 * @throws OciError MANIFEST_INVALID
 */
export function parsePushedDocument(bytes: Buffer, contentType: string | undefined): PushedDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('not json');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a json object');
  const m = doc as Record<string, unknown>;
  if (m.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string') throw invalid('mediaType must be a string');
  const mediaType = typeof m.mediaType === 'string' ? m.mediaType : contentType?.split(';')[0]?.trim();
  if (m.artifactType !== undefined && typeof m.artifactType !== 'string') throw invalid('artifactType must be a string');
  const common = {
    ...(typeof m.artifactType === 'string' ? { artifactType: m.artifactType } : {}),
    ...(m.subject === undefined ? {} : { subject: descriptor(m.subject, 'subject') }),
    annotations: stringMap(m.annotations, 'annotations'),
  };
  if (mediaType === OCI_INDEX) {
    if (!Array.isArray(m.manifests)) throw invalid('manifests must be an array');
    return { kind: 'index', mediaType, index: { ...common, manifests: m.manifests.map((c, i) => descriptor(c, `manifests[${i}]`)) } };
  }
  if (mediaType !== OCI_MANIFEST) throw invalid(`only ${OCI_MANIFEST} and ${OCI_INDEX} are kept here`);
  if (!Array.isArray(m.layers)) throw invalid('layers must be an array');
  const layers = m.layers.map((l, i) => descriptor(l, `layers[${i}]`));
  return { kind: 'image', mediaType, image: { ...common, config: descriptor(m.config, 'config'), layers } };
}

/**
 * Parses an OCI image manifest (the kind a record or a referrer is).
 * @throws OciError MANIFEST_INVALID
 */
export function parsePushedManifest(bytes: Buffer, contentType: string | undefined): PushedManifest {
  const doc = parsePushedDocument(bytes, contentType);
  if (doc.kind !== 'image') throw invalid(`only ${OCI_MANIFEST} is kept here`);
  return doc.image;
}

/** Whether an image manifest is one record: no subject, one layer (the payload). Any other is kept as pushed, its blobs records of their own. */
export function isRecordManifest(m: PushedManifest): boolean {
  return m.subject === undefined && m.layers.length === 1;
}

/**
 * A layer the registry need not hold: non-distributable (image-spec, deprecated in v1.1; the
 * bytes are fetched from the layer's `urls`, never pushed).
 */
export function isNonDistributable(mediaType: string): boolean {
  return mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.') || mediaType.startsWith('application/vnd.docker.image.rootfs.foreign.');
}

/** The blobs of an image kept as pushed that become records: the config and layers, non-empty, each digest once, with where it was named. */
export function imageBlobs(m: PushedManifest): Array<{ readonly field: string; readonly blob: Descriptor }> {
  const out: Array<{ field: string; blob: Descriptor }> = [];
  const named = [{ field: 'config', blob: m.config }, ...m.layers.map((blob, i) => ({ field: `layers[${i}]`, blob }))];
  for (const n of named) if (n.blob.digest !== EMPTY_DIGEST && !out.some((o) => o.blob.digest === n.blob.digest)) out.push(n);
  return out;
}

/** The descriptor the referrers API lists for a manifest (image or index) kept as pushed. */
export function keptReferrerDescriptor(doc: PushedDocument, digest: string, size: number): Descriptor {
  const own = doc.kind === 'image' ? doc.image : doc.index;
  const artifactType = own.artifactType ?? (doc.kind === 'image' ? doc.image.config.mediaType : undefined);
  return {
    mediaType: doc.mediaType,
    digest,
    size,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(Object.keys(own.annotations).length > 0 ? { annotations: own.annotations } : {}),
  };
}

/** The one layer of a record's manifest. @throws OciError MANIFEST_INVALID */
export function payloadLayer(m: PushedManifest): Descriptor {
  if (m.layers.length !== 1) throw invalid(`a record is one layer (the payload); this manifest has ${m.layers.length}`);
  return m.layers[0];
}

/** The record annotations of a payload layer: the title Parley adds (the CID) is not kept. */
export function recordAnnotations(layer: Descriptor, cid: string): Record<string, string> {
  const out: Record<string, string> = { ...(layer.annotations ?? {}) };
  if (out[ANNOTATION_TITLE] === cid) delete out[ANNOTATION_TITLE];
  return out;
}

/** The blobs of a manifest kept as documents: a non-empty config and, for a referrer, its layers. */
export function documentBlobs(m: PushedManifest, referrer: boolean): Descriptor[] {
  const out = m.config.digest === EMPTY_DIGEST ? [] : [m.config];
  if (referrer) out.push(...m.layers.filter((l) => l.digest !== EMPTY_DIGEST));
  return out;
}

/** The descriptor the referrers API lists for a referrer manifest kept as pushed. */
export function pushedReferrerDescriptor(m: PushedManifest, digest: string, size: number): Descriptor {
  return keptReferrerDescriptor({ kind: 'image', mediaType: OCI_MANIFEST, image: m }, digest, size);
}
