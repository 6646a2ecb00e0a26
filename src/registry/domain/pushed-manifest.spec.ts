import { EMPTY_CONFIG, OCI_INDEX, OCI_MANIFEST } from './oci-mapping';
import { OciError } from './oci-errors';
import { documentBlobs, imageBlobs, isNonDistributable, isRecordManifest, keptReferrerDescriptor, parsePushedDocument, parsePushedManifest, payloadLayer, pushedReferrerDescriptor, recordAnnotations } from './pushed-manifest';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const layer = { mediaType: 'application/x-model', digest: digest('a'), size: 3, annotations: { 'org.opencontainers.image.title': 'bafkreix', k: 'v' } };

function bytes(m: unknown): Buffer {
  return Buffer.from(JSON.stringify(m));
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof OciError ? err.code : 'other';
  }
}

describe('pushed manifests', () => {
  it('reads a record manifest: one layer, the empty config, no subject', () => {
    const m = parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [layer] }), undefined);
    expect(payloadLayer(m)).toEqual(layer);
    expect(documentBlobs(m, false)).toEqual([]);
    expect(recordAnnotations(payloadLayer(m), 'bafkreix')).toEqual({ k: 'v' });
    expect(recordAnnotations(payloadLayer(m), 'bafkreiother')).toEqual(layer.annotations);
  });

  it('takes the media type from Content-Type when the manifest has none', () => {
    expect(parsePushedManifest(bytes({ schemaVersion: 2, config: EMPTY_CONFIG, layers: [] }), `${OCI_MANIFEST}; charset=utf-8`).layers).toEqual([]);
  });

  it('keeps a referrer’s layers and a non-empty config as documents, and lists it by its artifactType', () => {
    const config = { mediaType: 'application/vnd.example.config', digest: digest('c'), size: 10 };
    const m = parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig', config, layers: [layer], subject: { mediaType: OCI_MANIFEST, digest: digest('b'), size: 100 }, annotations: { a: '1' } }), undefined);
    expect(documentBlobs(m, true).map((d) => d.digest)).toEqual([digest('c'), digest('a')]);
    expect(documentBlobs(m, false).map((d) => d.digest)).toEqual([digest('c')]);
    expect(pushedReferrerDescriptor(m, digest('d'), 321)).toEqual({ mediaType: OCI_MANIFEST, digest: digest('d'), size: 321, artifactType: 'application/vnd.example.sig', annotations: { a: '1' } });
  });

  it.each([
    ['not json', Buffer.from('{')],
    ['an array', bytes([])],
    ['schema 1', bytes({ schemaVersion: 1, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [] })],
    ['a docker manifest', bytes({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: EMPTY_CONFIG, layers: [] })],
    ['an index (not an image manifest)', bytes({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] })],
    ['a bad digest', bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [{ ...layer, digest: 'sha256:xyz' }] })],
    ['a negative size', bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [{ ...layer, size: -1 }] })],
    ['annotations not strings', bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [], annotations: { a: 1 } })],
    ['no config', bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] })],
  ])('refuses %s as MANIFEST_INVALID', (_what, body) => {
    expect(code(() => parsePushedManifest(body, undefined))).toBe('MANIFEST_INVALID');
  });

  it('refuses a record manifest of other than one layer (as its payload)', () => {
    const m = parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [layer, layer] }), undefined);
    expect(code(() => payloadLayer(m))).toBe('MANIFEST_INVALID');
  });

  it('tells a record manifest (no subject, one layer) from one kept as pushed, and names its non-empty blobs once each', () => {
    const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('c'), size: 10 };
    const two = parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer, { ...layer, digest: digest('e') }, layer] }), undefined);
    expect(isRecordManifest(two)).toBe(false);
    expect(imageBlobs(two).map((b) => [b.field, b.blob.digest])).toEqual([['config', digest('c')], ['layers[0]', digest('a')], ['layers[1]', digest('e')]]);
    const none = parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [] }), undefined);
    expect([isRecordManifest(none), imageBlobs(none)]).toEqual([false, []]);
    expect(isRecordManifest(parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }), undefined))).toBe(true);
    expect(isRecordManifest(parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer], subject: config }), undefined))).toBe(false);
  });

  it('reads an image index (unknown fields left as pushed), with its subject, and lists it by its artifactType', () => {
    const child = { mediaType: OCI_MANIFEST, digest: digest('1'), size: 500, platform: { os: 'linux', architecture: 'arm64' } };
    const doc = parsePushedDocument(bytes({ schemaVersion: 2, artifactType: 'application/vnd.example.set', manifests: [child], subject: { mediaType: OCI_INDEX, digest: digest('2'), size: 9 }, annotations: { a: '1' }, extra: { any: true } }), OCI_INDEX);
    expect(doc.kind).toBe('index');
    if (doc.kind !== 'index') return;
    expect(doc.index.manifests.map((m) => m.digest)).toEqual([digest('1')]);
    expect(doc.index.subject?.digest).toBe(digest('2'));
    expect(keptReferrerDescriptor(doc, digest('3'), 77)).toEqual({ mediaType: OCI_INDEX, digest: digest('3'), size: 77, artifactType: 'application/vnd.example.set', annotations: { a: '1' } });
    const plain = parsePushedDocument(bytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }), undefined);
    expect(keptReferrerDescriptor(plain, digest('4'), 5)).toEqual({ mediaType: OCI_INDEX, digest: digest('4'), size: 5 });
    expect(() => parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }), undefined)).toThrow(`manifest: only ${OCI_MANIFEST} is kept here`);
  });

  it.each([
    ['an index without manifests', bytes({ schemaVersion: 2, mediaType: OCI_INDEX })],
    ['an index child with a bad digest', bytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: 'sha256:1', size: 1 }] })],
    ['a docker manifest list', bytes({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [] })],
    ['no media type at all', bytes({ schemaVersion: 2, layers: [] })],
    ['an artifactType not a string', bytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], artifactType: 3 })],
  ])('refuses %s as MANIFEST_INVALID', (_what, body) => {
    expect(code(() => parsePushedDocument(body, undefined))).toBe('MANIFEST_INVALID');
  });

  it('knows the non-distributable layer media types (not pushed; fetched from their urls)', () => {
    expect(isNonDistributable('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip')).toBe(true);
    expect(isNonDistributable('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')).toBe(true);
    expect(isNonDistributable('application/vnd.oci.image.layer.v1.tar+gzip')).toBe(false);
  });
});
