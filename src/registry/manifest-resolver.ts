import { ContentId, type StoredRecord, type StoreService, type TagTarget } from '../store';
import { parseListQuery } from '../store';
import { recordManifest, referrerManifest, type Descriptor, type RecordFacts, type ReferrerFacts, type RenderedManifest } from './domain/oci-mapping';
import { keptReferrerDescriptor, OCI_MANIFEST_DOC, OCI_REFERRER_DOC, parsePushedDocument, parsePushedManifest, pushedReferrerDescriptor, REGISTRY_DOC_TYPES } from './domain/pushed-manifest';

/** Digests remembered (manifests rendered by this replica); older ones are found again by a scan. */
const REMEMBERED = 10_000;
const KEPT_MANIFESTS: ReadonlySet<string> = new Set([OCI_MANIFEST_DOC, OCI_REFERRER_DOC]);
const RECORD_MANIFESTS: ReadonlySet<string> = new Set([OCI_MANIFEST_DOC]);
const REFERRER_MANIFESTS: ReadonlySet<string> = new Set([OCI_REFERRER_DOC]);

/** Referrers of one record shown by the referrers API. */
export const MAX_REFERRERS = 1000;

interface Known {
  readonly namespace: string;
  readonly record: string;
  /** The referrer's CID, for a referrer manifest. */
  readonly referrer?: string;
  /** A document kept as pushed (a manifest or blob), by its type. */
  readonly doc?: string;
}

/** A document the registry keeps as pushed: its bytes and media type. */
export interface KeptDocument {
  readonly data: Buffer;
  readonly mediaType: string;
  readonly record: StoredRecord;
  /** The document's type (OCI_MANIFEST_DOC, OCI_REFERRER_DOC, OCI_BLOB_DOC) and CID on the record. */
  readonly type: string;
  readonly cid: ContentId;
}

export function recordFacts(r: StoredRecord): RecordFacts {
  return { cid: r.cid.toString(), payloadDigest: r.cid.sha256Hex, namespace: r.namespace, mediaType: r.mediaType, size: r.size, annotations: r.annotations, createdAtMicros: r.createdAtMicros };
}

/** A rendered manifest found by digest: a record's or one of its referrers'. */
export interface FoundManifest {
  readonly manifest: RenderedManifest;
  readonly record: StoredRecord;
  /** The referrer document whose manifest this is; undefined for the record's own (rendered or kept as pushed). */
  readonly referrer?: ContentId;
}

/**
 * Manifests by digest. A manifest is a pure function of its record (and referrer), so a
 * digest cannot be turned back into a record: the digests this replica rendered are
 * remembered; any other is looked for by rendering the namespace's records (at most
 * `scanLimit`) and their referrers, as another replica would have rendered them.
 */
