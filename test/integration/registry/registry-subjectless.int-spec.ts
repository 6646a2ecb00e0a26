/**
 * A referrer pushed before its subject (Distribution Spec v1.1: a registry MUST accept it), on
 * a real gateway (real PostgreSQL, real mTLS): kept byte for byte with its blobs, listed under
 * the subject digest, listed once when the subject arrives (by the registry or over gRPC), its
 * caps refused with the spec's code, and pushed only by callers allowed to Push.
 */
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ParleyError } from '../../../src/common';
import { ContentId, StoreService } from '../../../src/store';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { ociCode, REGISTRY_ENV, registryRequest } from './registry-harness';

jest.setTimeout(120_000);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SIGNATURE = 'application/vnd.example.signature';

function referrerOf(subject: string, layer: { digest: string; size: number }, annotations: Record<string, string>, artifactType = SIGNATURE): Buffer {
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, artifactType, config: EMPTY, layers: [{ mediaType: 'application/json', ...layer }], subject: { mediaType: MANIFEST, digest: subject, size: 300 }, annotations }),
  );
}

describe('a referrer pushed before its subject', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let app: PemKeyPair;
  let store: StoreService;
  let db: DataSource;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ acme: REGISTRY_ENV }));
    app = await issueSvid(acme, '/ml/app');
    store = acme.gateway.get(StoreService);
    db = acme.gateway.get(DataSource);
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  async function upload(name: string, bytes: Buffer): Promise<string> {
    const post = await registryRequest(acme, app, 'POST', `/v2/${name}/blobs/uploads/?digest=${sha(bytes)}`, { 'Content-Length': String(bytes.length), 'Content-Type': 'application/octet-stream' }, bytes);
    expect(post.status).toBe(201);
    return sha(bytes);
  }

  async function referrersOf(name: string, subject: string, query = ''): Promise<{ status: number; manifests: unknown[]; filtered: unknown }> {
    const reply = await registryRequest(acme, app, 'GET', `/v2/${name}/referrers/${subject}${query}`);
    return { status: reply.status, manifests: reply.json().manifests as unknown[], filtered: reply.headers['oci-filters-applied'] };
  }

  it('is taken (201, OCI-Subject), read back byte for byte with its blob, listed under the subject, and listed once when the subject arrives', async () => {
    const name = 'ml/early';
    const bytes = payload(1000);
    const layer = await upload(name, bytes);
    const cid = ContentId.fromSha256(Buffer.from(layer.slice(7), 'hex')).toString();
    const subjectManifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [{ mediaType: 'application/octet-stream', digest: layer, size: bytes.length }] }));
    const subject = sha(subjectManifest);

    const sig = Buffer.from('{"signature":"early"}');
    await upload(name, sig);
    const referrer = referrerOf(subject, { digest: sha(sig), size: sig.length }, { by: 'acme' });
    const put = await registryRequest(acme, app, 'PUT', `/v2/${name}/manifests/${sha(referrer)}`, { 'Content-Type': MANIFEST }, referrer);
    expect([put.status, put.headers['oci-subject'], put.headers['docker-content-digest'], put.headers.location]).toEqual([201, subject, sha(referrer), `/v2/${name}/manifests/${sha(referrer)}`]);

    const listed = { mediaType: MANIFEST, digest: sha(referrer), size: referrer.length, artifactType: SIGNATURE, annotations: { by: 'acme' } };
    expect(await referrersOf(name, subject)).toEqual({ status: 200, manifests: [listed], filtered: undefined });
    expect(await referrersOf(name, subject, `?artifactType=${encodeURIComponent(SIGNATURE)}`)).toEqual({ status: 200, manifests: [listed], filtered: 'artifactType' });
    expect(await referrersOf(name, subject, '?artifactType=application%2Fx.sbom')).toEqual({ status: 200, manifests: [], filtered: 'artifactType' });
    // Another namespace does not see it.
    expect(await referrersOf('ml/other', subject)).toEqual({ status: 200, manifests: [], filtered: undefined });
    const got = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/${sha(referrer)}`);
    expect([got.status, got.headers['content-type'], got.headers['docker-content-digest'], got.body.equals(referrer)]).toEqual([200, MANIFEST, sha(referrer), true]);
    const head = await registryRequest(acme, app, 'HEAD', `/v2/${name}/manifests/${sha(referrer)}`);
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, String(referrer.length), 0]);
    // Its blob is kept with it (the finished upload was taken), and readable.
    const blob = await registryRequest(acme, app, 'GET', `/v2/${name}/blobs/${sha(sig)}`);
    expect([blob.status, blob.body.equals(sig)]).toEqual([200, true]);
    expect((await registryRequest(acme, app, 'GET', `/v2/ml/other/blobs/${sha(sig)}`)).status).toBe(404);
    // The subject itself is not there yet.
    const none = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/${subject}`);
    expect([none.status, ociCode(none)]).toEqual([404, 'MANIFEST_UNKNOWN']);

    // The subject arrives: its manifest makes the staged layer a record.
    const subjectPut = await registryRequest(acme, app, 'PUT', `/v2/${name}/manifests/${cid}`, { 'Content-Type': MANIFEST }, subjectManifest);
    expect([subjectPut.status, subjectPut.headers['docker-content-digest']]).toEqual([201, subject]);
    expect((await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/${subject}`)).body.equals(subjectManifest)).toBe(true);
    expect(await referrersOf(name, subject)).toEqual({ status: 200, manifests: [listed], filtered: undefined });

    // Pushed again now that the subject is there (a document of its record, its blob copied over): still once.
    const again = await registryRequest(acme, app, 'PUT', `/v2/${name}/manifests/${sha(referrer)}`, { 'Content-Type': MANIFEST }, referrer);
    expect([again.status, again.headers['oci-subject']]).toEqual([201, subject]);
    expect(await referrersOf(name, subject)).toEqual({ status: 200, manifests: [listed], filtered: undefined });
    // A new referrer of the present subject is listed after it.
    const later = referrerOf(subject, { digest: sha(sig), size: sig.length }, { by: 'later' }, 'application/x.sbom');
    expect((await registryRequest(acme, app, 'PUT', `/v2/${name}/manifests/${sha(later)}`, { 'Content-Type': MANIFEST }, later)).status).toBe(201);
    expect((await referrersOf(name, subject)).manifests).toEqual([expect.objectContaining({ digest: sha(referrer) }), expect.objectContaining({ digest: sha(later), artifactType: 'application/x.sbom' })]);
    expect((await registryRequest(acme, app, 'GET', `/v2/${name}/blobs/${sha(sig)}`)).body.equals(sig)).toBe(true);
  });

  it('is listed once under a record pushed over gRPC whose manifest is its subject (kept while the record was not yet visible)', async () => {
    const writer = await workloadClient(acme, '/ml/app', acme);
    let cid: string;
    try {
      cid = await writer.push({ namespace: 'ml/grpc', media_type: 'text/plain' }, Buffer.from('pushed over grpc'));
    } finally {
      writer.close();
    }
    const subject = (await registryRequest(acme, app, 'HEAD', `/v2/ml/grpc/manifests/${cid}`)).headers['docker-content-digest'] as string;
    const sig = Buffer.from('{"signature":"raced"}');
    const referrer = referrerOf(subject, { digest: sha(sig), size: sig.length }, { by: 'race' });
    // What a replica that did not see the record yet keeps (the database is shared).
    await store.repository.subjectless.put(
      { namespace: 'ml/grpc', subjectDigest: subject, manifest: { digest: sha(referrer), mediaType: MANIFEST, data: referrer }, blobs: [{ digest: sha(sig), mediaType: 'application/json', data: sig }], creatorSpiffeId: 'spiffe://acme.test/ml/app', creatorTrustDomain: 'acme.test' },
      { perSubject: 10, perNamespace: 10 },
    );
    expect((await referrersOf('ml/grpc', subject)).manifests).toEqual([expect.objectContaining({ digest: sha(referrer) })]);
    // Pushed again through the registry, it becomes a document of the record: still once.
    expect((await registryRequest(acme, app, 'PUT', `/v2/ml/grpc/manifests/${sha(referrer)}`, { 'Content-Type': MANIFEST }, referrer)).status).toBe(201);
    expect((await referrersOf('ml/grpc', subject)).manifests).toEqual([expect.objectContaining({ digest: sha(referrer) })]);
    expect((await registryRequest(acme, app, 'GET', `/v2/ml/grpc/manifests/${sha(referrer)}`)).body.equals(referrer)).toBe(true);
  });

  it('answers an empty index (200) for a subject nothing refers to', async () => {
    expect(await referrersOf('ml/early', `sha256:${'9'.repeat(64)}`)).toEqual({ status: 200, manifests: [], filtered: undefined });
  });

  it('refuses what exceeds the caps (403 DENIED, nothing kept): per subject digest, and per namespace', async () => {
    const sig = Buffer.from('{"signature":"capped"}');
    const fill = async (name: string, subjects: number, perSubject: number) =>
      db.query(
        `INSERT INTO store_subjectless_referrers (namespace, subject_digest, kind, digest, media_type, data, creator_spiffe_id, creator_trust_domain)
         SELECT $1, 'sha256:' || lpad(to_hex(s), 64, '0'), 'manifest', 'sha256:' || lpad(to_hex(s * 100000 + i), 64, 'f'), $2, '\\x7b7d'::bytea, 'spiffe://acme.test/ml/app', 'acme.test'
         FROM generate_series(1, $3::int) s, generate_series(1, $4::int) i`,
        [name, MANIFEST, subjects, perSubject],
      );
    const subjectOne = `sha256:${'0'.repeat(63)}1`;

    // One subject digest holds 1000 documents (store's maxReferrersPerRecord): the next is refused.
    await fill('ml/capped', 1, 1000);
    await upload('ml/capped', sig);
    const capped = referrerOf(subjectOne, { digest: sha(sig), size: sig.length }, {});
    const refused = await registryRequest(acme, app, 'PUT', `/v2/ml/capped/manifests/${sha(capped)}`, { 'Content-Type': MANIFEST }, capped);
    expect([refused.status, ociCode(refused)]).toEqual([403, 'DENIED']);
    expect((refused.json().errors as Array<{ message: string }>)[0].message).toMatch(/^push referrer: subject sha256:0{63}1 of namespace ml\/capped would hold more than the maximum of 1000 referrer documents/);
    expect((await registryRequest(acme, app, 'GET', `/v2/ml/capped/manifests/${sha(capped)}`)).status).toBe(404);
    // Its staged blob was not taken: still readable, the upload still waiting for a manifest.
    expect((await registryRequest(acme, app, 'GET', `/v2/ml/capped/blobs/${sha(sig)}`)).body.equals(sig)).toBe(true);
    // Another subject digest of the namespace still takes one.
    const other = referrerOf(`sha256:${'e'.repeat(64)}`, { digest: sha(sig), size: sig.length }, {});
    expect((await registryRequest(acme, app, 'PUT', `/v2/ml/capped/manifests/${sha(other)}`, { 'Content-Type': MANIFEST }, other)).status).toBe(201);

    // One namespace holds 10000 documents (maxSubjectlessReferrers) over all its subject digests.
    await fill('ml/full', 100, 100);
    await upload('ml/full', sig);
    const full = referrerOf(`sha256:${'d'.repeat(64)}`, { digest: sha(sig), size: sig.length }, {});
    const refusedFull = await registryRequest(acme, app, 'PUT', `/v2/ml/full/manifests/${sha(full)}`, { 'Content-Type': MANIFEST }, full);
    expect([refusedFull.status, ociCode(refusedFull)]).toEqual([403, 'DENIED']);
    expect((refusedFull.json().errors as Array<{ message: string }>)[0].message).toMatch(/^push referrer: namespace ml\/full would hold more than the maximum of 10000 documents/);
    const [{ n }] = (await db.query(`SELECT count(*)::int AS n FROM store_subjectless_referrers WHERE namespace = 'ml/full'`)) as Array<{ n: number }>;
    expect(n).toBe(10_000);
  });

  it('holds its cap under concurrent pushes (one database, any replica): exactly the cap is kept', async () => {
    const subject = `sha256:${'c'.repeat(64)}`;
    const attempts = Array.from({ length: 12 }, (_, i) => {
      const data = referrerOf(subject, { digest: `sha256:${'a'.repeat(64)}`, size: 1 }, { n: String(i) });
      return store.repository.subjectless.put(
        { namespace: 'ml/race', subjectDigest: subject, manifest: { digest: sha(data), mediaType: MANIFEST, data }, blobs: [], creatorSpiffeId: 'spiffe://acme.test/ml/app', creatorTrustDomain: 'acme.test' },
        { perSubject: 4, perNamespace: 100 },
      );
    });
    const results = await Promise.allSettled(attempts);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(4);
    for (const r of results) if (r.status === 'rejected') expect(ParleyError.is(r.reason, 'resource_exhausted')).toBe(true);
    expect((await referrersOf('ml/race', subject)).manifests).toHaveLength(4);
  });

  it('is pushed only by callers allowed to Push: a federated caller is refused (403 DENIED), nothing kept; reads are authorized as for any referrer', async () => {
    const outsider = await issueSvid(partner, '/parley/gateway');
    const subject = `sha256:${'b'.repeat(64)}`;
    const referrer = referrerOf(subject, { digest: EMPTY.digest, size: 2 }, {});
    const refused = await registryRequest(acme, outsider, 'PUT', `/v2/ml/early/manifests/${sha(referrer)}`, { 'Content-Type': MANIFEST }, referrer);
    expect([refused.status, ociCode(refused)]).toEqual([403, 'DENIED']);
    const [{ n }] = (await db.query(`SELECT count(*)::int AS n FROM store_subjectless_referrers WHERE digest = $1`, [sha(referrer)])) as Array<{ n: number }>;
    expect(n).toBe(0);

    // Kept by an own-domain caller, it is read as any referrer is: the default policy lets a federated caller Lookup and PullReferrer.
    expect((await registryRequest(acme, app, 'PUT', `/v2/ml/early/manifests/${sha(referrer)}`, { 'Content-Type': MANIFEST }, referrer)).status).toBe(201);
    const got = await registryRequest(acme, outsider, 'GET', `/v2/ml/early/manifests/${sha(referrer)}`);
    expect([got.status, got.body.equals(referrer)]).toEqual([200, true]);
    expect((await registryRequest(acme, outsider, 'GET', `/v2/ml/early/referrers/${subject}`)).json().manifests).toEqual([expect.objectContaining({ digest: sha(referrer) })]);
  });
});
