import { createHash } from 'node:crypto';
import { EMPTY_CONFIG, EMPTY_DIGEST, OCI_INDEX, OCI_MANIFEST } from './oci-mapping';
import {
  ANNOTATION_REF_NAME,
  ANNOTATION_SOURCE_MANIFEST,
  ANNOTATION_SOURCE_REGISTRY,
  DigestMismatch,
  DOCKER_MANIFEST,
  isReferrersTag,
  parseSourceManifest,
  planManifest,
  referrerBlobs,
  referrersOf,
  referrersTagOf,
  sha256Of,
} from './oci-source-manifest';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const layer = (s: string, annotations: Record<string, string> = {}) => ({ mediaType: 'application/x-weights', digest: `sha256:${hex(s)}`, size: s.length, annotations });
const manifest = (doc: Record<string, unknown>) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY_CONFIG, ...doc }));
const SOURCE = 'https://registry.example:5000/models/llama';

describe('parseSourceManifest', () => {
  it('reads a one-layer OCI manifest, digest checked, and keeps it', () => {
    const bytes = manifest({ layers: [layer('w')] });
    const m = parseSourceManifest(bytes, OCI_MANIFEST, { requested: sha256Of(bytes), header: sha256Of(bytes) });
    expect(m).toMatchObject({ mediaType: OCI_MANIFEST, digest: sha256Of(bytes), keep: true });
    expect(m.layers).toHaveLength(1);
  });

  it('refuses bytes whose digest is not the one asked for, nor the one the registry said', () => {
    const bytes = manifest({ layers: [layer('w')] });
    const other = `sha256:${hex('other')}`;
    expect(() => parseSourceManifest(bytes, OCI_MANIFEST, { requested: other })).toThrow(DigestMismatch);
    expect(() => parseSourceManifest(bytes, OCI_MANIFEST, { header: other })).toThrow(/manifest digest is sha256:[0-9a-f]{64}, expected sha256:/);
    // A tag asked for is no digest: only the header is checked then.
    expect(parseSourceManifest(bytes, OCI_MANIFEST, { requested: 'v1' }).digest).toBe(sha256Of(bytes));
  });

  it('reads a Docker schema 2 manifest as an OCI one, but does not keep its bytes', () => {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: { ...EMPTY_CONFIG, mediaType: 'application/vnd.docker.container.image.v1+json' }, layers: [layer('w')] }));
    const m = parseSourceManifest(bytes, DOCKER_MANIFEST, {});
    expect(m).toMatchObject({ mediaType: DOCKER_MANIFEST, keep: false });
    expect(m.layers[0].digest).toBe(`sha256:${hex('w')}`);
  });

  it('does not keep a several-layer manifest', () => {
    expect(parseSourceManifest(manifest({ layers: [layer('a'), layer('b')] }), OCI_MANIFEST, {}).keep).toBe(false);
  });

  it('refuses an image index, another media type and what is not json, saying which', () => {
    expect(() => parseSourceManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] })), OCI_INDEX, {})).toThrow(/image index/);
    expect(() => parseSourceManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), undefined, {})).toThrow(/image index/);
    expect(() => parseSourceManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' })), undefined, {})).toThrow(/is not an OCI image manifest/);
    expect(() => parseSourceManifest(Buffer.from('{not json'), OCI_MANIFEST, {})).toThrow('manifest: not json');
    expect(() => parseSourceManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] })), undefined, {})).toThrow(/\(none\)/);
  });

  it('takes the media type from Content-Type when the manifest has none', () => {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config: EMPTY_CONFIG, layers: [layer('w')] }));
    expect(parseSourceManifest(bytes, `${OCI_MANIFEST}; charset=utf-8`, {}).mediaType).toBe(OCI_MANIFEST);
  });
});

