/** The revocations admin API and CLI over real mTLS against an in-process gateway. */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RevocationDto } from '../../../src/admin/revocations.dto';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId } from '../../../src/spiffe';
import type { PeerIdentity } from '../../../src/tls/peer-identity';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { adminCliFlags, cliInProcess as cli } from '../../support/admin-cli';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { RevocationStore } from '../../../src/authz';

jest.setTimeout(60_000);

const ADMIN_ID = 'spiffe://acme.test/parley/admin';

describe('admin API and CLI: revocations', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let dir: string;
  let cliFlags: string[];

  const api = (method: string, path: string, body?: unknown, who: Creds = admin, raw?: string) => adminRequest(gw, ca, who, method, path, { json: body, raw });
  const list = async (): Promise<RevocationDto[]> => {
    const res = await api('GET', '/v1/revocations');
    expect(res.status).toBe(200);
    return (JSON.parse(res.body) as { revocations: RevocationDto[] }).revocations;
  };
  const creds = (id: string): Promise<Creds> => issueCreds(ca, id);
  const peerOf = (c: Creds): PeerIdentity => {
    const cert = new X509Certificate(c.certPem);
    const id = requireSpiffeId(cert.subjectAltName!.slice('URI:'.length));
    return { id, spiffeId: id.toString(), trustDomain: id.trustDomain, fingerprint256: cert.fingerprint256, serial: cert.serialNumber, notAfter: new Date(cert.validTo), remoteAddress: '127.0.0.1', remotePort: 1 };
  };

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    admin = await creds(ADMIN_ID);
    dir = mkdtempSync(join(tmpdir(), 'parley-revoke-cli-'));
    cliFlags = await adminCliFlags(gw, join(dir, 'admin'), admin);
  });
  afterAll(async () => {
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('revokes a SPIFFE ID: 201, listed, enforced by the gateway, hook fired; DELETE lifts it', async () => {
    const trainer = peerOf(await creds('spiffe://acme.test/ns/ml/sa/trainer'));
    const hooked: boolean[] = [];
    const off = gw.gateway.get(RevocationStore).onRevoked((isRevoked) => hooked.push(isRevoked(trainer)));
    try {
      const res = await api('POST', '/v1/revocations', { spiffeId: 'spiffe://acme.test/ns/ml/sa/trainer', reason: 'laptop stolen', expiresAt: '2099-01-31T12:00:00Z' });
      expect(res.status).toBe(201);
      const created = JSON.parse(res.body) as RevocationDto;
      expect(created).toEqual({
        id: expect.stringMatching(/^[1-9][0-9]*$/),
        kind: 'spiffe_id',
        value: 'spiffe://acme.test/ns/ml/sa/trainer',
        reason: 'laptop stolen',
        createdBy: ADMIN_ID,
        createdAt: expect.any(String),
        expiresAt: '2099-01-31T12:00:00.000Z',
        active: true,
      });
      expect(gw.gateway.get(RevocationStore).revokedReason(trainer)).toBe('spiffe id spiffe://acme.test/ns/ml/sa/trainer is revoked (laptop stolen)');
      expect(hooked).toEqual([true]);
      expect((await list()).map((r) => r.id)).toContain(created.id);

      expect((await api('DELETE', `/v1/revocations/${created.id}`)).status).toBe(204);
      expect(gw.gateway.get(RevocationStore).isRevoked(trainer)).toBe(false);
      const again = await api('DELETE', `/v1/revocations/${created.id}`);
      expect([again.status, again.contentType]).toEqual([404, expect.stringMatching(/^application\/problem\+json/)]);
    } finally {
      off();
    }
  });

  it('revokes one certificate by fingerprint in any pasted form; revoking again replaces (200)', async () => {
    const leaked = peerOf(await creds('spiffe://acme.test/ns/ml/sa/pusher'));
    const renewed = peerOf(await creds('spiffe://acme.test/ns/ml/sa/pusher'));
    const first = await api('POST', '/v1/revocations', { fingerprint: leaked.fingerprint256 });
    expect(first.status).toBe(201);
    const body = JSON.parse(first.body) as RevocationDto;
    expect(body).toMatchObject({ kind: 'fingerprint', value: leaked.fingerprint256.split(':').join('').toLowerCase(), reason: '' });
    expect(gw.gateway.get(RevocationStore).isRevoked(leaked)).toBe(true);
    expect(gw.gateway.get(RevocationStore).isRevoked(renewed)).toBe(false);

    const second = await api('POST', '/v1/revocations', { fingerprint: body.value.toUpperCase(), reason: 'rotated' });
    expect(second.status).toBe(200);
    expect(JSON.parse(second.body)).toMatchObject({ id: body.id, reason: 'rotated' });
    expect((await list()).filter((r) => r.value === body.value)).toHaveLength(1);
  });

  it.each<[string, unknown, string[]]>([
    ['a malformed SPIFFE ID', { spiffeId: 'spiffe://acme.test/ns//x' }, ['spiffeId']],
    ['not a SPIFFE URI', { spiffeId: 'https://acme.test/ns/x' }, ['spiffeId']],
    ['a trust domain instead of a workload', { spiffeId: 'spiffe://acme.test' }, ['spiffeId']],
    ['a short fingerprint', { fingerprint: 'ab'.repeat(31) }, ['fingerprint']],
    ['a non-hex fingerprint', { fingerprint: 'zz'.repeat(32) }, ['fingerprint']],
    ['a SHA-1 fingerprint', { fingerprint: 'AB:'.repeat(19) + 'AB' }, ['fingerprint']],
    ['neither target', { reason: 'x' }, ['spiffeId']],
    ['both targets', { spiffeId: 'spiffe://acme.test/a', fingerprint: 'ab'.repeat(32) }, ['fingerprint']],
    ['an expiry in the past', { spiffeId: 'spiffe://acme.test/a', expiresAt: '2020-01-01T00:00:00Z' }, ['expiresAt']],
    ['an expiry that is no date', { spiffeId: 'spiffe://acme.test/a', expiresAt: 'tomorrow' }, ['expiresAt']],
    ['an impossible date', { spiffeId: 'spiffe://acme.test/a', expiresAt: '2099-02-30T00:00:00Z' }, ['expiresAt']],
    ['a non-string reason', { spiffeId: 'spiffe://acme.test/a', reason: 5 }, ['reason']],
    ['a reason with control characters', { spiffeId: 'spiffe://acme.test/a', reason: 'a\nb' }, ['reason']],
    ['an unknown field', { spiffeId: 'spiffe://acme.test/a', permanent: true }, ['permanent']],
    ['several problems at once', { spiffeId: 7, expiresAt: 1 }, ['spiffeId', 'expiresAt']],
    ['an array body', [], ['']],
  ])('refuses %s with 400 problem+json naming the field, and stores nothing', async (_what, body, fields) => {
    const before = await list();
    const res = await api('POST', '/v1/revocations', body);
    expect(res.status).toBe(400);
    expect(res.contentType).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(res.body) as { code: string; errors: Array<{ field: string; message: string }> };
    expect(problem.code).toBe('invalid_argument');
    expect(problem.errors.map((e) => e.field)).toEqual(fields);
    expect(await list()).toEqual(before);
  });

  it('refuses malformed JSON and a malformed id with 400 problem+json', async () => {
    const before = await list();
    const bad = await api('POST', '/v1/revocations', undefined, admin, '{"spiffeId": ');
    expect([bad.status, bad.contentType]).toEqual([400, expect.stringMatching(/^application\/problem\+json/)]);
    const id = await api('DELETE', '/v1/revocations/abc');
    expect(id.status).toBe(400);
    expect(JSON.parse(id.body).errors).toEqual([{ field: 'id', message: expect.any(String) }]);
    expect(await list()).toEqual(before);
  });

  it('refuses a workload that is not an admin (403), storing nothing', async () => {
    const before = await list();
    const workload = await creds('spiffe://acme.test/ns/ml/sa/trainer');
    for (const [method, path, body] of [
      ['GET', '/v1/revocations', undefined],
      ['POST', '/v1/revocations', { spiffeId: 'spiffe://acme.test/ns/ml/sa/other' }],
      ['DELETE', '/v1/revocations/1', undefined],
    ] as const) {
      expect([method, (await api(method, path, body, workload)).status]).toEqual([method, 403]);
    }
    expect(await list()).toEqual(before);
  });

  it('documents the revocation and allowlist routes with their permissions in OpenAPI', async () => {
    const doc = JSON.parse((await api('GET', '/openapi.json')).body) as { paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>> };
    const security = (path: string, method: string) => doc.paths[path]?.[method]?.security?.[0]?.['spiffe-mtls'];
    expect([
      security('/v1/revocations', 'get'),
      security('/v1/revocations', 'post'),
      security('/v1/revocations/{id}', 'delete'),
      security('/v1/allowlists', 'get'),
      security('/v1/allowlists/{trustDomain}', 'get'),
      security('/v1/allowlists/{trustDomain}', 'put'),
      security('/v1/allowlists/{trustDomain}', 'delete'),
    ]).toEqual([['revocations:read'], ['revocations:write'], ['revocations:write'], ['allowlists:read'], ['allowlists:read'], ['allowlists:write'], ['allowlists:write']]);
  });

  it('parley admin revoke / revocations list / revocations rm', async () => {
    const revoked = await cli(['admin', 'revoke', 'spiffe://acme.test/ns/ci/sa/runner', '--reason', 'decommissioned', '--json', ...cliFlags]);
    expect(revoked).toMatchObject({ code: 0, stderr: '' });
    const r = JSON.parse(revoked.stdout) as RevocationDto;
    expect(r).toMatchObject({ value: 'spiffe://acme.test/ns/ci/sa/runner', reason: 'decommissioned' });

    const fp = await cli(['admin', 'revoke', '--fingerprint', 'AB'.repeat(32), ...cliFlags]);
    expect(fp.code).toBe(0);
    expect(fp.stdout).toBe(`revoked: certificate ${'ab'.repeat(32)} (id ${Number(r.id) + 1})\n`);

    const listed = await cli(['admin', 'revocations', 'list', '--json', ...cliFlags]);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as RevocationDto[]).map((x) => x.value)).toEqual(expect.arrayContaining(['spiffe://acme.test/ns/ci/sa/runner', 'ab'.repeat(32)]));
    const text = await cli(['admin', 'revocations', 'list', ...cliFlags]);
    expect(text.stdout.split('\n').filter((l) => l.endsWith('spiffe://acme.test/ns/ci/sa/runner  "decommissioned"'))).toHaveLength(1);

    expect(await cli(['admin', 'revocations', 'rm', r.id, ...cliFlags])).toMatchObject({ code: 0, stderr: `revocation ${r.id} removed\n` });
    const gone = await cli(['admin', 'revocations', 'rm', r.id, ...cliFlags]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/Not found/);

    const bad = await cli(['admin', 'revoke', 'spiffe://acme.test/x', '--expires-at', 'soon', ...cliFlags]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/expiresAt: must be an RFC 3339 date-time/);
    const neither = await cli(['admin', 'revoke', ...cliFlags]);
    expect([neither.code, neither.stderr]).toEqual([1, 'parley: revoke: give either a SPIFFE ID or --fingerprint HEX\n']);
  });
});

