/** The allowlists admin API and CLI over real mTLS against an in-process gateway. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AllowlistDto } from '../../../src/admin/allowlists.dto';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { adminCliFlags, cliInProcess as cli } from '../../support/admin-cli';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { AllowlistStore } from '../../../src/authz';

jest.setTimeout(60_000);

const ADMIN_ID = 'spiffe://acme.test/parley/admin';

describe('admin API and CLI: allowlists', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let dir: string;
  let cliFlags: string[];

  const api = (method: string, path: string, body?: unknown, who: Creds = admin, raw?: string) => adminRequest(gw, ca, who, method, path, { json: body, raw });
  const list = async (): Promise<AllowlistDto[]> => {
    const res = await api('GET', '/v1/allowlists');
    expect(res.status).toBe(200);
    return (JSON.parse(res.body) as { allowlists: AllowlistDto[] }).allowlists;
  };
  const creds = (id: string): Promise<Creds> => issueCreds(ca, id);
  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    admin = await creds(ADMIN_ID);
    dir = mkdtempSync(join(tmpdir(), 'parley-allowlist-cli-'));
    cliFlags = await adminCliFlags(gw, join(dir, 'admin'), admin);
  });
  afterAll(async () => {
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sets, reads, replaces and removes a trust domain allowlist; the gateway enforces each state', async () => {
    const allowlists = gw.gateway.get(AllowlistStore);
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
    const set = await cli(['admin', 'allowlist', 'set', 'partner.test', '192.0.2.0/24', '2001:db8::/32', ...cliFlags]);
    expect(set).toEqual({ code: 0, stdout: 'allowlist created: partner.test  192.0.2.0/24 2001:db8::/32\n', stderr: '' });
    expect(gw.gateway.get(AllowlistStore).deniedReason('partner.test', '198.51.100.1')).toBeDefined();

    const listed = await cli(['admin', 'allowlist', 'list', '--json', ...cliFlags]);
    expect((JSON.parse(listed.stdout) as AllowlistDto[]).map((a) => [a.trustDomain, a.cidrs])).toEqual([['partner.test', ['192.0.2.0/24', '2001:db8::/32']]]);
    expect((await cli(['admin', 'allowlist', 'list', ...cliFlags])).stdout).toBe('partner.test  192.0.2.0/24 2001:db8::/32\n');

    const bad = await cli(['admin', 'allowlist', 'set', 'partner.test', '192.0.2.1/24', ...cliFlags]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cidrs\[0\]: address has bits set beyond the prefix length/);

    expect(await cli(['admin', 'allowlist', 'rm', 'partner.test', ...cliFlags])).toEqual({ code: 0, stdout: '', stderr: 'allowlist of partner.test removed\n' });
    expect(gw.gateway.get(AllowlistStore).deniedReason('partner.test', '198.51.100.1')).toBeUndefined();
    expect((await cli(['admin', 'allowlist', 'rm', 'partner.test', ...cliFlags])).code).toBe(1);
  });
});

