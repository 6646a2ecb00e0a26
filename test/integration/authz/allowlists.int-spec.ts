/** The allowlists admin API and CLI over real mTLS against an in-process gateway. */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../../src/cli/main';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId } from '../../../src/spiffe';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';

jest.setTimeout(60_000);

interface AllowlistJson {
  trustDomain: string;
  cidrs: string[];
  updatedBy: string;
  updatedAt: string;
}
interface Reply {
  status: number;
  contentType?: string;
  body: string;
}
interface Creds {
  certPem: string;
  keyPem: string;
}

const GATEWAY_ID = 'spiffe://acme.test/parley/gateway';
const ADMIN_ID = 'spiffe://acme.test/parley/admin';

describe('admin API and CLI: allowlists', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let dir: string;

  const api = (method: string, path: string, body?: unknown, who: Creds = admin, raw?: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
      const req = request(
        `https://127.0.0.1:${gw.gateway.admin!.port}${path}`,
        {
          method,
          ca: ca.bundlePem(),
          cert: who.certPem,
          key: who.keyPem,
          timeout: 5000,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          checkServerIdentity: (_h, cert) => (new X509Certificate(cert.raw).subjectAltName === `URI:${GATEWAY_ID}` ? undefined : new Error('unexpected server')),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: text }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(payload);
    });
  const list = async (): Promise<AllowlistJson[]> => {
    const res = await api('GET', '/v1/allowlists');
    expect(res.status).toBe(200);
    return (JSON.parse(res.body) as { allowlists: AllowlistJson[] }).allowlists;
  };
  const creds = async (id: string): Promise<Creds> => {
    const issued = await ca.issue(requireSpiffeId(id));
    return { certPem: issued.certPem, keyPem: issued.keyPem };
  };
  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    admin = await creds(ADMIN_ID);
    dir = mkdtempSync(join(tmpdir(), 'parley-allowlist-cli-'));
    mkdirSync(join(dir, 'admin'));
    writeFileSync(join(dir, 'admin/svid.pem'), admin.certPem);
    writeFileSync(join(dir, 'admin/svid.key'), admin.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'admin/bundle.pem'), ca.bundlePem());
  });
  afterAll(async () => {
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sets, reads, replaces and removes a trust domain allowlist; the gateway enforces each state', async () => {
    const allowlists = gw.gateway.allowlists;
    expect(allowlists.deniedReason('partner.test', '203.0.113.9')).toBeUndefined();
    const put = await api('PUT', '/v1/allowlists/partner.test', { cidrs: ['192.0.2.0/24', '2001:db8::/32'] });
    expect(put.status).toBe(201);
    expect(JSON.parse(put.body)).toEqual({ trustDomain: 'partner.test', cidrs: ['192.0.2.0/24', '2001:db8::/32'], updatedBy: ADMIN_ID, updatedAt: expect.any(String) });
    expect(allowlists.deniedReason('partner.test', '203.0.113.9')).toBe('source address 203.0.113.9 is not in the allowlist of trust domain partner.test');
    expect(allowlists.deniedReason('partner.test', '::ffff:192.0.2.44')).toBeUndefined();
    expect(allowlists.deniedReason('partner.test', 'not-an-ip')).toBeDefined();
    expect(allowlists.deniedReason('acme.test', '203.0.113.9')).toBeUndefined();

    const got = await api('GET', '/v1/allowlists/partner.test');
    expect([got.status, JSON.parse(got.body).cidrs]).toEqual([200, ['192.0.2.0/24', '2001:db8::/32']]);
    expect((await list()).map((a) => a.trustDomain)).toEqual(['partner.test']);

    const replaced = await api('PUT', '/v1/allowlists/partner.test', { cidrs: ['203.0.113.0/24'] });
    expect(replaced.status).toBe(200);
    expect(allowlists.deniedReason('partner.test', '203.0.113.9')).toBeUndefined();
    expect(allowlists.deniedReason('partner.test', '192.0.2.44')).toBeDefined();

    expect((await api('DELETE', '/v1/allowlists/partner.test')).status).toBe(204);
    expect(allowlists.deniedReason('partner.test', '192.0.2.44')).toBeUndefined();
    expect((await api('GET', '/v1/allowlists/partner.test')).status).toBe(404);
    expect((await api('DELETE', '/v1/allowlists/partner.test')).status).toBe(404);
  });

  it.each<[string, string, unknown, string[]]>([
    ['a block with host bits set', 'partner.test', { cidrs: ['192.0.2.0/24', '10.1.2.3/8'] }, ['cidrs[1]']],
    ['a prefix beyond the family', 'partner.test', { cidrs: ['192.0.2.0/33'] }, ['cidrs[0]']],
    ['a non-address', 'partner.test', { cidrs: ['192.0.2.0/24', '2001:db8::/32', 'intranet'] }, ['cidrs[2]']],
    ['a non-string block', 'partner.test', { cidrs: [42] }, ['cidrs[0]']],
    ['a missing list', 'partner.test', {}, ['cidrs']],
    ['a list that is a string', 'partner.test', { cidrs: '192.0.2.0/24' }, ['cidrs']],
    ['an unknown field', 'partner.test', { cidrs: [], mode: 'deny' }, ['mode']],
    ['an uppercase trust domain', 'Partner.Test', { cidrs: ['192.0.2.0/24'] }, ['trustDomain']],
    ['a SPIFFE ID instead of a trust domain', encodeURIComponent('spiffe://partner.test'), { cidrs: ['192.0.2.0/24'] }, ['trustDomain']],
    ['a bad trust domain and a bad block', 'bad%20td', { cidrs: ['x'] }, ['trustDomain', 'cidrs[0]']],
  ])('refuses %s with 400 problem+json naming the field, and stores nothing', async (_what, td, body, fields) => {
    const res = await api('PUT', `/v1/allowlists/${td}`, body);
    expect(res.status).toBe(400);
    expect(res.contentType).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(res.body) as { code: string; errors: Array<{ field: string }> };
    expect(problem.code).toBe('invalid_argument');
    expect(problem.errors.map((e) => e.field)).toEqual(fields);
    expect(await list()).toEqual([]);
  });

  it('refuses an invalid trust domain on GET and DELETE (400), and non-admins (403)', async () => {
    expect((await api('GET', '/v1/allowlists/Partner.Test')).status).toBe(400);
    expect((await api('DELETE', '/v1/allowlists/Partner.Test')).status).toBe(400);
    const workload = await creds('spiffe://acme.test/ns/ml/sa/trainer');
    expect((await api('PUT', '/v1/allowlists/partner.test', { cidrs: ['0.0.0.0/0'] }, workload)).status).toBe(403);
    expect((await api('GET', '/v1/allowlists', undefined, workload)).status).toBe(403);
    expect(await list()).toEqual([]);
  });

  it('parley admin allowlist set / list / rm', async () => {
    const id = ['--server', `127.0.0.1:${gw.gateway.admin!.port}`, '--svid', join(dir, 'admin/svid.pem'), '--key', join(dir, 'admin/svid.key'), '--bundle', join(dir, 'admin/bundle.pem')];
    const set = await cli(['admin', 'allowlist', 'set', 'partner.test', '192.0.2.0/24', '2001:db8::/32', ...id]);
    expect(set).toEqual({ code: 0, stdout: 'allowlist created: partner.test  192.0.2.0/24 2001:db8::/32\n', stderr: '' });
    expect(gw.gateway.allowlists.deniedReason('partner.test', '198.51.100.1')).toBeDefined();

    const listed = await cli(['admin', 'allowlist', 'list', '--json', ...id]);
    expect((JSON.parse(listed.stdout) as AllowlistJson[]).map((a) => [a.trustDomain, a.cidrs])).toEqual([['partner.test', ['192.0.2.0/24', '2001:db8::/32']]]);
    expect((await cli(['admin', 'allowlist', 'list', ...id])).stdout).toBe('partner.test  192.0.2.0/24 2001:db8::/32\n');

    const bad = await cli(['admin', 'allowlist', 'set', 'partner.test', '192.0.2.1/24', ...id]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cidrs\[0\]: address has bits set beyond the prefix length/);

    expect(await cli(['admin', 'allowlist', 'rm', 'partner.test', ...id])).toEqual({ code: 0, stdout: '', stderr: 'allowlist of partner.test removed\n' });
    expect(gw.gateway.allowlists.deniedReason('partner.test', '198.51.100.1')).toBeUndefined();
    expect((await cli(['admin', 'allowlist', 'rm', 'partner.test', ...id])).code).toBe(1);
  });
});

/** Runs the CLI in this process, capturing its output and exit code. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(['node', 'parley', ...args]);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout, stderr };
}
