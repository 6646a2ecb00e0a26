/**
 * The first hour with the CLI, run as the real `parley` binary against a real gateway: one
 * identity flag, failures that say what to do, `parley doctor`, pull's destination checked
 * before the transfer, `dev issue`'s summary.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCreds, type Creds } from '../../support/admin-api';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { freePort } from '../../support/ports';
import { runParleyToEnd } from '../../support/parley-process';
import { TestCa } from '../../support/test-ca';
import { runCli } from './cli-process';

jest.setTimeout(120_000);

function writeIdentity(dir: string, creds: Creds, bundlePem: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'svid.pem'), creds.certPem);
  writeFileSync(join(dir, 'svid.key'), creds.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'bundle.pem'), bundlePem);
  return dir;
}

const NO_STACK = /\n\s+at .+\(.+:\d+:\d+\)/;

describe('the first hour with the parley CLI', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-first-hour-'));
  chmodSync(cwd, 0o755);
  let gw: TestGateway;
  let grpc: string;
  let admin: string;
  let trainer: string;
  let bundlePem: string;
  let other: TestCa;

  beforeAll(async () => {
    gw = await startTestGateway();
    grpc = `127.0.0.1:${gw.gateway.listeners.grpc!.port}`;
    admin = `127.0.0.1:${gw.gateway.listeners.admin!.port}`;
    const ca = await devCaOf(gw);
    bundlePem = ca.bundlePem();
    trainer = writeIdentity(join(cwd, 'trainer'), await issueCreds(ca, 'spiffe://acme.test/ns/ml/sa/trainer'), bundlePem);
    other = await TestCa.create({ trustDomain: 'other.test' });
  });

  afterAll(async () => {
    await gw?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('--identity DIR and PARLEY_IDENTITY replace the three file flags', async () => {
    const file = join(cwd, 'cfg.json');
    writeFileSync(file, '{"lr":0.1}');
    const push = await runCli(['push', file, '-n', 'ml/configs', '--quiet', '--server', grpc, '--identity', trainer], cwd);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    const cid = push.stdout.trim();
    const lookup = await runCli(['lookup', cid, '--server', grpc], cwd, undefined, { PARLEY_IDENTITY: trainer });
    expect(lookup.stderr).toBe('');
    expect(lookup.code).toBe(0);
    expect(lookup.stdout).toContain(cid);

    // --allow-missing: exit 0, the unknown CID named on stderr, --json an array of what was found.
    const unknown = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku';
    const some = await runCli(['lookup', cid, unknown, '--allow-missing', '--json', '--server', grpc, '--identity', trainer], cwd);
    expect(some.stderr).toBe(`parley: not found: ${unknown}\n`);
    expect(some.code).toBe(0);
    expect((JSON.parse(some.stdout) as Array<{ cid: string }>).map((r) => r.cid)).toEqual([cid]);
  });

  it('an expired own SVID is refused before connecting, saying when it expired and how to get a new one', async () => {
    const ca = await TestCa.create({ trustDomain: 'acme.test' });
    const expired = await ca.issueSvid({ id: 'spiffe://acme.test/ns/ml/sa/trainer', notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) });
    const dir = writeIdentity(join(cwd, 'expired'), { certPem: expired.certPem, keyPem: expired.keyPem }, bundlePem);
    // Nothing listens on this port: a client that connected first would report ECONNREFUSED.
    const run = await runCli(['lookup', 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', '--server', `127.0.0.1:${await freePort()}`, '--identity', dir], cwd);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`parley: our SVID spiffe://acme.test/ns/ml/sa/trainer (--identity ${dir}) expired at ${new Date(expired.certificate.validTo).toISOString()}; issue a new one (parley dev issue --id spiffe://acme.test/ns/ml/sa/trainer --out DIR, or from your SPIRE server)\n`);
    const adminRun = await runCli(['admin', 'federation', 'list', '--server', admin, '--identity', dir], cwd);
    expect(adminRun.code).toBe(1);
    expect(adminRun.stderr).toContain('expired at');
  });

  it('a wrong --bundle names the file and where the right bundle is', async () => {
    const wrong = join(cwd, 'wrong-bundle.pem');
    writeFileSync(wrong, (await TestCa.create({ trustDomain: 'acme.test' })).certPem);
    const run = await runCli(['lookup', 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', '--server', grpc, '--identity', trainer, '--bundle', wrong], cwd);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`hint: the gateway's certificate does not verify with the trust bundle from --bundle ${wrong}`);
    const adminRun = await runCli(['admin', 'federation', 'list', '--server', admin, '--identity', trainer, '--bundle', wrong], cwd);
    expect(adminRun.code).toBe(1);
    expect(adminRun.stderr).toContain(`hint: the gateway's certificate does not verify with the trust bundle from --bundle ${wrong}`);
  });

  it("a partner's workload without --server-trust-domain is told the flag; with it, the gateway's alert is explained", async () => {
    const partner = await other.issueSvid({ id: 'spiffe://other.test/ns/ml/sa/puller' });
    const dir = writeIdentity(join(cwd, 'partner'), { certPem: partner.certPem, keyPem: partner.keyPem }, bundlePem);
    const cid = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku';
    const noFlag = await runCli(['lookup', cid, '--server', grpc, '--identity', dir], cwd);
    expect(noFlag.code).toBe(1);
    expect(noFlag.stderr).toContain('hint: the gateway at');
    expect(noFlag.stderr).toContain('belongs to trust domain acme.test, not ours (other.test)');
    expect(noFlag.stderr).toContain('add --server-trust-domain acme.test');
    const withFlag = await runCli(['lookup', cid, '--server', grpc, '--identity', dir, '--server-trust-domain', 'acme.test'], cwd);
    expect(withFlag.code).toBe(1);
    expect(withFlag.stderr).toContain('client certificate refused: unknown_ca');
    expect(withFlag.stderr).toContain('hint: TLS alert unknown_ca: the gateway holds no trust bundle that verifies our certificate: our trust domain is not federated there');
    expect(withFlag.stderr).toContain('parley admin federation add other.test');
  });

  it('a non-admin on the admin API is told its SPIFFE ID is not an administrator of this gateway', async () => {
    const run = await runCli(['admin', 'federation', 'list', '--server', admin, '--identity', trainer], cwd);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('hint: the gateway refused spiffe://acme.test/ns/ml/sa/trainer: it is not an administrator of this gateway (admin.admins, admin.roles)');
    expect(run.stderr).not.toMatch(NO_STACK);
  });

  it('pull -o DIR writes DIR/<cid>; an unwritable destination fails before the transfer, without a stack trace or a partial file', async () => {
    const file = join(cwd, 'weights.bin');
    writeFileSync(file, Buffer.alloc(300_000, 7));
    const push = await runCli(['push', file, '-n', 'ml/weights', '--quiet', '--server', grpc, '--identity', trainer], cwd);
    expect(push.code).toBe(0);
    const cid = push.stdout.trim();
    const outDir = join(cwd, 'downloads');
    mkdirSync(outDir);
    const intoDir = await runCli(['pull', cid, '-o', outDir, '-q', '--server', grpc, '--identity', trainer], cwd);
    expect(intoDir.stderr).toBe('');
    expect(intoDir.code).toBe(0);
    expect(readFileSync(join(outDir, cid))).toEqual(readFileSync(file));

    const missing = join(cwd, 'no-such-dir', 'w.bin');
    const bad = await runCli(['pull', cid, '-o', missing, '--server', grpc, '--identity', trainer], cwd);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`parley: pull: -o ${missing}: cannot write in ${join(cwd, 'no-such-dir')}: no such directory\n`);
    const underFile = join(file, 'w.bin');
    const notDir = await runCli(['pull', cid, '-o', underFile, '--server', grpc, '--identity', trainer], cwd);
    expect(notDir.code).toBe(1);
    expect(notDir.stderr).toMatch(/^parley: pull: -o .*: .* (is not a directory|a part of the path is not a directory)\n$/);
    expect(existsSync(`${underFile}.partial`)).toBe(false);
  });

  it('doctor: every check passes for a good identity (--json); an untrusted trust domain fails at admission and skips the rest', async () => {
    const ops = `http://127.0.0.1:${gw.gateway.listeners.ops!.port}`;
    const good = await runCli(['doctor', '--server', grpc, '--identity', trainer, '--ops', ops, '--json'], cwd);
    expect(good.stderr).toBe('');
    const report = JSON.parse(good.stdout) as { ok: boolean; checks: Array<{ name: string; status: string; facts?: Record<string, unknown> }> };
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['identity', 'ok'],
      ['reachable', 'ok'],
      ['server-identity', 'ok'],
      ['admission', 'ok'],
      ['store-lookup', 'ok'],
      ['readiness', 'ok'],
    ]);
    expect(report.checks[2].facts).toEqual({ serverId: 'spiffe://acme.test/parley/gateway' });
    expect(good.code).toBe(0);

    const partner = await other.issueSvid({ id: 'spiffe://other.test/ns/ml/sa/puller' });
    const dir = writeIdentity(join(cwd, 'partner-doctor'), { certPem: partner.certPem, keyPem: partner.keyPem }, bundlePem);
    const bad = await runCli(['doctor', '--server', grpc, '--identity', dir, '--server-trust-domain', 'acme.test'], cwd);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('[ok  ] own SVID: spiffe://other.test/ns/ml/sa/puller');
    expect(bad.stdout).toContain("[ok  ] gateway's SPIFFE ID: the gateway proved it is spiffe://acme.test/parley/gateway");
    expect(bad.stdout).toContain('[FAIL] gateway admits us: UNAUTHENTICATED: client certificate refused: unknown_ca');
    expect(bad.stdout).toContain('TLS alert unknown_ca');
    expect(bad.stdout).toContain('[skip] Store.Lookup allowed for us: not checked: "gateway admits us" failed');
    expect(bad.stdout).toContain('doctor: "gateway admits us" failed');

    const down = await runCli(['doctor', '--server', `127.0.0.1:${await freePort()}`, '--identity', trainer], cwd);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/\[FAIL\] gateway reachable: .*ECONNREFUSED/);
    expect(down.stdout).toContain(`       nothing answers at 127.0.0.1:`);
  });

  it('dev issue prints the SPIFFE ID, the expiry and the SHA-256 fingerprint of what it wrote', async () => {
    const out = join(cwd, 'issued');
    const run = await runParleyToEnd(['dev', 'issue', '--id', 'spiffe://parley.local/ns/ml/sa/trainer', '--out', out, '--ttl', '30m'], { cwd });
    expect(run.code).toBe(0);
    const fingerprint = new X509Certificate(readFileSync(join(out, 'svid.pem'))).fingerprint256;
    expect(run.output).toContain('  spiffe id:   spiffe://parley.local/ns/ml/sa/trainer\n');
    expect(run.output).toMatch(/ {2}expires: {5}\d{4}-\d\d-\d\dT[\d:.]+Z \(in (29m \d+s|30m 0s)\)\n/);
    expect(run.output).toContain(`  sha-256:     ${fingerprint}\n`);
    expect(run.output).toContain(`use it with: --identity ${out}`);
  });
});
