import { createHash } from 'node:crypto';
import { EMPTY_DIGEST, mergeReferrers, OCI_MANIFEST, PARLEY_RECORD_ARTIFACT_TYPE, PARLEY_REFERRER_ARTIFACT_TYPE, recordManifest, referrerManifest, referrersIndex, rfc3339Micros, type RecordFacts } from './oci-mapping';
import { OciError, pageTags, parseRange, parseUploadRange } from './oci-errors';
import { matchRoute, ROUTE_METHODS, routesWithoutRule } from './routes';

const payloadHex = createHash('sha256').update('weights').digest('hex');
const record: RecordFacts = {
  cid: 'bafkreiexample',
  payloadDigest: `sha256:${payloadHex}`,
  namespace: 'ml/models',
  mediaType: 'application/x-safetensors',
  size: 7,
  annotations: { zeta: 'z', alpha: 'a' },
  createdAtMicros: 1_700_000_000_123_456n,
};

describe('record manifest', () => {
  it('is the same bytes for the same record, whatever the annotations order', () => {
    const a = recordManifest(record);
    const b = recordManifest({ ...record, annotations: { alpha: 'a', zeta: 'z' } });
    expect(a.bytes.equals(b.bytes)).toBe(true);
    expect(a.descriptor.digest).toBe(`sha256:${createHash('sha256').update(a.bytes).digest('hex')}`);
    expect(a.descriptor).toMatchObject({ mediaType: OCI_MANIFEST, size: a.bytes.length, artifactType: PARLEY_RECORD_ARTIFACT_TYPE });
  });

  it('has the empty config and one layer: the payload, its digest the CID digest, with media type and annotations', () => {
    const m = JSON.parse(recordManifest(record).bytes.toString('utf8'));
    expect(m.schemaVersion).toBe(2);
    expect(m.config).toEqual({ mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2 });
    expect(EMPTY_DIGEST).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(m.layers).toEqual([
      { mediaType: 'application/x-safetensors', digest: `sha256:${payloadHex}`, size: 7, annotations: { alpha: 'a', 'org.opencontainers.image.title': 'bafkreiexample', zeta: 'z' } },
    ]);
    expect(Object.keys(m.layers[0].annotations)).toEqual(['alpha', 'org.opencontainers.image.title', 'zeta']);
    expect(m.annotations).toEqual({ 'io.parley.cid': 'bafkreiexample', 'org.opencontainers.image.created': '2023-11-14T22:13:20.123456Z' });
  });

  it('keeps a title the record has', () => {
    const m = JSON.parse(recordManifest({ ...record, annotations: { 'org.opencontainers.image.title': 'model.bin' } }).bytes.toString('utf8'));
    expect(m.layers[0].annotations).toEqual({ 'org.opencontainers.image.title': 'model.bin' });
  });

  it('changes when anything of the record does', () => {
    const base = recordManifest(record).descriptor.digest;
    expect(recordManifest({ ...record, mediaType: 'text/plain' }).descriptor.digest).not.toBe(base);
    expect(recordManifest({ ...record, annotations: {} }).descriptor.digest).not.toBe(base);
    expect(recordManifest({ ...record, createdAtMicros: 1n }).descriptor.digest).not.toBe(base);
  });

  it('writes microsecond timestamps exactly', () => {
    expect(rfc3339Micros(0n)).toBe('1970-01-01T00:00:00.000000Z');
    expect(rfc3339Micros(1_000_001n)).toBe('1970-01-01T00:00:01.000001Z');
  });
});

