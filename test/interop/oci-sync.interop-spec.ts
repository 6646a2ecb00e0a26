import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContentId } from '../../src/store';
import { freePort, waitFor } from '../support/ports';
import { runParleyToEnd } from '../support/parley-process';
import { DOCKER_REGISTRY, DOCKER_REGISTRY_VERSION, htpasswd, registryTls, startDockerRegistry, type RegistryTls, type RunningRegistry } from './support/docker-registry';
import { startGateway, type Gateway, type Svid } from './support/gateway';
import { peer, run } from './support/peers';

interface SyncJson {
  syncId: string;
  status: string;
  failureReason: string;
  message: string;
  counters: Record<string, number>;
  attempt: number;
  source?: Record<string, unknown>;
}

const USER = 'reader';
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const WRONG = `wrong-${randomBytes(12).toString('hex')}`;

/**
 * Syncs from a real OCI registry: Debian's docker-registry (distribution 2.8) with TLS of a
 * self-signed CA and htpasswd basic auth, and another anonymous on plain http (loopback,
 * `--insecure`). oras pushes an artifact and attaches a signature (distribution 2.8 has no
 * referrers API: oras uses the referrers tag schema, and so does the sync); `parley sync
 * create --from-oci` copies them into a gateway, where parley pulls the payload and oras
 * pulls the artifact and discovers the signature through the registry face, byte for byte.
 */
