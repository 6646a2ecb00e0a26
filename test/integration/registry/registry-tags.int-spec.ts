/**
 * Named tags (`:v1`, `:latest`) on the registry face of a real gateway (real PostgreSQL, real
 * mTLS): a push by tag makes or reuses the record as a push by digest does, the tag resolves to
 * the bytes pushed under their digest, moves when pushed again, is listed beside the CID tags,
 * goes with its record's delete, is capped per namespace; only callers allowed to Push move it.
 */
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ContentId } from '../../../src/store';
import type { PemKeyPair } from '../../../src/tls/server-identity';
import { issueSvid, payload, startFederatedPair, workloadClient } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { ociCode, REGISTRY_ENV, registryRequest } from './registry-harness';

jest.setTimeout(120_000);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const cidOf = (b: Buffer) => ContentId.of(b).toString();
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MAX_TAGS = 4;

function imageOf(bytes: Buffer, annotations: Record<string, string> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: EMPTY, layers: [{ mediaType: 'application/octet-stream', digest: sha(bytes), size: bytes.length }], annotations }));
}

describe('named tags of the registry face', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let app: PemKeyPair;
  let db: DataSource;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ acme: { ...REGISTRY_ENV, PARLEY_REGISTRY_MAX_TAGS: String(MAX_TAGS) } }));
    app = await issueSvid(acme, '/ml/app');
    db = acme.gateway.get(DataSource);
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  async function upload(name: string, bytes: Buffer): Promise<void> {
    const post = await registryRequest(acme, app, 'POST', `/v2/${name}/blobs/uploads/?digest=${sha(bytes)}`, { 'Content-Length': String(bytes.length), 'Content-Type': 'application/octet-stream' }, bytes);
    expect(post.status).toBe(201);
  }

  async function put(name: string, ref: string, manifest: Buffer, svid = app) {
    return registryRequest(acme, svid, 'PUT', `/v2/${name}/manifests/${ref}`, { 'Content-Type': MANIFEST }, manifest);
  }

  it('a push by tag makes the record; the tag reads back the bytes pushed under their digest, moves on a second push, and is listed beside the CID tags', async () => {
    const name = 'ml/tagged';
    const first = payload(2000);
    await upload(name, first);
    const one = imageOf(first, { 'org.opencontainers.image.version': '1' });
    const pushed = await put(name, 'v1', one);
    expect([pushed.status, pushed.headers['docker-content-digest'], pushed.headers.location]).toEqual([201, sha(one), `/v2/${name}/manifests/${sha(one)}`]);

    const byTag = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/v1`);
    expect([byTag.status, byTag.headers['docker-content-digest'], byTag.headers['content-type'], byTag.body.equals(one)]).toEqual([200, sha(one), MANIFEST, true]);
    const byDigest = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/${sha(one)}`);
    expect(byDigest.body.equals(byTag.body)).toBe(true);
    const head = await registryRequest(acme, app, 'HEAD', `/v2/${name}/manifests/v1`);
    expect([head.status, head.headers['docker-content-digest'], head.headers['content-length'], head.body.length]).toEqual([200, sha(one), String(one.length), 0]);
    // The record is the one a push by digest makes: its CID tag still names its rendered manifest.
    const reader = await workloadClient(acme, '/ml/reader', acme);
    try {
      expect((await reader.pullAll(cidOf(first))).data.equals(first)).toBe(true);
    } finally {
      reader.close();
    }

    const second = payload(3000);
    await upload(name, second);
    const two = imageOf(second);
    const moved = await put(name, 'v1', two);
    expect([moved.status, moved.headers['docker-content-digest']]).toEqual([201, sha(two)]);
    const now = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/v1`);
    expect([now.headers['docker-content-digest'], now.body.equals(two)]).toEqual([sha(two), true]);
    // The same manifest again under a second tag: the record reused, both tags point at it.
    expect((await put(name, 'latest', two)).status).toBe(201);
    expect((await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/latest`)).body.equals(two)).toBe(true);

    const tags = await registryRequest(acme, app, 'GET', `/v2/${name}/tags/list`);
    expect(tags.json()).toEqual({ name, tags: [cidOf(first), cidOf(second), 'latest', 'v1'].sort() });
    const paged = await registryRequest(acme, app, 'GET', `/v2/${name}/tags/list?n=1&last=latest`);
    expect([paged.json().tags, paged.headers.link]).toEqual([['v1'], undefined]);
    const [row] = await db.query('SELECT kind, record_cid, creator_spiffe_id FROM registry_tags WHERE namespace = $1 AND tag = $2', [name, 'v1']);
    expect(row).toEqual({ kind: 'record', record_cid: cidOf(second), creator_spiffe_id: 'spiffe://acme.test/ml/app' });
  });

  it('a referrer pushed by tag is kept by digest, and the tag points at it (with its subject, or without)', async () => {
    const name = 'ml/signed-tags';
    const bytes = payload(500);
    await upload(name, bytes);
    const image = imageOf(bytes);
    expect((await put(name, sha(image), image)).status).toBe(201);
    const sig = Buffer.from('{"sig":"x"}');
    await upload(name, sig);
    const referrerOf = (subject: string) =>
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/vnd.example.sig', config: EMPTY, layers: [{ mediaType: 'application/json', digest: sha(sig), size: sig.length }], subject: { mediaType: MANIFEST, digest: subject, size: image.length } }));
    const withSubject = referrerOf(sha(image));
    const put1 = await put(name, 'sig', withSubject);
    expect([put1.status, put1.headers['oci-subject'], put1.headers['docker-content-digest']]).toEqual([201, sha(image), sha(withSubject)]);
    const got = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/sig`);
    expect([got.headers['docker-content-digest'], got.body.equals(withSubject)]).toEqual([sha(withSubject), true]);
    expect(((await registryRequest(acme, app, 'GET', `/v2/${name}/referrers/${sha(image)}`)).json().manifests as Array<{ digest: string }>).map((m) => m.digest)).toEqual([sha(withSubject)]);

    const absent = `sha256:${'a'.repeat(64)}`;
    const withoutSubject = referrerOf(absent);
    expect((await put(name, 'early', withoutSubject)).status).toBe(201);
    const early = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/early`);
    expect([early.headers['docker-content-digest'], early.body.equals(withoutSubject)]).toEqual([sha(withoutSubject), true]);
    // A CID tag names its record: a referrer cannot take one.
    const cidTagged = await put(name, cidOf(bytes), referrerOf(sha(image)));
    expect([cidTagged.status, ociCode(cidTagged)]).toEqual([400, 'MANIFEST_INVALID']);
  });

  it('refuses a malformed tag (MANIFEST_INVALID on a push, MANIFEST_UNKNOWN on a read), another record\'s CID as a tag, and an unknown tag', async () => {
    const name = 'ml/bad-tags';
    const bytes = payload(100);
    await upload(name, bytes);
    const image = imageOf(bytes);
    for (const tag of ['.hidden', '-x', 'a'.repeat(129), 'v1%2Bb']) {
      const reply = await put(name, tag, image);
      expect([tag, reply.status, ociCode(reply)]).toEqual([tag, 400, 'MANIFEST_INVALID']);
      const read = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/${tag}`);
      expect([tag, read.status, ociCode(read)]).toEqual([tag, 404, 'MANIFEST_UNKNOWN']);
    }
    const other = await put(name, cidOf(Buffer.from('not this one')), image);
    expect([other.status, ociCode(other)]).toEqual([400, 'MANIFEST_INVALID']);
    const unknown = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/nope`);
    expect([unknown.status, ociCode(unknown)]).toEqual([404, 'MANIFEST_UNKNOWN']);
    expect(Number((await db.query('SELECT count(*) AS n FROM registry_tags WHERE namespace = $1', [name]))[0].n)).toBe(0);
  });

  it('a record deleted over gRPC takes its tags with it: the tag is then MANIFEST_UNKNOWN, not listed', async () => {
    const name = 'ml/deleted';
    const bytes = payload(700);
    await upload(name, bytes);
    const image = imageOf(bytes, { kept: 'as pushed' });
    expect((await put(name, 'v1', image)).status).toBe(201);
    const client = await workloadClient(acme, '/ml/owner', acme);
    try {
      await client.delete(cidOf(bytes));
    } finally {
      client.close();
    }
    expect(await db.query('SELECT tag FROM registry_tags WHERE namespace = $1', [name])).toEqual([]);
    const gone = await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/v1`);
    expect([gone.status, ociCode(gone)]).toEqual([404, 'MANIFEST_UNKNOWN']);
    expect((await registryRequest(acme, app, 'GET', `/v2/${name}/tags/list`)).json().tags).toEqual([]);
  });

  it('caps the named tags of a namespace (registry.maxTags): a new tag beyond is refused (403 DENIED), an existing one still moves', async () => {
    const name = 'ml/capped';
    const bytes = payload(100);
    await upload(name, bytes);
    const image = imageOf(bytes);
    for (let i = 0; i < MAX_TAGS; i++) expect((await put(name, `t${i}`, image)).status).toBe(201);
    const over = await put(name, 'one-more', image);
    expect([over.status, ociCode(over)]).toEqual([403, 'DENIED']);
    expect(over.json().errors).toEqual([expect.objectContaining({ message: expect.stringContaining(`more than the maximum of ${MAX_TAGS} named tags (registry.maxTags)`) })]);
    expect((await put(name, 't0', image)).status).toBe(201);
    expect((await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/one-more`)).status).toBe(404);
  });

  it('lets only callers allowed to Push move a tag: a federated caller is refused (403 DENIED), the tag unchanged', async () => {
    const name = 'ml/guarded';
    const bytes = payload(100);
    await upload(name, bytes);
    const image = imageOf(bytes);
    expect((await put(name, 'v1', image)).status).toBe(201);
    const outsider = await issueSvid(partner, '/parley/gateway');
    const refused = await put(name, 'v1', imageOf(bytes, { moved: 'by an outsider' }), outsider);
    expect([refused.status, ociCode(refused)]).toEqual([403, 'DENIED']);
    const fresh = await put(name, 'v2', image, outsider);
    expect([fresh.status, ociCode(fresh)]).toEqual([403, 'DENIED']);
    expect((await registryRequest(acme, app, 'GET', `/v2/${name}/manifests/v1`)).body.equals(image)).toBe(true);
    expect((await db.query('SELECT tag FROM registry_tags WHERE namespace = $1', [name])).map((r: { tag: string }) => r.tag)).toEqual(['v1']);
  });
});