describe('planManifest', () => {
  it('makes one record of a one-layer manifest: the layer its payload, tagged and with its provenance; a non-empty config is a document', () => {
    const config = { mediaType: 'application/x-config', digest: `sha256:${hex('cfg')}`, size: 3, annotations: {} };
    const m = parseSourceManifest(manifest({ config, layers: [layer('w', { stage: 'released' })] }), OCI_MANIFEST, {});
    const plan = planManifest(m, 'v1', SOURCE);
    expect(plan.records).toEqual([
      { layer: m.layers[0], sha256: hex('w'), annotations: { stage: 'released', [ANNOTATION_REF_NAME]: 'v1', [ANNOTATION_SOURCE_REGISTRY]: SOURCE } },
    ]);
    expect(plan.documents).toEqual([config]);
  });

  it('keeps no documents for an empty config', () => {
    const m = parseSourceManifest(manifest({ layers: [layer('w')] }), OCI_MANIFEST, {});
    expect(planManifest(m, 'v1', SOURCE).documents).toEqual([]);
  });

  it('makes a record of each layer of a several-layer manifest, each naming the manifest, the empty blob skipped', () => {
    const empty = { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2, annotations: {} };
    const bytes = manifest({ layers: [layer('a'), empty, layer('b')] });
    const m = parseSourceManifest(bytes, OCI_MANIFEST, {});
    const plan = planManifest(m, 'latest', SOURCE);
    expect(plan.records.map((r) => r.sha256)).toEqual([hex('a'), hex('b')]);
    for (const r of plan.records) expect(r.annotations[ANNOTATION_SOURCE_MANIFEST]).toBe(sha256Of(bytes));
    expect(plan.documents).toEqual([]);
  });

  it('does not let a layer name the title Parley adds drop a title that is not the CID', () => {
    const m = parseSourceManifest(manifest({ layers: [layer('w', { 'org.opencontainers.image.title': 'model.bin' })] }), OCI_MANIFEST, {});
    expect(planManifest(m, 'v1', SOURCE).records[0].annotations['org.opencontainers.image.title']).toBe('model.bin');
  });
});

describe('referrers', () => {
  const subject = `sha256:${hex('subject')}`;

  it('the referrers tag schema: sha256-<hex>, never copied as a record', () => {
    expect(referrersTagOf(subject)).toBe(`sha256-${hex('subject')}`);
    expect(isReferrersTag(referrersTagOf(subject))).toBe(true);
    expect(isReferrersTag('v1')).toBe(false);
    expect(isReferrersTag('sha256-abc')).toBe(false);
  });

  it("lists an index's image-manifest descriptors with sha256 digests, and nothing else", () => {
    const good = { mediaType: OCI_MANIFEST, digest: `sha256:${hex('sig')}`, size: 10, artifactType: 'application/vnd.dev.cosign' };
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [good, { mediaType: OCI_INDEX, digest: `sha256:${hex('i')}`, size: 1 }, { mediaType: OCI_MANIFEST, digest: 'sha512:abc', size: 1 }, 'junk', null],
      }),
    );
    expect(referrersOf(index, subject)).toEqual([good]);
  });

  it('refuses an answer that is not an image index, naming the subject', () => {
    expect(() => referrersOf(Buffer.from('<html>'), subject)).toThrow(`referrers of ${subject}: not json`);
    expect(() => referrersOf(Buffer.from('{}'), subject)).toThrow(`referrers of ${subject}: not an image index`);
  });

  it("keeps a referrer's config and layers as its documents", () => {
    const config = { mediaType: 'application/x-sig-config', digest: `sha256:${hex('c')}`, size: 1, annotations: {} };
    const m = parseSourceManifest(manifest({ config, layers: [layer('sig')], subject: { mediaType: OCI_MANIFEST, digest: subject, size: 100 } }), OCI_MANIFEST, {});
    expect(referrerBlobs(m).map((d) => d.digest)).toEqual([config.digest, `sha256:${hex('sig')}`]);
  });
});
