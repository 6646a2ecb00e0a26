import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentId } from '../../../src/store/domain/content-id';
import { freePort, waitFor } from '../../support/ports';
import { runParley, runParleyToEnd, stopAllParley, waitForReady, type ParleyProcess } from '../../support/parley-process';
import { createTestDatabase } from '../../support/pg';
import { runCli, startCli } from './cli-process';
import { sha256File } from '../../support/random-file';

jest.setTimeout(180_000);

const MiB = 1024 * 1024;
const BIG = 64 * MiB;

describe('parley store commands against a real gateway', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-store-cli-'));
  chmodSync(cwd, 0o755);
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let gateway: ParleyProcess;
  let server: string;
  let id: string[];
  let bigFile: string;
  let bigDigest: string;
  let bigCid: string;

  beforeAll(async () => {
    db = await createTestDatabase('cli');
    const [grpcPort, opsPort] = [await freePort(), await freePort()];
    gateway = runParley(['serve'], { cwd, env: { DATABASE_URL: db.url, PARLEY_GRPC_PORT: String(grpcPort), PARLEY_OPS_PORT: String(opsPort) } });
    await waitForReady(`http://127.0.0.1:${opsPort}`, 60_000, gateway);
    server = `127.0.0.1:${grpcPort}`;
    const issued = await runParleyToEnd(['dev', 'issue', '--id', 'spiffe://parley.local/ns/ml/sa/trainer', '--out', join(cwd, 'trainer')], { cwd, env: { DATABASE_URL: db.url } });
    expect(issued.code).toBe(0);
    id = ['--server', server, '--svid', join(cwd, 'trainer/svid.pem'), '--key', join(cwd, 'trainer/svid.key'), '--bundle', join(cwd, 'trainer/bundle.pem')];
    bigFile = join(cwd, 'big.bin');
    writeFileSync(bigFile, randomBytes(BIG));
    bigDigest = await sha256File(bigFile);
  });

  afterAll(async () => {
    await gateway?.stop('SIGINT');
    await stopAllParley();
    await db?.drop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('push --quiet prints only the CID; pull writes the same 64 MiB and leaves no partial file', async () => {
    const push = await runCli(['push', bigFile, '--namespace', 'ml/llama-3/weights', '-a', 'org.example.title=big', '--quiet', ...id], cwd);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/^bafkrei[a-z2-7]+\n$/);
    bigCid = push.stdout.trim();
    expect(bigCid).toBe(ContentId.parseDigest(`sha256:${bigDigest}`).toString());

    const out = join(cwd, 'pulled.bin');
    const pull = await runCli(['pull', bigCid, '-o', out, ...id], cwd);
    expect(pull.stderr).toMatch(/^pulled 64\.0 MiB in /);
    expect(pull.code).toBe(0);
    expect(pull.stdout).toBe('');
    expect(await sha256File(out)).toBe(bigDigest);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });

  it('without --quiet on a non-TTY: the CID alone on stdout, one summary line (no bar) on stderr', async () => {
    const small = join(cwd, 'small.json');
    writeFileSync(small, JSON.stringify({ lr: 0.001, seed: Date.now() }));
    const push = await runCli(['push', small, '-n', 'ml/configs', '--media-type', 'application/json', ...id], cwd);
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/^bafkrei[a-z2-7]+\n$/);
    expect(push.stderr).toMatch(/^pushed \d+ B in \d+:\d\d \(.*\/s\)\n$/);
    expect(push.stderr).not.toContain('\r');
  });

  it('a push of bytes stored before says "already stored" and what it kept: the record keeps its first namespace and annotations', async () => {
    const file = join(cwd, 'shared.bin');
    writeFileSync(file, `shared bytes ${Date.now()}`);
    const first = await runCli(['push', file, '-n', 'team-a', '-a', 'stage=prod', '-a', 'owner=ml', ...id], cwd);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/^pushed \d+ B in /);
    const cid = first.stdout.trim();

    const elsewhere = await runCli(['push', file, '-n', 'team-b', '-a', 'stage=dev', ...id], cwd);
    expect(elsewhere.code).toBe(0);
    expect(elsewhere.stdout).toBe(`${cid}\n`);
    expect(elsewhere.stderr).toBe("already stored (namespace team-a, 2 annotations kept; this push's namespace team-b and annotations were not applied)\n");
    // Said even with --quiet: this push's metadata was not applied.
    const quiet = await runCli(['push', file, '-n', 'team-b', '-q', ...id], cwd);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe(`${cid}\n`);
    expect(quiet.stderr).toBe("already stored (namespace team-a, 2 annotations kept; this push's namespace team-b was not applied)\n");

    const same = await runCli(['push', file, '-n', 'team-a', '-a', 'owner=ml', '-a', 'stage=prod', ...id], cwd);
    expect(same.code).toBe(0);
    expect(same.stdout).toBe(`${cid}\n`);
    expect(same.stderr).toBe('already stored (namespace team-a, 2 annotations)\n');
    const sameQuiet = await runCli(['push', file, '-n', 'team-a', '-q', ...id], cwd);
    expect(sameQuiet.stderr).toBe('');
    expect(sameQuiet.stdout).toBe(`${cid}\n`);

    // One record, where its first push put it.
    const look = await runCli(['lookup', cid, '--json', ...id], cwd);
    expect(JSON.parse(look.stdout)).toEqual([expect.objectContaining({ cid, namespace: 'team-a', annotations: { stage: 'prod', owner: 'ml' } })]);
    const listed = await runCli(['list', '-n', 'team-b', '--json', ...id], cwd);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  it('pull resumes from a truncated .partial and ends with the right digest', async () => {
    const out = join(cwd, 'resumed.bin');
    const keep = 20 * MiB + 123;
    writeFileSync(`${out}.partial`, readFileSync(bigFile).subarray(0, keep));
    const pull = await runCli(['pull', bigCid, '-o', out, ...id], cwd);
    expect(pull.code).toBe(0);
    expect(pull.stderr).toContain(`resuming ${out}.partial from byte ${keep} of ${BIG}`);
    expect(await sha256File(out)).toBe(bigDigest);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });

  it('a pull killed mid-transfer resumes when run again', async () => {
    const out = join(cwd, 'killed.bin');
    const first = startCli(['pull', bigCid, '-o', out, '-q', ...id], cwd);
    await waitFor(() => existsSync(`${out}.partial`) && statSync(`${out}.partial`).size >= 2 * MiB, 60_000, 1);
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const partial = statSync(`${out}.partial`).size;
    expect(partial).toBeGreaterThanOrEqual(2 * MiB);
    expect(partial).toBeLessThan(BIG);
    expect(existsSync(out)).toBe(false);

    const again = await runCli(['pull', bigCid, '-o', out, ...id], cwd);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`resuming ${out}.partial from byte ${partial} of ${BIG}`);
    expect(await sha256File(out)).toBe(bigDigest);
  });

  it('a .partial that does not match: digest mismatch, the partial is deleted, exit code 1; a rerun succeeds', async () => {
    const out = join(cwd, 'corrupt.bin');
    writeFileSync(`${out}.partial`, Buffer.alloc(MiB));
    const bad = await runCli(['pull', bigCid, '-o', out, '-q', ...id], cwd);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^parley: pull: digest mismatch: .* the partial file was deleted\n$/);
    expect(existsSync(`${out}.partial`)).toBe(false);
    expect(existsSync(out)).toBe(false);
    const good = await runCli(['pull', bigCid, '-o', out, '-q', ...id], cwd);
    expect(good.code).toBe(0);
    expect(good.stderr).toBe('');
    expect(await sha256File(out)).toBe(bigDigest);
  });

  it('pull of an unknown CID: one NOT_FOUND line, exit code 1, no file', async () => {
    const unknown = ContentId.of(randomBytes(64)).toString();
    const out = join(cwd, 'unknown.bin');
    const pull = await runCli(['pull', unknown, '-o', out, ...id], cwd);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toMatch(/^parley: NOT_FOUND: .+\n$/);
    expect(pull.stderr).toContain(unknown);
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);
  });

  it('bad identity files give one clear line without key material', async () => {
    const small = join(cwd, 'id-test.txt');
    writeFileSync(small, 'x');
    const missing = await runCli(['push', small, '-n', 'x', ...id.map((a) => (a.endsWith('svid.pem') ? join(cwd, 'nope.pem') : a))], cwd);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe(`parley: --svid: cannot read ${join(cwd, 'nope.pem')}: no such file\n`);

    // The key file swapped for the bundle: no private key in it.
    const noKey = await runCli(['push', small, '-n', 'x', ...id.map((a) => (a.endsWith('svid.key') ? join(cwd, 'trainer/bundle.pem') : a))], cwd);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/^parley: --svid\/--key: .*no private key found\n$/);

    // The certificate file swapped for the key: the key's PEM never reaches the output.
    const keyAsCert = await runCli(['push', small, '-n', 'x', ...id.map((a) => (a.endsWith('svid.pem') ? join(cwd, 'trainer/svid.key') : a))], cwd);
    expect(keyAsCert.code).toBe(1);
    expect(keyAsCert.stderr).toMatch(/^parley: --svid\/--key: .*no certificates found\n$/);
    expect(keyAsCert.stderr + keyAsCert.stdout).not.toMatch(/PRIVATE KEY|MII/);

    const incomplete = await runCli(['push', small, '-n', 'x', '--server', server, '--svid', join(cwd, 'trainer/svid.pem')], cwd);
    expect(incomplete.code).toBe(1);
    expect(incomplete.stderr).toBe('parley: --svid, --key and --bundle go together (missing --key, --bundle); or give --identity DIR\n');

    const none = await runCli(['push', small, '-n', 'x', '--server', server], cwd);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^parley: no client identity: /);
  });

  it('a gateway that is not the expected --server-id is refused', async () => {
    const run = await runCli(['lookup', bigCid, ...id, '--server-id', 'spiffe://parley.local/not/the-gateway'], cwd);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^parley: UNAVAILABLE: .*not the expected spiffe:\/\/parley\.local\/not\/the-gateway/);
  });

  it('lookup, list (following pages) and delete', async () => {
    const look = await runCli(['lookup', bigCid, '--json', ...id], cwd);
    expect(look.code).toBe(0);
    const [rec] = JSON.parse(look.stdout) as Array<Record<string, unknown>>;
    expect(rec).toMatchObject({
      cid: bigCid,
      namespace: 'ml/llama-3/weights',
      size: BIG,
      mediaType: 'application/octet-stream',
      annotations: { 'org.example.title': 'big' },
      creatorSpiffeId: 'spiffe://parley.local/ns/ml/sa/trainer',
    });

    const pushed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const f = join(cwd, `page-${i}.txt`);
      writeFileSync(f, `page ${i} ${Date.now()}`);
      const p = await runCli(['push', f, '-n', 'cli/pages', '-q', ...id], cwd);
      expect(p.code).toBe(0);
      pushed.push(p.stdout.trim());
    }
    // --limit 2 reads one page of 2; --page-size 1 makes the listing of all three follow three pages.
    const two = await runCli(['list', '-n', 'cli/pages', '--limit', '2', '--json', ...id], cwd);
    expect(two.code).toBe(0);
    expect((JSON.parse(two.stdout) as Array<{ cid: string }>).map((r) => r.cid)).toEqual(pushed.slice(0, 2));
    const all = await runCli(['list', '-n', 'cli', '--recursive', '--page-size', '1', ...id], cwd);
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(pushed);
    const later = await runCli(['list', '--created-after', '2999-01-01T00:00:00Z', '--json', ...id], cwd);
    expect(JSON.parse(later.stdout)).toEqual([]);

    const del = await runCli(['delete', pushed[0], ...id], cwd);
    expect(del.code).toBe(0);
    expect(del.stderr).toBe(`deleted ${pushed[0]}\n`);
    const gone = await runCli(['lookup', pushed[0], ...id], cwd);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^parley: NOT_FOUND: /);
  });

  it('--help shows examples', async () => {
    for (const cmd of ['push', 'pull', 'lookup', 'list', 'delete']) {
      const help = await runCli([cmd, '--help'], cwd);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Examples:');
      expect(help.stdout).toContain('--workload-api');
    }
  });
});
