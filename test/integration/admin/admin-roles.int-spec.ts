/**
 * Admin roles on a real gateway (real PostgreSQL, real mTLS): `admin.roles` binds viewer,
 * operator and security by exact SPIFFE ID or by path prefix, `admin.admins` still means
 * admin; a caller lacking a permission gets 403 naming it and its roles; every admin action,
 * allowed or refused, is in the audit trail with who did it; the real `parley` binary shows
 * the refusal with a hint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { AuditWriter, type AuditEntryJson } from '../../../src/authz';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { adminCliFlags } from '../../support/admin-cli';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { runCli } from '../cli/cli-process';

jest.setTimeout(120_000);

const ADMIN = 'spiffe://acme.test/parley/admin';
const VIEWER = 'spiffe://acme.test/ops/viewer';
const OPERATOR = 'spiffe://acme.test/ops/operator';
const SECURITY = 'spiffe://acme.test/sec/alice';
/** Holds operator through the prefix spiffe://acme.test/ops/oncall. */
const ONCALL = 'spiffe://acme.test/ops/oncall/bob';
const NOBODY = 'spiffe://acme.test/ops/oncallx';

const ROLES = `[
  {role: viewer, spiffeIds: [${VIEWER}]},
  {role: operator, spiffeIds: [${OPERATOR}], spiffeIdPrefixes: [spiffe://acme.test/ops/oncall]},
  {role: security, spiffeIds: [${SECURITY}]}
]`;
const PULL = '/parley.store.v1.StoreService/Pull';
const rule = (id: string) => ({ id, effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [PULL] });

interface Answer {
  status: number;
  json: Record<string, unknown> & { detail?: string; code?: string };
}

