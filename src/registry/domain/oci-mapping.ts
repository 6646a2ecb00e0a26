/**
 * The stable mapping of Parley records onto OCI artifacts (OCI Image Manifest v1.1,
 * Distribution Spec v1.1). Pure: the same record always gives the same manifest bytes, so a
 * manifest's digest never changes.
 *
 * - repository name = the record's namespace; tag = the record's CID (base32 text), or a named tag
 *   pointing at a manifest (domain/tags.ts);
 * - a record = an image manifest whose `artifactType` is PARLEY_RECORD_ARTIFACT_TYPE, whose
 *   config is the OCI empty descriptor and whose one layer is the payload: the record's media
 *   type, size and annotations, its digest `sha256:` + the CID's own SHA-256 (same bytes);
 * - a referrer (signature, attestation) = an image manifest with the same empty config, one
 *   layer (the document), and `subject` = the record's manifest: found by the referrers API.
 */
import { createHash } from 'node:crypto';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
/** The artifactType of every record's manifest. */
export const PARLEY_RECORD_ARTIFACT_TYPE = 'application/vnd.parley.record.v1';
/** The artifactType of a referrer whose type is not itself a media type. */
export const PARLEY_REFERRER_ARTIFACT_TYPE = 'application/vnd.parley.referrer.v1';
/** Annotation keys Parley sets on the manifests it generates. */
export const ANNOTATION_CID = 'io.parley.cid';
export const ANNOTATION_REFERRER_TYPE = 'io.parley.referrer.type';
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

/** The OCI empty JSON blob `{}`: every generated manifest's config. */
export const EMPTY_BLOB = Buffer.from('{}');
export const EMPTY_DIGEST = `sha256:${createHash('sha256').update(EMPTY_BLOB).digest('hex')}`;

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** What the mapping reads of a record (the store's RecordMeta fields). */
export interface RecordFacts {
  /** Canonical CID text. */
  readonly cid: string;
  /** `sha256:<hex>` of the payload (the CID's digest). */
  readonly payloadDigest: string;
  readonly namespace: string;
  readonly mediaType: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
  readonly createdAtMicros: bigint;
}

/** What the mapping reads of a referrer (the store's ReferrerSummary fields). */
export interface ReferrerFacts {
  readonly cid: string;
  readonly payloadDigest: string;
  readonly type: string;
  readonly mediaType: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A generated manifest: its exact bytes and its descriptor. */
export interface RenderedManifest {
  readonly bytes: Buffer;
  readonly descriptor: Descriptor;
}

export const EMPTY_CONFIG: Descriptor = Object.freeze({ mediaType: OCI_EMPTY, digest: EMPTY_DIGEST, size: EMPTY_BLOB.length });

/** Keys in code-unit order: a map's JSON never depends on insertion order. */
export function sortedAnnotations(a: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(a).sort(compareText)) out[key] = a[key];
  return out;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** RFC 3339 UTC with microseconds, from epoch microseconds. */
export function rfc3339Micros(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const rest = Number(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(rest).padStart(6, '0')}Z`;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function rendered(manifest: Record<string, unknown>, artifactType: string, annotations?: Record<string, string>): RenderedManifest {
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  return { bytes, descriptor: { mediaType: OCI_MANIFEST, digest: sha256Digest(bytes), size: bytes.length, artifactType, ...(annotations ? { annotations } : {}) } };
}

/** The payload layer of a record: its media type and annotations, titled by its CID unless it has a title. */
export function recordLayer(r: RecordFacts): Descriptor {
  const annotations = sortedAnnotations({ [ANNOTATION_TITLE]: r.cid, ...r.annotations });
  return { mediaType: r.mediaType, digest: r.payloadDigest, size: r.size, annotations };
}

/** The record's image manifest, byte for byte the same every time. */
export function recordManifest(r: RecordFacts): RenderedManifest {
  const annotations = sortedAnnotations({ [ANNOTATION_CID]: r.cid, [ANNOTATION_CREATED]: rfc3339Micros(r.createdAtMicros) });
  return rendered(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: PARLEY_RECORD_ARTIFACT_TYPE,
      config: EMPTY_CONFIG,
      layers: [recordLayer(r)],
      annotations,
    },
    PARLEY_RECORD_ARTIFACT_TYPE,
  );
}

/** A referrer type that is a `type/subtype` media type is the artifactType itself; any other type is kept in an annotation. */
export function referrerArtifactType(type: string): string {
  const slash = type.indexOf('/');
  return slash > 0 && slash === type.lastIndexOf('/') && slash < type.length - 1 ? type : PARLEY_REFERRER_ARTIFACT_TYPE;
}

/** A referrer's image manifest, its subject the record's manifest. */
export function referrerManifest(ref: ReferrerFacts, subject: Descriptor): RenderedManifest {
  const artifactType = referrerArtifactType(ref.type);
  const annotations = sortedAnnotations({ ...ref.annotations, [ANNOTATION_CID]: ref.cid, ...(artifactType === ref.type ? {} : { [ANNOTATION_REFERRER_TYPE]: ref.type }) });
  return rendered(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: EMPTY_CONFIG,
      layers: [{ mediaType: ref.mediaType, digest: ref.payloadDigest, size: ref.size }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    },
    artifactType,
    annotations,
  );
}

/** The referrers API answer: an image index of the referrers' descriptors (optionally of one artifactType). */
export function referrersIndex(manifests: readonly Descriptor[], artifactType?: string): Buffer {
  const chosen = artifactType === undefined ? manifests : manifests.filter((d) => d.artifactType === artifactType);
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: chosen }), 'utf8');
}

/**
 * The referrers of a subject from two sources, each digest once, in order: those of the
 * subject's record first, then those kept while the subject was not there (a referrer pushed
 * again once its subject arrived is in both).
 */
export function mergeReferrers(first: readonly Descriptor[], then: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (const d of [...first, ...then]) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    out.push(d);
  }
  return out;
}

/** `sha256:` and 64 lowercase hex digits: the only digests this registry holds. */
export function isSha256Digest(text: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(text);
}

/** Whether a digest names an algorithm the spec allows (so an unknown one is DIGEST_INVALID, not NAME_UNKNOWN). */
export function isDigestSyntax(text: string): boolean {
  return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(text);
}