describe('sync from an OCI registry (docker-registry)', () => {
  let gw: Gateway;
  let client: Svid;
  let tls: RegistryTls;
  let secured: RunningRegistry;
  let open: RunningRegistry;
  let work: string;
  let facePort: number;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const cidOf = (b: Buffer) => ContentId.fromSha256(createHash('sha256').update(b).digest()).toString();
  const id = () => ['--server', `localhost:${gw.grpcPort}`, '--svid', client.cert, '--key', client.key, '--bundle', client.bundle];
  const parley = async (args: string[], timeoutMs = 120_000) => {
    const r = await runParleyToEnd([...args, ...id()], { cwd: work, timeoutMs });
    return { code: r.code, stdout: r.output };
  };
  const oras = (args: string[], env: Record<string, string> = {}) => run(peer('oras'), args, { timeoutMs: 120_000, cwd: work, env: { ...process.env, HOME: work, ...env } });

  beforeAll(async () => {
    facePort = await freePort();
    gw = await startGateway({ identity: { devCa: { dnsNames: ['localhost'] } }, registry: { enabled: true, host: '127.0.0.1', port: facePort }, sync: { pollInterval: 200, retry: { initialBackoff: 500, maxBackoff: 2000, maxAttempts: 30 } } });
    client = await gw.issue('spiffe://parley.local/ns/interop/oci');
    work = join(gw.dir, 'oci');
    mkdirSync(work);
    tls = await registryTls(join(work, 'tls'));
    await htpasswd(join(work, 'htpasswd'), USER, PASSWORD);
    writeFileSync(join(work, 'password'), `${PASSWORD}\n`);
    writeFileSync(join(work, 'wrong'), `${WRONG}\n`);
    secured = await startDockerRegistry({ dir: join(work, 'secured'), port: await freePort(), tls, htpasswdFile: join(work, 'htpasswd') });
    open = await startDockerRegistry({ dir: join(work, 'open'), port: await freePort() });
  });
  afterAll(async () => {
    await secured?.stop();
    await open?.stop();
    await gw?.stop();
  });

  const watch = async (syncId: string, until: (s: SyncJson) => boolean, timeoutMs = 120_000): Promise<SyncJson> =>
    waitFor(async () => {
      const shown = await parley(['sync', 'show', syncId, '--json']);
      const s = JSON.parse(shown.stdout) as SyncJson;
      return until(s) ? s : undefined;
    }, timeoutMs, 500);

  it(`is docker-registry ${DOCKER_REGISTRY_VERSION}`, async () => {
    expect(existsSync(DOCKER_REGISTRY)).toBe(true);
    expect((await run(DOCKER_REGISTRY, ['--version'])).stdout).toContain(DOCKER_REGISTRY_VERSION);
  });

  it('copies an artifact pushed with oras and its signature (basic auth, TLS of its own CA); both read back byte-identical through Parley', async () => {
    const bytes = randomBytes(3_000_000);
    writeFileSync(join(work, 'weights.bin'), bytes);
    writeFileSync(join(work, 'sig.json'), '{"signature":"oci-sync"}');
    const auth = ['--ca-file', tls.caFile, '--username', USER, '--password', PASSWORD];
    const ref = `${secured.host}/models/llama:v1`;
    const pushed = await oras(['push', ...auth, '--artifact-type', 'application/vnd.example.model', ref, 'weights.bin:application/x-model']);
    expect(pushed).toMatchObject({ code: 0 });
    const manifestDigest = /Digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
    const attached = await oras(['attach', ...auth, '--artifact-type', 'application/vnd.example.signature', ref, 'sig.json:application/json']);
    expect(attached).toMatchObject({ code: 0 });
    const sigDigest = /Digest: (sha256:[0-9a-f]{64})/.exec(attached.stdout)?.[1];

    const created = await parley(['sync', 'create', '--from-oci', `${secured.url}/models/llama`, '--username', USER, '--password-file', join(work, 'password'), '--ca', tls.caFile, '--into', 'interop/mirror', '--json']);
    expect([created.code, created.stdout]).toEqual([0, expect.stringMatching(/^\{/)]);
    const sync = JSON.parse(created.stdout) as SyncJson;
    expect(sync.source).toEqual({ kind: 'oci', url: secured.url, repository: 'models/llama', tags: [], auth: 'basic', username: USER, secret: '***', customCa: true, insecure: false });
    const done = await watch(sync.syncId, (s) => s.status === 'COMPLETED' || s.status === 'FAILED');
    expect(done).toMatchObject({ status: 'COMPLETED', counters: { discovered: 1, transferred: 1, failed: 0, bytes: bytes.length } });
    expect(done.message).toContain('no referrers API');

    const cid = cidOf(bytes);
    const pulled = await parley(['pull', cid, '-o', 'pulled.bin']);
    expect(pulled.code).toBe(0);
    expect(readFileSync(join(work, 'pulled.bin')).equals(bytes)).toBe(true);

    // Through the registry face: the manifest oras pushed (same digest), its payload, and the signature as a referrer.
    // oras dials localhost in plain HTTP unless told otherwise.
    const certs = ['--plain-http=false', '--ca-file', client.bundle, '--cert-file', client.cert, '--key-file', client.key];
    const face = `localhost:${facePort}/interop/mirror@${manifestDigest}`;
    const facePulled = await oras(['pull', ...certs, '-o', 'face-pull', face]);
    expect(facePulled.code === 0 ? 0 : `exit ${facePulled.code}: ${facePulled.stderr}`).toBe(0);
    expect(readFileSync(join(work, 'face-pull', 'weights.bin')).equals(bytes)).toBe(true);
    const discovered = await oras(['discover', ...certs, '--format', 'json', face]);
    expect(discovered.code === 0 ? 0 : `exit ${discovered.code}: ${discovered.stderr}`).toBe(0);
    const tree = JSON.parse(discovered.stdout) as { referrers?: Array<{ digest: string; artifactType: string }>; manifests?: Array<{ digest: string; artifactType: string }> };
    expect(tree.referrers ?? tree.manifests).toEqual([expect.objectContaining({ digest: sigDigest, artifactType: 'application/vnd.example.signature' })]);
    const sigPulled = await oras(['pull', ...certs, '-o', 'face-sig', `localhost:${facePort}/interop/mirror@${sigDigest}`]);
    expect(sigPulled.code === 0 ? 0 : `exit ${sigPulled.code}: ${sigPulled.stderr}`).toBe(0);
    expect(readFileSync(join(work, 'face-sig', 'sig.json'), 'utf8')).toBe('{"signature":"oci-sync"}');
    expect(sha(readFileSync(join(work, 'face-pull', 'weights.bin')))).toBe(sha(bytes));
  });

  it('a wrong password fails the sync UNAUTHENTICATED; the password is in no output and not in the gateway log', async () => {
    const created = await parley(['sync', 'create', '--from-oci', `${secured.url}/models/llama`, '--username', USER, '--password-file', join(work, 'wrong'), '--ca', tls.caFile, '--into', 'interop/denied', '--json']);
    expect(created.code).toBe(0);
    const sync = JSON.parse(created.stdout) as SyncJson;
    const failed = await watch(sync.syncId, (s) => s.status === 'FAILED' || s.status === 'COMPLETED');
    expect(failed).toMatchObject({ status: 'FAILED', failureReason: 'UNAUTHENTICATED' });
    expect(failed.message).toContain('refused the credentials');
    const listed = await parley(['sync', 'list', '--json']);
    const shown = await parley(['sync', 'show', sync.syncId]);
    for (const text of [created.stdout, listed.stdout, shown.stdout, gw.proc.output()]) {
      expect(text).not.toContain(WRONG);
      expect(text).not.toContain(PASSWORD);
    }
    expect(shown.stdout).toContain('secret ***');
  });

  it('an untrusted registry certificate (no --ca) is UNREACHABLE with the reason, retried', async () => {
    const created = await parley(['sync', 'create', '--from-oci', `${secured.url}/models/llama`, '--username', USER, '--password-file', join(work, 'password'), '--into', 'interop/untrusted', '--json']);
    const sync = JSON.parse(created.stdout) as SyncJson;
    const retrying = await watch(sync.syncId, (s) => s.failureReason !== 'UNSPECIFIED');
    expect(retrying).toMatchObject({ failureReason: 'UNREACHABLE' });
    expect(retrying.message).toContain('certificate is not trusted');
    await parley(['sync', 'rm', sync.syncId]);
  });

  it('copies selected tags of an anonymous plain-http registry (--insecure, loopback only) and resumes after the registry went away mid-copy', async () => {
    const big = randomBytes(24 * 1024 * 1024);
    const small = randomBytes(100_000);
    writeFileSync(join(work, 'big.bin'), big);
    writeFileSync(join(work, 'small.bin'), small);
    expect(await oras(['push', '--plain-http', `${open.host}/data/sets:big`, 'big.bin:application/x-data'])).toMatchObject({ code: 0 });
    expect(await oras(['push', '--plain-http', `${open.host}/data/sets:small`, 'small.bin:application/x-data'])).toMatchObject({ code: 0 });
    expect(await oras(['push', '--plain-http', `${open.host}/data/sets:other`, 'sig.json:application/json'])).toMatchObject({ code: 0 });

    const refused = await parley(['sync', 'create', '--from-oci', `${open.url}/data/sets`, '--json']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('insecure');

    const created = await parley(['sync', 'create', '--from-oci', `${open.url}/data/sets`, '--insecure', '--tag', 'big', '--tag', 'small', '--into', 'interop/sets', '--json']);
    expect([created.code, created.stdout]).toEqual([0, expect.stringMatching(/^\{/)]);
    const sync = JSON.parse(created.stdout) as SyncJson;
    expect(sync.source).toMatchObject({ auth: 'anonymous', insecure: true, tags: ['big', 'small'] });
    expect(sync.source).not.toHaveProperty('secret');
    // The registry goes away once the copy has started; the sync retries (UNREACHABLE) and completes after it is back.
    await waitFor(async () => {
      const s = JSON.parse((await parley(['sync', 'show', sync.syncId, '--json'])).stdout) as SyncJson;
      return s.status === 'IN_PROGRESS' || s.status === 'COMPLETED' ? s : undefined;
    }, 60_000, 50);
    await open.stop();
    const retrying = await watch(sync.syncId, (s) => s.failureReason === 'UNREACHABLE' || s.status === 'COMPLETED');
    await open.start();
    const done = await watch(sync.syncId, (s) => s.status === 'COMPLETED' || s.status === 'FAILED', 180_000);
    expect(done).toMatchObject({ status: 'COMPLETED', failureReason: 'UNSPECIFIED' });
    if (retrying.status !== 'COMPLETED') expect(retrying).toMatchObject({ failureReason: 'UNREACHABLE' });
    for (const [name, bytes] of [['big', big], ['small', small]] as const) {
      const pulled = await parley(['pull', cidOf(bytes), '-o', `${name}.out`]);
      expect(pulled.code).toBe(0);
      expect(readFileSync(join(work, `${name}.out`)).equals(bytes)).toBe(true);
    }
    const other = await parley(['pull', cidOf(Buffer.from('{"signature":"oci-sync"}')), '-o', 'other.out']);
    expect(other.code).not.toBe(0);
  });
});
