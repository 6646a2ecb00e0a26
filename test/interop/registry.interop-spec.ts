import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ContentId } from '../../src/store';
import { freePort } from '../support/ports';
import { runParleyToEnd } from '../support/parley-process';
import { startGateway, type Gateway, type Svid } from './support/gateway';
import { peer, run } from './support/peers';

/**
 * The registry face against real OCI tools: skopeo (Debian's, with its client certificate
 * from --src-cert-dir / --dest-cert-dir) copies a record out and an artifact in, and oras
 * (built from its pinned module) pushes, attaches a signature, discovers and pulls. Both
 * verify the gateway by host name (identity.devCa.dnsNames: localhost).
 */
describe('OCI tools against the registry face', () => {
  let gw: Gateway;
  let client: Svid;
  let port: number;
  let certDir: string;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const cidOf = (b: Buffer) => ContentId.fromSha256(createHash('sha256').update(b).digest()).toString();

  beforeAll(async () => {
    port = await freePort();
    gw = await startGateway({ identity: { devCa: { dnsNames: ['localhost'] } }, registry: { enabled: true, host: '127.0.0.1', port } });
    client = await gw.issue('spiffe://parley.local/ns/interop/oci');
    // The layout skopeo's cert dirs have: *.crt the CAs, a *.cert with its *.key the client.
    certDir = join(gw.dir, 'certs');
    mkdirSync(certDir);
    copyFileSync(client.bundle, join(certDir, 'ca.crt'));
    copyFileSync(client.cert, join(certDir, 'client.cert'));
    copyFileSync(client.key, join(certDir, 'client.key'));
  });
  afterAll(() => gw?.stop());

  const skopeo = (...args: string[]) => run('skopeo', args, { timeoutMs: 120_000 });
  const oras = (...args: string[]) =>
    run(peer('oras'), [...args, '--plain-http=false', '--ca-file', join(certDir, 'ca.crt'), '--cert-file', join(certDir, 'client.cert'), '--key-file', join(certDir, 'client.key')], {
      timeoutMs: 120_000,
      cwd: gw.dir,
      env: { ...process.env, HOME: gw.dir },
    });

  it('is skopeo 1.9.3', async () => {
    expect((await skopeo('--version')).stdout).toContain('skopeo version 1.9.3');
  });

  it('skopeo copies a record pushed with parley out, byte-identical', async () => {
    const bytes = randomBytes(1_500_000);
    writeFileSync(join(gw.dir, 'model.bin'), bytes);
    const pushed = await runParleyToEnd(['push', 'model.bin', '-n', 'interop/models', '--server', `localhost:${gw.grpcPort}`, '--svid', client.cert, '--key', client.key, '--bundle', client.bundle, '-q'], { cwd: gw.dir });
    expect(pushed.code).toBe(0);
    const cid = pushed.output.trim();
    expect(cid).toBe(cidOf(bytes));
    const out = join(gw.dir, 'out');
    const copied = await skopeo('copy', '--src-cert-dir', certDir, `docker://localhost:${port}/interop/models:${cid}`, `oci:${out}:model`);
    expect(copied).toMatchObject({ code: 0 });
    expect(readFileSync(join(out, 'blobs/sha256', sha(bytes))).equals(bytes)).toBe(true);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(out, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    expect(manifest).toMatchObject({ artifactType: 'application/vnd.parley.record.v1', layers: [{ digest: `sha256:${sha(bytes)}`, size: bytes.length }] });
  });

  it('skopeo copies an artifact in and back out: payload and manifest byte-identical, the payload a record', async () => {
    const layout = join(gw.dir, 'in');
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    const bytes = randomBytes(2_500_000);
    const empty = Buffer.from('{}');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.example.model',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${sha(empty)}`, size: 2 },
        layers: [{ mediaType: 'application/x-model', digest: `sha256:${sha(bytes)}`, size: bytes.length, annotations: { 'org.opencontainers.image.title': 'in.bin' } }],
      }),
    );
    for (const b of [bytes, empty, manifest]) writeFileSync(join(layout, 'blobs/sha256', sha(b)), b);
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha(manifest)}`, size: manifest.length }] }));
    const cid = cidOf(bytes);
    expect(await skopeo('copy', '--dest-cert-dir', certDir, `oci:${layout}`, `docker://localhost:${port}/interop/in:${cid}`)).toMatchObject({ code: 0 });
    const back = join(gw.dir, 'back');
    expect(await skopeo('copy', '--src-cert-dir', certDir, `docker://localhost:${port}/interop/in@sha256:${sha(manifest)}`, `oci:${back}:x`)).toMatchObject({ code: 0 });
    expect(readFileSync(join(back, 'blobs/sha256', sha(manifest))).equals(manifest)).toBe(true);
    expect(readFileSync(join(back, 'blobs/sha256', sha(bytes))).equals(bytes)).toBe(true);
    const pulled = await runParleyToEnd(['pull', cid, '-o', 'pulled.bin', '--server', `localhost:${gw.grpcPort}`, '--svid', client.cert, '--key', client.key, '--bundle', client.bundle], { cwd: gw.dir });
    expect(pulled.code).toBe(0);
    expect(readFileSync(join(gw.dir, 'pulled.bin')).equals(bytes)).toBe(true);
  });

  it('oras pushes (tag = CID), attaches a signature, discovers it and pulls both byte-identical', async () => {
    const bytes = randomBytes(800_000);
    writeFileSync(join(gw.dir, 'weights.bin'), bytes);
    writeFileSync(join(gw.dir, 'sig.json'), '{"signature":"interop"}');
    const ref = `localhost:${port}/interop/oras:${cidOf(bytes)}`;
    expect(await oras('push', '--artifact-type', 'application/vnd.example.model', ref, 'weights.bin:application/x-model')).toMatchObject({ code: 0 });
    const attached = await oras('attach', '--artifact-type', 'application/vnd.example.signature', ref, 'sig.json:application/json');
    expect(attached).toMatchObject({ code: 0 });
    const sigDigest = /Digest: (sha256:[0-9a-f]{64})/.exec(attached.stdout)?.[1];
    const discovered = await oras('discover', '--format', 'json', ref);
    expect(discovered).toMatchObject({ code: 0 });
    const tree = JSON.parse(discovered.stdout) as { referrers?: Array<{ digest: string; artifactType: string }>; manifests?: Array<{ digest: string; artifactType: string }> };
    expect(tree.referrers ?? tree.manifests).toEqual([expect.objectContaining({ digest: sigDigest, artifactType: 'application/vnd.example.signature' })]);
    expect(await oras('pull', '-o', 'pulled-oras', ref)).toMatchObject({ code: 0 });
    expect(readFileSync(join(gw.dir, 'pulled-oras', 'weights.bin')).equals(bytes)).toBe(true);
    expect(await oras('pull', '-o', 'pulled-sig', `localhost:${port}/interop/oras@${sigDigest}`)).toMatchObject({ code: 0 });
    expect(readdirSync(join(gw.dir, 'pulled-sig'))).toEqual(['sig.json']);
    expect(readFileSync(join(gw.dir, 'pulled-sig', 'sig.json'), 'utf8')).toBe('{"signature":"interop"}');
  });

  it('oras pushes by a human tag (:v1), moves it with a second push, and lists and pulls by it; skopeo copies out by :v1 and in by :latest', async () => {
    const first = randomBytes(300_000);
    const second = randomBytes(200_000);
    writeFileSync(join(gw.dir, 'v1-first.bin'), first);
    writeFileSync(join(gw.dir, 'v1-second.bin'), second);
    const repo = `localhost:${port}/interop/tagged`;
    expect(await oras('push', '--artifact-type', 'application/vnd.example.model', `${repo}:v1`, 'v1-first.bin:application/x-model')).toMatchObject({ code: 0 });
    expect(await oras('pull', '-o', 'tagged-first', `${repo}:v1`)).toMatchObject({ code: 0 });
    expect(readFileSync(join(gw.dir, 'tagged-first', 'v1-first.bin')).equals(first)).toBe(true);
    const moved = await oras('push', '--artifact-type', 'application/vnd.example.model', `${repo}:v1`, 'v1-second.bin:application/x-model');
    expect(moved).toMatchObject({ code: 0 });
    const movedDigest = /Digest: (sha256:[0-9a-f]{64})/.exec(moved.stdout)?.[1];
    expect(await oras('pull', '-o', 'tagged-second', `${repo}:v1`)).toMatchObject({ code: 0 });
    expect(readdirSync(join(gw.dir, 'tagged-second'))).toEqual(['v1-second.bin']);
    expect(readFileSync(join(gw.dir, 'tagged-second', 'v1-second.bin')).equals(second)).toBe(true);
    const resolved = await oras('resolve', `${repo}:v1`);
    expect([resolved.code, resolved.stdout.trim()]).toEqual([0, movedDigest]);
    const tags = await oras('repo', 'tags', repo);
    expect(tags.stdout.trim().split('\n')).toEqual([cidOf(first), cidOf(second), 'v1'].sort());

    const out = join(gw.dir, 'tagged-out');
    expect(await skopeo('copy', '--src-cert-dir', certDir, `docker://${repo}:v1`, `oci:${out}:v1`)).toMatchObject({ code: 0 });
    expect(readFileSync(join(out, 'blobs/sha256', sha(second))).equals(second)).toBe(true);
    expect(readFileSync(join(out, 'blobs/sha256', movedDigest!.slice(7))).length).toBeGreaterThan(0);
    expect(await skopeo('copy', '--dest-cert-dir', certDir, `oci:${out}:v1`, `docker://${repo}:latest`)).toMatchObject({ code: 0 });
    const latest = await oras('resolve', `${repo}:latest`);
    expect([latest.code, latest.stdout.trim()]).toEqual([0, movedDigest]);
  });

  it('skopeo copies an image of two layers and a two-platform index in and back out (--all), byte-identical; skopeo delete removes the index', async () => {
    const layout = join(gw.dir, 'multi-in');
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    const blob = (b: Buffer) => {
      writeFileSync(join(layout, 'blobs/sha256', sha(b)), b);
      return b;
    };
    const desc = (mediaType: string, b: Buffer, extra: Record<string, unknown> = {}) => ({ mediaType, digest: `sha256:${sha(b)}`, size: b.length, ...extra });
    const image = (arch: string) => {
      // Gzipped layers (skopeo compresses an uncompressed layer on its way to a registry, which would change the digests).
      const layers = [blob(gzipSync(randomBytes(400_000))), blob(gzipSync(randomBytes(90_000)))];
      const config = blob(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(gunzipSync(l))}`) } })));
      const manifest = blob(
        Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: desc('application/vnd.oci.image.config.v1+json', config), layers: layers.map((l) => desc('application/vnd.oci.image.layer.v1.tar+gzip', l)) })),
      );
      return { manifest, layers, config, arch };
    };
    const images = [image('amd64'), image('arm64')];
    const index = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: images.map((i) => desc('application/vnd.oci.image.manifest.v1+json', i.manifest, { platform: { os: 'linux', architecture: i.arch } })) })));
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...desc('application/vnd.oci.image.index.v1+json', index), annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
    const repo = `localhost:${port}/interop/multi`;
    expect(await skopeo('copy', '--all', '--dest-cert-dir', certDir, `oci:${layout}:multi`, `docker://${repo}:multi`)).toMatchObject({ code: 0 });
    const back = join(gw.dir, 'multi-back');
    expect(await skopeo('copy', '--all', '--src-cert-dir', certDir, `docker://${repo}:multi`, `oci:${back}:multi`)).toMatchObject({ code: 0 });
    for (const b of [index, ...images.flatMap((i) => [i.manifest, i.config, ...i.layers])]) expect(readFileSync(join(back, 'blobs/sha256', sha(b))).equals(b)).toBe(true);
    // One platform's image alone, by its digest.
    const single = join(gw.dir, 'multi-single');
    expect(await skopeo('copy', '--src-cert-dir', certDir, `docker://${repo}@sha256:${sha(images[1].manifest)}`, `oci:${single}:arm64`)).toMatchObject({ code: 0 });
    expect(readFileSync(join(single, 'blobs/sha256', sha(images[1].layers[0]))).equals(images[1].layers[0])).toBe(true);
    // Each layer is a record of its own, pulled over gRPC.
    const pulled = await runParleyToEnd(['pull', cidOf(images[0].layers[1]), '-o', 'layer.bin', '--server', `localhost:${gw.grpcPort}`, '--svid', client.cert, '--key', client.key, '--bundle', client.bundle], { cwd: gw.dir });
    expect(pulled.code).toBe(0);
    expect(readFileSync(join(gw.dir, 'layer.bin')).equals(images[0].layers[1])).toBe(true);
    expect(await skopeo('delete', '--cert-dir', certDir, `docker://${repo}:multi`)).toMatchObject({ code: 0 });
    const gone = await skopeo('inspect', '--raw', '--cert-dir', certDir, `docker://${repo}@sha256:${sha(index)}`);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/manifest unknown|not found/i);
  });

  it('oras pushes two files as one artifact (two layers), pulls both byte-identical, and deletes it (oras manifest delete)', async () => {
    const a = randomBytes(250_000);
    const b = randomBytes(120_000);
    writeFileSync(join(gw.dir, 'shard-1.bin'), a);
    writeFileSync(join(gw.dir, 'shard-2.bin'), b);
    const ref = `localhost:${port}/interop/shards:v1`;
    const pushed = await oras('push', '--artifact-type', 'application/vnd.example.model', ref, 'shard-1.bin:application/x-model', 'shard-2.bin:application/x-model');
    expect(pushed).toMatchObject({ code: 0 });
    expect(await oras('pull', '-o', 'shards', ref)).toMatchObject({ code: 0 });
    expect(readdirSync(join(gw.dir, 'shards')).sort()).toEqual(['shard-1.bin', 'shard-2.bin']);
    expect(readFileSync(join(gw.dir, 'shards', 'shard-1.bin')).equals(a)).toBe(true);
    expect(readFileSync(join(gw.dir, 'shards', 'shard-2.bin')).equals(b)).toBe(true);
    expect(await oras('manifest', 'delete', '--force', ref)).toMatchObject({ code: 0 });
    const gone = await oras('resolve', ref);
    expect(gone.code).not.toBe(0);
  });
});