describe('referrer manifest', () => {
  const subject = recordManifest(record).descriptor;
  const sig = { cid: 'bafkreisig', payloadDigest: `sha256:${'a'.repeat(64)}`, type: 'signature', mediaType: 'application/json', size: 12, annotations: { alg: 'es256' } };

  it('points at the record manifest as subject, one layer = the document', () => {
    const r = referrerManifest(sig, subject);
    const m = JSON.parse(r.bytes.toString('utf8'));
    expect(m.subject).toEqual({ mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size });
    expect(m.layers).toEqual([{ mediaType: 'application/json', digest: sig.payloadDigest, size: 12 }]);
    expect(m.artifactType).toBe(PARLEY_REFERRER_ARTIFACT_TYPE);
    expect(m.annotations).toEqual({ alg: 'es256', 'io.parley.cid': 'bafkreisig', 'io.parley.referrer.type': 'signature' });
    expect(r.descriptor.annotations).toEqual(m.annotations);
  });

  it('uses a media-type-shaped referrer type as the artifactType', () => {
    const r = referrerManifest({ ...sig, type: 'application/vnd.dev.sigstore.bundle' }, subject);
    expect(r.descriptor.artifactType).toBe('application/vnd.dev.sigstore.bundle');
    expect(JSON.parse(r.bytes.toString('utf8')).annotations['io.parley.referrer.type']).toBeUndefined();
  });

  it('filters the referrers index by artifactType', () => {
    const a = referrerManifest(sig, subject).descriptor;
    const b = referrerManifest({ ...sig, type: 'application/x.sbom' }, subject).descriptor;
    expect(JSON.parse(referrersIndex([a, b]).toString()).manifests).toHaveLength(2);
    expect(JSON.parse(referrersIndex([a, b], 'application/x.sbom').toString()).manifests).toEqual([b]);
    expect(JSON.parse(referrersIndex([]).toString())).toEqual({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
  });

  it('merges the record\'s referrers with those kept before the subject was there: each digest once, the record\'s first', () => {
    const d = (n: string, artifactType = 'application/x.sig') => ({ mediaType: OCI_MANIFEST, digest: `sha256:${n.repeat(64)}`, size: 1, artifactType });
    expect(mergeReferrers([], [])).toEqual([]);
    expect(mergeReferrers([d('a')], [])).toEqual([d('a')]);
    expect(mergeReferrers([], [d('b'), d('c')])).toEqual([d('b'), d('c')]);
    // Pushed before the subject, then again once it was there: in both sources, listed once.
    expect(mergeReferrers([d('a'), d('b', 'application/x.sbom')], [d('b'), d('c')])).toEqual([d('a'), d('b', 'application/x.sbom'), d('c')]);
    expect(mergeReferrers([d('a'), d('a')], [d('a')])).toEqual([d('a')]);
  });
});

describe('routes', () => {
  it.each([
    ['GET', '/v2/', { key: 'base' }],
    ['GET', '/v2/ml/models/manifests/bafkrei1', { key: 'manifest_get', name: 'ml/models', ref: 'bafkrei1' }],
    ['HEAD', '/v2/ml/blobs/sha256:ab', { key: 'blob_get', name: 'ml', ref: 'sha256:ab' }],
    ['GET', '/v2/a/b/tags/list', { key: 'tags_list', name: 'a/b' }],
    ['GET', '/v2/a/referrers/sha256:ab', { key: 'referrers', name: 'a', ref: 'sha256:ab' }],
    ['POST', '/v2/a/blobs/uploads/', { key: 'upload_start', name: 'a' }],
    ['PATCH', '/v2/a/blobs/uploads/u1', { key: 'upload_patch', name: 'a', ref: 'u1' }],
    ['PUT', '/v2/a/blobs/uploads/u1', { key: 'upload_put', name: 'a', ref: 'u1' }],
    ['DELETE', '/v2/a/blobs/uploads/u1', { key: 'upload_cancel', name: 'a', ref: 'u1' }],
    ['PUT', '/v2/a/manifests/v1', { key: 'manifest_put', name: 'a', ref: 'v1' }],
    ['DELETE', '/v2/a/manifests/v1', { key: 'manifest_delete', name: 'a', ref: 'v1' }],
    ['DELETE', '/v2/a/b/blobs/sha256:ab', { key: 'blob_delete', name: 'a/b', ref: 'sha256:ab' }],
    ['GET', '/token', { key: 'token' }],
  ])('%s %s', (method, path, route) => {
    expect(matchRoute(method, path)).toEqual({ ok: true, route: expect.objectContaining(route) });
  });

  it('answers 404 for unknown paths and 405 for known paths with another method', () => {
    expect(matchRoute('GET', '/v3/')).toEqual({ ok: false, status: 404 });
    expect(matchRoute('GET', '/v2/a/unknown/x')).toEqual({ ok: false, status: 404 });
    expect(matchRoute('PATCH', '/v2/a/manifests/x')).toEqual({ ok: false, status: 405 });
    expect(matchRoute('DELETE', '/v2/a/tags/list')).toEqual({ ok: false, status: 405 });
    expect(matchRoute('POST', '/v2/')).toEqual({ ok: false, status: 405 });
  });

  it('finds routes without a rule the policy engine knows (the gateway refuses to start)', () => {
    const known = new Set(Object.values(ROUTE_METHODS));
    expect(routesWithoutRule((m) => known.has(m))).toEqual([]);
    expect(routesWithoutRule((m) => m !== ROUTE_METHODS.blob_get)).toEqual(['blob_get']);
    expect(routesWithoutRule(() => true, { ...ROUTE_METHODS, extra: undefined })).toEqual(['extra']);
  });
});

describe('ranges and tag pages', () => {
  it('parses one byte range within the blob', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=0-3', 10)).toEqual({ start: 0, end: 4 });
    expect(parseRange('bytes=4-', 10)).toEqual({ start: 4, end: 10 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 10 });
    expect(parseRange('bytes=5-100', 10)).toEqual({ start: 5, end: 10 });
  });

  it.each(['bytes=10-', 'bytes=5-2', 'bytes=0-1,3-4', 'items=0-1', 'bytes=-0', 'bytes=-'])('refuses %s with RANGE_INVALID (416)', (header) => {
    expect(() => parseRange(header, 10)).toThrow(OciError);
    try {
      parseRange(header, 10);
    } catch (err) {
      expect([(err as OciError).code, (err as OciError).status]).toEqual(['RANGE_INVALID', 416]);
    }
  });

  it('parses an upload Content-Range', () => {
    expect(parseUploadRange('0-99')).toEqual({ start: 0, end: 100 });
    expect(parseUploadRange('bytes 100-199/*')).toEqual({ start: 100, end: 200 });
    expect(() => parseUploadRange('9-1')).toThrow(OciError);
  });

  it('pages tags lexically after last', () => {
    expect(pageTags(['c', 'a', 'b'], 2)).toEqual({ tags: ['a', 'b'], more: true });
    expect(pageTags(['c', 'a', 'b'], 2, 'b')).toEqual({ tags: ['c'], more: false });
    expect(pageTags(['a'], 0)).toEqual({ tags: [], more: true });
  });
});