describe('admin roles', () => {
  let gw: TestGateway;
  let ca: DevCa;
  const creds = new Map<string, Creds>();
  const dir = mkdtempSync(join(tmpdir(), 'parley-roles-'));

  beforeAll(async () => {
    gw = await startTestGateway({ PARLEY_ADMIN_ADMINS: `[${ADMIN}]`, PARLEY_ADMIN_ROLES: ROLES });
    ca = await devCaOf(gw);
    for (const id of [ADMIN, VIEWER, OPERATOR, SECURITY, ONCALL, NOBODY]) creds.set(id, await issueCreds(ca, id));
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function as(who: string, method: string, path: string, json?: unknown): Promise<Answer> {
    const res = await adminRequest(gw, ca, creds.get(who)!, method, path, json === undefined ? {} : { json });
    return { status: res.status, json: res.body === '' ? {} : (JSON.parse(res.body) as Answer['json']) };
  }

  async function auditOf(who: string): Promise<AuditEntryJson[]> {
    await gw.gateway.get(AuditWriter).flush();
    const res = await as(ADMIN, 'GET', `/v1/audit?spiffeId=${encodeURIComponent(who)}&pageSize=100`);
    expect(res.status).toBe(200);
    return res.json.entries as AuditEntryJson[];
  }

  it('a viewer reads policies but gets 403 naming the permission and its role on POST /v1/policies and POST /v1/revocations', async () => {
    expect((await as(VIEWER, 'GET', '/v1/policies')).status).toBe(200);
    expect((await as(VIEWER, 'GET', '/v1/audit')).status).toBe(200);
    const policy = await as(VIEWER, 'POST', '/v1/policies', rule('viewer-rule'));
    expect(policy).toEqual({ status: 403, json: expect.objectContaining({ code: 'permission_denied', detail: `${VIEWER} lacks policies:write (holds role viewer)` }) });
    const revoke = await as(VIEWER, 'POST', '/v1/revocations', { spiffeId: 'spiffe://acme.test/ns/x' });
    expect(revoke.status).toBe(403);
    expect(revoke.json.detail).toBe(`${VIEWER} lacks revocations:write (holds role viewer)`);
    expect(((await as(ADMIN, 'GET', '/v1/policies')).json.rules as Array<{ id: string }>).map((r) => r.id)).not.toContain('viewer-rule');
    expect(((await as(ADMIN, 'GET', '/v1/revocations')).json.revocations as unknown[]).length).toBe(0);
  });

  it('an operator adds a federation but not a policy', async () => {
    expect((await as(OPERATOR, 'POST', '/v1/federations', { trustDomain: 'partner.test', profile: 'static' })).status).toBe(201);
    const policy = await as(OPERATOR, 'POST', '/v1/policies', rule('operator-rule'));
    expect([policy.status, policy.json.detail]).toEqual([403, `${OPERATOR} lacks policies:write (holds role operator)`]);
  });

  it('a security ID revokes but cannot add a federation', async () => {
    expect((await as(SECURITY, 'POST', '/v1/revocations', { spiffeId: 'spiffe://acme.test/ns/leaked' })).status).toBe(201);
    const federation = await as(SECURITY, 'POST', '/v1/federations', { trustDomain: 'other.test', profile: 'static' });
    expect([federation.status, federation.json.detail]).toEqual([403, `${SECURITY} lacks federations:write (holds role security)`]);
    expect((await as(SECURITY, 'POST', '/v1/policies', rule('security-rule'))).status).toBe(201);
  });

  it('refreshing a federation needs federations:write in both spellings, /refresh and :refresh, and is audited as sent', async () => {
    for (const path of ['/v1/federations/partner.test/refresh', '/v1/federations/partner.test:refresh']) {
      const refused = await as(SECURITY, 'POST', path);
      expect([path, refused.status, refused.json.detail]).toEqual([path, 403, `${SECURITY} lacks federations:write (holds role security)`]);
      // partner.test is static (created above): nothing to fetch.
      expect([path, (await as(OPERATOR, 'POST', path)).status]).toEqual([path, 412]);
    }
    for (const path of ['/v1/federations/nobody.test/refresh', '/v1/federations/nobody.test:refresh']) {
      const missing = await as(OPERATOR, 'POST', path);
      expect([path, missing.status, missing.json.code]).toEqual([path, 404, 'not_found']);
    }
    const operator = await auditOf(OPERATOR);
    for (const action of ['POST /v1/federations/partner.test/refresh', 'POST /v1/federations/partner.test:refresh']) {
      expect(operator.find((e) => e.method === action)).toMatchObject({ decision: 'allow', rule: 'admin-role:operator', reason: 'federations:write granted by role operator (holds role operator); answered 412' });
    }
    expect((await auditOf(SECURITY)).find((e) => e.method === 'POST /v1/federations/partner.test/refresh')).toMatchObject({ decision: 'deny', reason: expect.stringContaining('lacks federations:write') });
  });

  it('an ID below a prefix holds its role; one that only shares the text of the prefix holds none and learns nothing', async () => {
    expect((await as(ONCALL, 'POST', '/v1/federations', { trustDomain: 'oncall.test', profile: 'static' })).status).toBe(201);
    expect((await as(ONCALL, 'POST', '/v1/revocations', { spiffeId: 'spiffe://acme.test/ns/y' })).json.detail).toBe(`${ONCALL} lacks revocations:write (holds role operator)`);
    const nobody = await as(NOBODY, 'GET', '/v1/policies');
    expect([nobody.status, nobody.json.detail]).toEqual([403, 'permission denied']);
  });

  it('GET /v1/identity reports the caller with its roles and permissions; admin.admins is still admin', async () => {
    const viewer = (await as(VIEWER, 'GET', '/v1/identity')).json.caller as { spiffeId: string; roles: string[]; permissions: string[] };
    expect(viewer).toMatchObject({ spiffeId: VIEWER, roles: ['viewer'] });
    expect(viewer.permissions).toContain('policies:read');
    expect(viewer.permissions.every((p) => p.endsWith(':read'))).toBe(true);
    const admin = (await as(ADMIN, 'GET', '/v1/identity')).json.caller as { roles: string[]; permissions: string[] };
    expect(admin.roles).toEqual(['admin']);
    expect(admin.permissions).toContain('syncs:write');
  });

  it('every admin action, allowed or refused, is audited with the caller, the action, its role and the answer', async () => {
    const viewer = await auditOf(VIEWER);
    expect(viewer.map((e) => [e.method, e.decision])).toEqual(expect.arrayContaining([['POST /v1/policies', 'deny'], ['POST /v1/revocations', 'deny']]));
    expect(viewer.some((e) => e.method.startsWith('GET '))).toBe(false);
    expect(viewer.find((e) => e.method === 'POST /v1/policies')).toMatchObject({
      spiffeId: VIEWER,
      trustDomain: 'acme.test',
      sourceAddress: '127.0.0.1',
      rule: null,
      reason: `no_permission: ${VIEWER} lacks policies:write (holds role viewer); answered 403`,
    });
    await gw.gateway.get(AuditWriter).flush();
    const byAction = await as(ADMIN, 'GET', `/v1/audit?method=${encodeURIComponent('POST /v1/policies')}&decision=deny&pageSize=100`);
    expect(new Set((byAction.json.entries as AuditEntryJson[]).map((e) => e.spiffeId))).toEqual(new Set([VIEWER, OPERATOR]));
    const operator = await auditOf(OPERATOR);
    expect(operator.find((e) => e.method === 'POST /v1/federations')).toMatchObject({ decision: 'allow', rule: 'admin-role:operator', reason: 'federations:write granted by role operator (holds role operator); answered 201' });
    const security = await auditOf(SECURITY);
    expect(security.find((e) => e.method === 'POST /v1/revocations')).toMatchObject({ decision: 'allow', rule: 'admin-role:security' });
    expect(security.find((e) => e.method === 'POST /v1/federations')).toMatchObject({ decision: 'deny' });
    const oncall = await auditOf(ONCALL);
    expect(oncall.find((e) => e.method === 'POST /v1/federations')).toMatchObject({ decision: 'allow', rule: 'admin-role:operator', reason: expect.stringContaining('answered 201') });
    // Refused at the gate (no role at all): still audited as the caller it is.
    await as(NOBODY, 'DELETE', '/v1/policies/security-rule');
    expect((await auditOf(NOBODY)).find((e) => e.method === 'DELETE /v1/policies/security-rule')).toMatchObject({ decision: 'deny', reason: expect.stringContaining(`not_admin: ${NOBODY} lacks docs:read (holds no admin role); answered 403`) });
  });

  it('parley config print ends with the roles in force and where each comes from; the defaults keep the default admin', async () => {
    const configured = await runCli(['config', 'print'], dir, 60_000, { PARLEY_ADMIN_ADMINS: `[${ADMIN}]`, PARLEY_ADMIN_ROLES: ROLES, PARLEY_IDENTITY_TRUST_DOMAIN: 'acme.test' });
    expect(configured.code).toBe(0);
    expect(configured.stdout).toContain(
      [
        '# admin roles in force (derived from admin.admins and admin.roles):',
        `#   admin: ${ADMIN} (admin.admins)`,
        `#   viewer: ${VIEWER} (admin.roles[0])`,
        `#   operator: ${OPERATOR}, spiffe://acme.test/ops/oncall/… (prefix) (admin.roles[1])`,
        `#   security: ${SECURITY} (admin.roles[2])`,
        '',
      ].join('\n'),
    );
    const defaults = await runCli(['config', 'print'], dir);
    expect(defaults.stdout).toContain('#   admin: spiffe://parley.local/parley/admin (default)\n');
  });

  it('the real parley binary: a viewer is refused with the permission, its role and a hint; security revokes', async () => {
    const viewerFlags = await adminCliFlags(gw, join(dir, 'viewer'), creds.get(VIEWER));
    const refused = await runCli(['admin', 'revoke', 'spiffe://acme.test/ns/z', ...viewerFlags], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${VIEWER} lacks revocations:write (holds role viewer)`);
    expect(refused.stderr).toContain(`hint: ${VIEWER} is an administrator with role viewer, which does not grant revocations:write`);
    const listed = await runCli(['admin', 'policy', 'list', '--json', ...viewerFlags], dir);
    expect(listed.code).toBe(0);
    const securityFlags = await adminCliFlags(gw, join(dir, 'security'), creds.get(SECURITY));
    const revoked = await runCli(['admin', 'revoke', 'spiffe://acme.test/ns/z', ...securityFlags], dir);
    expect([revoked.code, revoked.stderr]).toEqual([0, '']);
  });
});
