import { EMPTY_CONFIG, OCI_MANIFEST } from './oci-mapping';
import { OciError } from './oci-errors';
import { documentBlobs, parsePushedManifest, payloadLayer, pushedReferrerDescriptor, recordAnnotations } from './pushed-manifest';

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
    ['an index', bytes({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] })],
    ['a bad digest', bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [{ ...layer, digest: 'sha256:xyz' }] })],
    ['a negative size', bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [{ ...layer, size: -1 }] })],
    ['annotations not strings', bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [], annotations: { a: 1 } })],
    ['no config', bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] })],
  ])('refuses %s as MANIFEST_INVALID', (_what, body) => {
    expect(code(() => parsePushedManifest(body, undefined))).toBe('MANIFEST_INVALID');
  });

  it('refuses a record manifest of other than one layer', () => {
    const m = parsePushedManifest(bytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, layers: [layer, layer] }), undefined);
    expect(code(() => payloadLayer(m))).toBe('MANIFEST_INVALID');
  });
});
