/**
 * `parley dev issue --p12`, run as the real binary: the PKCS#12 it writes opens with the real
 * `openssl pkcs12` under the password given (flag or PARLEY_P12_PASSWORD) and under no other,
 * holds the key and a certificate whose SAN URI is the SPIFFE ID; the password is never
 * printed unless the command made it up, and then once on stderr.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli-process';

jest.setTimeout(120_000);

const ID = 'spiffe://parley.local/parley/admin';

function openssl(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('parley dev issue --p12', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-p12-'));
  chmodSync(cwd, 0o755);
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('openssl is here', () => {
    expect(execFileSync('openssl', ['version'], { encoding: 'utf8' })).toMatch(/^OpenSSL 3\./);
  });

  it('writes DIR/svid.p12 under PARLEY_P12_PASSWORD: openssl verifies it, extracts the SVID (SAN URI = the SPIFFE ID) and its key; the password is never printed', async () => {
    const out = join(cwd, 'admin');
    const password = 'correct horse battery staple';
    const run = await runCli(['dev', 'issue', '--id', ID, '--out', out, '--p12'], cwd, 60_000, { PARLEY_P12_PASSWORD: password });
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(run.stdout).not.toContain(password);
    const file = join(out, 'svid.p12');
    expect(run.stdout).toContain(`  ${file}  (PKCS#12: key and chain, for a browser)\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const info = openssl(['pkcs12', '-info', '-noout', '-in', file, '-passin', `pass:${password}`]);
    expect(info.code).toBe(0);
    expect(info.stderr).toContain('MAC: sha256');
    expect(info.stderr).toContain('Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC');
    expect(openssl(['pkcs12', '-info', '-noout', '-in', file, '-passin', 'pass:wrong']).code).not.toBe(0);

    const certPem = openssl(['pkcs12', '-in', file, '-passin', `pass:${password}`, '-nokeys', '-clcerts']).stdout;
    const cert = new X509Certificate(certPem);
    expect(cert.subjectAltName).toBe(`URI:${ID}`);
    expect(cert.fingerprint256).toBe(new X509Certificate(readFileSync(join(out, 'svid.pem'))).fingerprint256);
    expect(run.stdout).toContain(`  sha-256:     ${cert.fingerprint256}\n`);
    expect(run.stdout).toContain(`  spiffe id:   ${ID}\n`);
    const keyPem = openssl(['pkcs12', '-in', file, '-passin', `pass:${password}`, '-nocerts', '-nodes']).stdout;
    const pub = (pem: string, args: string[]) => spawnSync('openssl', args, { input: pem, encoding: 'utf8' }).stdout;
    expect(pub(keyPem, ['pkey', '-pubout'])).toBe(pub(certPem, ['x509', '-noout', '-pubkey']));
  });

  it('--p12 FILE --p12-password: that file and that password', async () => {
    const file = join(cwd, 'browser.p12');
    const run = await runCli(['dev', 'issue', '--id', 'spiffe://parley.local/ns/ops/alice', '--out', join(cwd, 'alice'), '--p12', file, '--p12-password', 'pässwörd'], cwd);
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(run.stdout).not.toContain('pässwörd');
    expect(openssl(['pkcs12', '-info', '-noout', '-in', file, '-passin', 'pass:pässwörd']).code).toBe(0);
  });

  it('without a password: a random one, printed once on stderr with the file it opens', async () => {
    const out = join(cwd, 'generated');
    const run = await runCli(['dev', 'issue', '--id', ID, '--out', out, '--p12'], cwd);
    expect(run.code).toBe(0);
    const m = /^PKCS#12 password of (\S+) \(shown once, stored nowhere\): (\S+)\n$/.exec(run.stderr);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(join(out, 'svid.p12'));
    expect(run.stdout).not.toContain(m![2]);
    expect(openssl(['pkcs12', '-info', '-noout', '-in', m![1]!, '-passin', `pass:${m![2]}`]).code).toBe(0);
  });

  it('--p12-password without --p12, or an empty password, is a usage error', async () => {
    const lone = await runCli(['dev', 'issue', '--id', ID, '--out', join(cwd, 'x'), '--p12-password', 'pw'], cwd);
    expect(lone.code).not.toBe(0);
    expect(lone.stderr).toContain('--p12-password: only with --p12');
    const empty = await runCli(['dev', 'issue', '--id', ID, '--out', join(cwd, 'y'), '--p12'], cwd, 60_000, { PARLEY_P12_PASSWORD: '' });
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain('must not be empty');
  });
});
