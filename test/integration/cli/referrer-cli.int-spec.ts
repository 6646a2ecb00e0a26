import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireSpiffeId } from '../../../src/spiffe';
import { ContentId } from '../../../src/store/domain/content-id';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { cleanEnv } from '../../support/parley-process';
import { CLI_ENTRY } from './cli-process';

jest.setTimeout(120_000);

const SIGNER_ID = 'spiffe://acme.test/ns/ci/sa/signer';

/** Runs the built CLI; stdout kept as bytes (documents are binary). */
function cli(args: string[], cwd: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const env = cleanEnv();
  delete env.SPIFFE_ENDPOINT_SOCKET;
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    }),
  );
}

describe('parley referrer push|list|pull|delete against a real gateway', () => {
  let gw: TestGateway;
  let dir: string;
  let id: string[];
  let record: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-ref-cli-'));
    chmodSync(dir, 0o755);
    gw = await startTestGateway();
    const ca = await devCaOf(gw);
    const issued = await ca.issue(requireSpiffeId(SIGNER_ID));
    writeFileSync(join(dir, 'svid.pem'), issued.certPem);
    writeFileSync(join(dir, 'svid.key'), issued.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'bundle.pem'), ca.bundlePem());
    id = ['--server', `127.0.0.1:${gw.gateway.listeners.grpc!.port}`, '--svid', join(dir, 'svid.pem'), '--key', join(dir, 'svid.key'), '--bundle', join(dir, 'bundle.pem')];
    writeFileSync(join(dir, 'model.bin'), randomBytes(4096));
    const push = await cli(['push', join(dir, 'model.bin'), '-n', 'ml/signed', '--quiet', ...id], dir);
    expect(push.code).toBe(0);
    record = push.stdout.toString().trim();
  });

  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round trip: push two documents, list them, pull one to stdout and one to a file, delete one; pull after delete is not found', async () => {
    const sig = Buffer.from('{"sig":"MEUCIQ..."}');
    const att = randomBytes(200 * 1024);
    writeFileSync(join(dir, 'model.sig'), sig);
    writeFileSync(join(dir, 'att.bin'), att);

    const pushSig = await cli(['referrer', 'push', record, '--type', 'signature', '--file', join(dir, 'model.sig'), '--media-type', 'application/json', '-a', 'tool=cosign', ...id], dir);
    expect(pushSig.stderr).toBe('');
    expect(pushSig.code).toBe(0);
    const sigCid = ContentId.of(sig).toString();
    expect(pushSig.stdout.toString()).toBe(`${sigCid}\n`);
    const pushAtt = await cli(['referrer', 'push', record, '-t', 'attestation', '-f', join(dir, 'att.bin'), ...id], dir);
    expect(pushAtt.code).toBe(0);
    const attCid = ContentId.of(att).toString();
    expect(pushAtt.stdout.toString()).toBe(`${attCid}\n`);

    const list = await cli(['referrer', 'list', record, '--json', ...id], dir);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout.toString())).toEqual([
      { cid: sigCid, type: 'signature', mediaType: 'application/json', size: sig.length, annotations: { tool: 'cosign' }, creatorSpiffeId: SIGNER_ID, createdAt: expect.any(String) },
      { cid: attCid, type: 'attestation', mediaType: 'application/octet-stream', size: att.length, annotations: {}, creatorSpiffeId: SIGNER_ID, createdAt: expect.any(String) },
    ]);
    const text = await cli(['referrer', 'list', record, '--type', 'attestation', ...id], dir);
    expect(text.code).toBe(0);
    expect(text.stdout.toString()).toBe(`${attCid}  ${String(att.length).padStart(9)}  attestation  application/octet-stream\n`);

    const toStdout = await cli(['referrer', 'pull', record, sigCid, ...id], dir);
    expect(toStdout.stderr).toBe('');
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout.equals(sig)).toBe(true);
    const out = join(dir, 'att.pulled');
    const toFile = await cli(['referrer', 'pull', record, attCid, '-o', out, ...id], dir);
    expect(toFile.code).toBe(0);
    expect(toFile.stdout.length).toBe(0);
    expect(readFileSync(out).equals(att)).toBe(true);
    expect(existsSync(`${out}.partial`)).toBe(false);

    const del = await cli(['referrer', 'delete', record, sigCid, ...id], dir);
    expect(del.code).toBe(0);
    expect(del.stderr).toBe(`deleted referrer ${sigCid} of ${record}\n`);
    const gone = await cli(['referrer', 'pull', record, sigCid, ...id], dir);
    expect(gone.code).toBe(1);
    expect(gone.stdout.length).toBe(0);
    expect(gone.stderr).toBe(`parley: referrer pull: referrer ${sigCid} not found on record ${record}\n`);
    const again = await cli(['referrer', 'delete', record, sigCid, ...id], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^parley: NOT_FOUND: /);
    const left = await cli(['referrer', 'list', record, '--json', ...id], dir);
    expect(JSON.parse(left.stdout.toString()).map((r: { cid: string }) => r.cid)).toEqual([attCid]);
  });

  it('unknown record: not found; oversize document: the limit; malformed CID: refused before connecting', async () => {
    const unknown = ContentId.of(Buffer.from('no such record')).toString();
    writeFileSync(join(dir, 'small.sig'), 'sig');
    const push = await cli(['referrer', 'push', unknown, '-t', 'signature', '-f', join(dir, 'small.sig'), ...id], dir);
    expect(push.code).toBe(1);
    expect(push.stderr).toBe(`parley: NOT_FOUND: record ${unknown} not found\n`);
    const list = await cli(['referrer', 'list', unknown, ...id], dir);
    expect(list.code).toBe(1);
    expect(list.stderr).toBe(`parley: NOT_FOUND: record ${unknown} not found\n`);

    writeFileSync(join(dir, 'big.sig'), Buffer.alloc(1024 * 1024 + 1));
    const big = await cli(['referrer', 'push', record, '-t', 'signature', '-f', join(dir, 'big.sig'), ...id], dir);
    expect(big.code).toBe(1);
    expect(big.stderr).toBe('parley: RESOURCE_EXHAUSTED: push referrer: referrer.data: larger than 1048576 bytes\n');

    const bad = await cli(['referrer', 'pull', 'bafy-not-a-cid', unknown], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^parley: referrer pull: record-cid: /);
    const missingFile = await cli(['referrer', 'push', record, '-t', 'signature', '-f', join(dir, 'absent.sig')], dir);
    expect(missingFile.code).toBe(1);
    expect(missingFile.stderr).toBe(`parley: referrer push: --file: cannot read ${join(dir, 'absent.sig')}: no such file\n`);
  });

  it('--help shows examples', async () => {
    const help = await cli(['referrer', 'push', '--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout.toString()).toMatch(/Examples:\n {2}\$ parley referrer push bafkreih\.\.\. --type signature --file model\.sig/);
  });
});