export class ManifestResolver {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly store: StoreService,
    private readonly scanLimit: number,
  ) {}

  renderRecord(record: StoredRecord): RenderedManifest {
    const m = recordManifest(recordFacts(record));
    this.remember(m.descriptor.digest, { namespace: record.namespace, record: record.cid.toString() });
    return m;
  }

  /** The record's referrers as manifests whose subject is the record's manifest. */
  async referrers(record: StoredRecord, subject: Descriptor): Promise<RenderedManifest[]> {
    return (await this.renderedReferrers(record, subject)).map((r) => r.manifest);
  }

  private async renderedReferrers(record: StoredRecord, subject: Descriptor): Promise<Array<{ manifest: RenderedManifest; cid: ContentId }>> {
    const docs = await this.store.repository.referrers.pageSummaries(record.cid, undefined, 0n, MAX_REFERRERS);
    return docs.filter((d) => !REGISTRY_DOC_TYPES.has(d.type)).map((d) => {
      const facts: ReferrerFacts = { cid: d.cid.toString(), payloadDigest: d.cid.sha256Hex, type: d.type, mediaType: d.mediaType, size: d.size, annotations: d.annotations };
      const m = referrerManifest(facts, subject);
      this.remember(m.descriptor.digest, { namespace: record.namespace, record: record.cid.toString(), referrer: facts.cid });
      return { manifest: m, cid: d.cid };
    });
  }

  /** The descriptors of the referrer manifests kept as pushed whose subject is `subjectDigest`. */
  async pushedReferrers(record: StoredRecord, subjectDigest: string): Promise<Descriptor[]> {
    const docs = await this.store.repository.referrers.page(record.cid, OCI_REFERRER_DOC, 0n, MAX_REFERRERS);
    const out: Descriptor[] = [];
    for (const d of docs) {
      const m = parsePushedManifest(d.data, undefined);
      if (m.subject?.digest === subjectDigest) out.push(pushedReferrerDescriptor(m, d.cid.sha256Hex, d.data.length));
    }
    return out;
  }

  /** The descriptors of the referrers of `namespace` kept while their subject `subjectDigest` was not there. */
  async subjectlessReferrers(namespace: string, subjectDigest: string): Promise<Descriptor[]> {
    const docs = await this.store.repository.subjectless.manifestsOf(namespace, subjectDigest, MAX_REFERRERS);
    return docs.map((d) => pushedReferrerDescriptor(parsePushedManifest(d.data, undefined), d.digest, d.data.length));
  }

  /** The descriptors of the manifests of `namespace` kept as pushed (indexes) whose subject is `subjectDigest`. */
  async keptReferrers(namespace: string, subjectDigest: string): Promise<Descriptor[]> {
    const kept = await this.store.repository.manifests.referrersOf(namespace, subjectDigest, MAX_REFERRERS);
    return kept.map((m) => keptReferrerDescriptor(parsePushedDocument(m.data, m.mediaType), m.digest, m.data.length));
  }

  /** A manifest of `namespace` kept as pushed that is not one record (several layers or none, an index), whole. */
  async kept(namespace: string, digest: string): Promise<RenderedManifest | undefined> {
    const kept = await this.store.repository.manifests.find(namespace, digest);
    return kept === undefined ? undefined : { bytes: kept.data, descriptor: { mediaType: kept.mediaType, digest, size: kept.data.length } };
  }

  /**
   * A document of `namespace` kept as pushed, of one of `types`, whose bytes have `digest`:
   * remembered, else looked for among the namespace's records (at most `scanLimit`).
   */
  async document(namespace: string, digest: string, types: ReadonlySet<string>): Promise<KeptDocument | undefined> {
    const known = this.known.get(digest);
    if (known?.doc !== undefined && known.namespace === namespace && types.has(known.doc)) {
      const record = await this.store.repository.find(ContentId.parse(known.record));
      const found = record?.namespace === namespace ? await this.documentOf(record, digest, types) : undefined;
      if (found !== undefined) return found;
      this.known.delete(digest);
    }
    for (const record of await this.recordsOf(namespace, this.scanLimit)) {
      const found = await this.documentOf(record, digest, types);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private async documentOf(record: StoredRecord, digest: string, types: ReadonlySet<string>): Promise<KeptDocument | undefined> {
    const summaries = await this.store.repository.referrers.pageSummaries(record.cid, undefined, 0n, MAX_REFERRERS);
    const hit = summaries.find((d) => types.has(d.type) && d.cid.sha256Hex === digest);
    if (hit === undefined) return undefined;
    const [doc] = await this.store.repository.referrers.page(record.cid, hit.type, hit.seq - 1n, 1);
    if (doc === undefined || doc.cid.sha256Hex !== digest) return undefined;
    this.remember(digest, { namespace: record.namespace, record: record.cid.toString(), doc: hit.type });
    return { data: doc.data, mediaType: doc.mediaType, record, type: hit.type, cid: doc.cid };
  }

  /**
   * The manifest a named tag points at: through its record (the record's rendered manifest,
   * one kept as pushed, or a referrer kept with it), kept without subject, or a manifest kept
   * as pushed that is not one record. Undefined when
   * it is gone (a record deleted meanwhile).
   */
  async byTagTarget(namespace: string, target: TagTarget): Promise<RenderedManifest | undefined> {
    if (!('recordCid' in target)) {
      if (target.kind === 'manifest') return this.kept(namespace, target.digest);
      const kept = await this.store.repository.subjectless.manifest(namespace, target.digest);
      return kept === undefined ? undefined : { bytes: kept.data, descriptor: { mediaType: kept.mediaType, digest: target.digest, size: kept.data.length } };
    }
    const record = await this.store.repository.find(ContentId.parse(target.recordCid));
    if (record === undefined || record.namespace !== namespace) return undefined;
    if (target.kind === 'record') {
      const own = this.renderRecord(record);
      if (own.descriptor.digest === target.digest) return own;
    }
    const kept = await this.documentOf(record, target.digest, target.kind === 'record' ? RECORD_MANIFESTS : REFERRER_MANIFESTS);
    return kept === undefined ? undefined : { bytes: kept.data, descriptor: { mediaType: kept.mediaType, digest: target.digest, size: kept.data.length } };
  }

  /** The record of `namespace` whose CID is `tag`; undefined when there is none (or the tag is no CID). */
  async recordByTag(namespace: string, tag: string): Promise<StoredRecord | undefined> {
    let cid: ContentId;
    try {
      cid = ContentId.parse(tag);
    } catch {
      return undefined;
    }
    const record = await this.store.repository.find(cid);
    return record?.namespace === namespace ? record : undefined;
  }

  /** The record of `namespace` whose payload has this sha256 digest. */
  async recordByPayload(namespace: string, hex: string): Promise<StoredRecord | undefined> {
    const record = await this.store.repository.find(ContentId.fromSha256(Buffer.from(hex, 'hex')));
    return record?.namespace === namespace ? record : undefined;
  }

  /** The manifest of `namespace` with this digest, record or referrer; undefined when none is found. */
  async byDigest(namespace: string, digest: string): Promise<FoundManifest | undefined> {
    const known = this.known.get(digest);
    if (known !== undefined && known.namespace === namespace && known.doc === undefined) {
      const found = await this.fromKnown(known, digest);
      if (found !== undefined) return found;
      this.known.delete(digest);
    }
    const rendered = await this.scan(namespace, digest);
    if (rendered !== undefined) return rendered;
    const kept = await this.document(namespace, digest, KEPT_MANIFESTS);
    if (kept === undefined) return undefined;
    const manifest = { bytes: kept.data, descriptor: { mediaType: kept.mediaType, digest, size: kept.data.length } };
    return kept.type === OCI_REFERRER_DOC ? { manifest, record: kept.record, referrer: kept.cid } : { manifest, record: kept.record };
  }

  private async fromKnown(known: Known, digest: string): Promise<FoundManifest | undefined> {
    const record = await this.store.repository.find(ContentId.parse(known.record));
    if (record === undefined || record.namespace !== known.namespace) return undefined;
    const own = this.renderRecord(record);
    if (known.referrer === undefined) return own.descriptor.digest === digest ? { manifest: own, record } : undefined;
    const found = (await this.renderedReferrers(record, own.descriptor)).find((r) => r.manifest.descriptor.digest === digest);
    return found === undefined ? undefined : { manifest: found.manifest, record, referrer: found.cid };
  }

  /** Renders the namespace's records (then their referrers) until one has the digest. */
  private async scan(namespace: string, digest: string): Promise<FoundManifest | undefined> {
    const records = await this.recordsOf(namespace, this.scanLimit);
    for (const record of records) {
      const manifest = this.renderRecord(record);
      if (manifest.descriptor.digest === digest) return { manifest, record };
    }
    for (const record of records) {
      const subject = this.renderRecord(record).descriptor;
      const found = (await this.renderedReferrers(record, subject)).find((r) => r.manifest.descriptor.digest === digest);
      if (found !== undefined) return { manifest: found.manifest, record, referrer: found.cid };
    }
    return undefined;
  }

  /** The records of exactly this namespace, in List order, at most `max`. */
  async recordsOf(namespace: string, max: number): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    const pageSize = this.store.limits.maxPageSize;
    let query = parseListQuery({ namespace, pageSize }, this.store.limits);
    for (;;) {
      const page = await this.store.repository.list(query);
      out.push(...page.records.slice(0, max - out.length));
      const last = page.records.at(-1);
      if (!page.hasMore || last === undefined || out.length >= max) return out;
      query = { ...query, afterSeq: last.seq };
    }
  }

  private remember(digest: string, known: Known): void {
    if (this.known.has(digest)) return;
    if (this.known.size >= REMEMBERED) this.known.delete(this.known.keys().next().value as string);
    this.known.set(digest, known);
  }
}
