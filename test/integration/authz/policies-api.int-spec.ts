/**
 * `/v1/policies` through a real gateway over mTLS: CRUD, field errors that change nothing,
 * read-only config-declared rules, and the `:explain` and `:import-casbin` custom methods.
 */
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';
import { PolicyStore } from '../../../src/authz';

jest.setTimeout(60_000);

const STORE = '/parley.store.v1.StoreService/';
const CONFIG_RULES = [{ id: 'cfg-no-delete', effect: 'deny', subjects: [{ trustDomain: 'federated' }], methods: [STORE + 'Delete'] }];

interface Answer {
  status: number;
  contentType?: string;
  json: Record<string, unknown> & { errors?: Array<{ field: string; message: string }> };
}

describe('admin API: policies', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;

  const send = async (method: string, path: string, body?: unknown, who: Creds = admin): Promise<Answer> => {
    const res = await adminRequest(gw, ca, who, method, path, { json: body });
    return { status: res.status, contentType: res.contentType, json: res.body === '' ? {} : (JSON.parse(res.body) as Answer['json']) };
  };
  const creds = (id: string): Promise<Creds> => issueCreds(ca, id);
  const ids = async (): Promise<string[]> => ((await send('GET', '/v1/policies')).json.rules as Array<{ rule: { id: string } }>).map((e) => e.rule.id);

  beforeAll(async () => {
    gw = await startTestGateway({ PARLEY_AUTHZ_POLICY_RULES: JSON.stringify(CONFIG_RULES) });
    ca = await devCaOf(gw);
    admin = await creds('spiffe://acme.test/parley/admin');
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('lists the config rules first, then the seeded default policy, with the version', async () => {
    const res = await send('GET', '/v1/policies');
    expect(res.status).toBe(200);
    const rules = res.json.rules as Array<{ position: number; source: string; createdBy: string; rule: { id: string } }>;
    expect(rules.map((e) => [e.position, e.rule.id, e.source, e.createdBy])).toEqual([
      [0, 'cfg-no-delete', 'config', 'config'],
      [1, 'default-own', 'seed', 'migration'],
      [2, 'default-federated', 'seed', 'migration'],
    ]);
    expect(res.json.version).toBe(gw.gateway.get(PolicyStore).version);
    expect(res.json.unreachable).toEqual([]);
    expect((await send('GET', '/v1/policies/default-federated')).json.rule).toMatchObject({ subjects: [{ trustDomain: 'federated' }] });
  });

  it('creates, reads, replaces and deletes a rule', async () => {
    const rule = {
      id: 'partner-list',
      effect: 'allow',
      subjects: [{ spiffeIdPrefix: 'spiffe://partner.test/ns/ml' }],
      methods: [STORE + 'List'],
      namespaces: ['shared'],
      sourceCidrs: ['127.0.0.0/8'],
      expiresAt: '2099-01-31T12:00:00+01:00',
      description: 'partner ML may list shared',
    };
    const created = await send('POST', '/v1/policies', { ...rule, position: 1 });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ position: 1, source: 'api', createdBy: 'spiffe://acme.test/parley/admin', rule: { ...rule, expiresAt: '2099-01-31T11:00:00.000Z' } });
    expect(await ids()).toEqual(['cfg-no-delete', 'partner-list', 'default-own', 'default-federated']);

    const { id: _id, ...withoutId } = rule;
    const replaced = await send('PUT', '/v1/policies/partner-list', { ...withoutId, methods: [STORE + 'List', STORE + 'Lookup'] });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({ position: 1, rule: { id: 'partner-list', methods: [STORE + 'List', STORE + 'Lookup'] } });
    expect((await send('GET', '/v1/policies/partner-list')).json.rule).toMatchObject({ methods: [STORE + 'List', STORE + 'Lookup'] });

    expect((await send('DELETE', '/v1/policies/partner-list')).status).toBe(204);
    expect((await send('GET', '/v1/policies/partner-list')).status).toBe(404);
    expect((await send('DELETE', '/v1/policies/partner-list')).status).toBe(404);
    expect((await send('PUT', '/v1/policies/partner-list', rule)).status).toBe(404);
  });

  it.each([
    ['unknown method', { methods: [STORE + 'Pull', STORE + 'Steal'] }, 'methods[1]'],
    ['malformed SPIFFE ID', { subjects: [{ spiffeId: 'spiffe://Partner.test/x' }] }, 'subjects[0].spiffeId'],
    ['bad CIDR', { sourceCidrs: ['10.1.2.3/8'] }, 'sourceCidrs[0]'],
    ['duplicate id', { id: 'default-own' }, 'id'],
    ['bad expiry', { expiresAt: 'next tuesday' }, 'expiresAt'],
    ['unknown field', { colour: 'red' }, 'colour'],
  ])('refuses a rule with %s: 400 problem+json naming the field, nothing changed', async (_what, change, field) => {
    const before = await send('GET', '/v1/policies');
    const res = await send('POST', '/v1/policies', { id: 'bad', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [STORE + 'Pull'], ...change });
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.json.code).toBe('invalid_argument');
    expect(res.json.errors!.map((e) => e.field)).toEqual([field]);
    expect(await send('GET', '/v1/policies')).toEqual(before);
  });

  it('config-declared rules are read-only through the API (409)', async () => {
    const res = await send('PUT', '/v1/policies/cfg-no-delete', { ...CONFIG_RULES[0], methods: [STORE + 'Push'] });
    expect(res.status).toBe(409);
    expect(res.json.detail).toContain('declared in the config file');
    expect((await send('DELETE', '/v1/policies/cfg-no-delete')).status).toBe(409);
    expect((await send('POST', '/v1/policies', { id: 'before-config', effect: 'allow', subjects: [{ trustDomain: 'own' }], methods: ['*'], position: 0 })).json.errors).toEqual([
      { field: 'position', message: expect.stringContaining('config-declared rules come first') },
    ]);
  });

  it('explains decisions through POST /v1/policies:explain', async () => {
    const explain = (body: unknown) => send('POST', '/v1/policies:explain', body);
    expect((await explain({ spiffeId: 'spiffe://partner.test/w', method: STORE + 'Pull' })).json).toEqual({
      allowed: true,
      rule: 'default-federated',
      reason: 'allowed by rule "default-federated"',
      dryRunDenied: [],
      version: gw.gateway.get(PolicyStore).version,
      // Allowed by the policy, but no partner.test bundle is held: its workloads fail the handshake.
      bundleHeld: false,
      warning: 'this gateway holds no bundle of partner.test: its workloads cannot connect yet, whatever the policy says (federate it: parley admin federation add partner.test …)',
    });
    const own = (await explain({ spiffeId: 'spiffe://acme.test/w', method: STORE + 'Pull' })).json as Record<string, unknown>;
    expect(own).toMatchObject({ allowed: true, bundleHeld: true });
    expect(own).not.toHaveProperty('warning');
    expect((await explain({ spiffeId: 'spiffe://partner.test/w', method: STORE + 'Delete' })).json).toMatchObject({ allowed: false, rule: 'cfg-no-delete' });
    expect((await explain({ spiffeId: 'spiffe://partner.test/w', method: STORE + 'Push', namespace: 'a/b', sourceIp: '::1', at: '2030-01-01T00:00:00Z' })).json).toMatchObject({
      allowed: false,
      reason: 'no allow rule matches',
    });
    const bad = await explain({ spiffeId: 'partner.test', method: 'Pull', sourceIp: '1.2.3', at: 'soon', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.json.errors!.map((e) => e.field).sort()).toEqual(['at', 'extra', 'method', 'sourceIp', 'spiffeId']);
    // The escaped colon is a literal: no other path reaches the route.
    expect((await send('POST', '/v1/policies/explain', { spiffeId: 'spiffe://partner.test/w', method: STORE + 'Pull' })).status).toBe(404);
    expect((await send('POST', '/v1/policiesXexplain', { spiffeId: 'spiffe://partner.test/w', method: STORE + 'Pull' })).status).toBe(404);
  });

  it('imports a Directory casbin policy (dry run, then append)', async () => {
    const csv = 'p, partner.test, /parley.store.v1.StoreService/PushReferrer\n# note\n';
    const dry = await send('POST', '/v1/policies:import-casbin', { csv, mode: 'append', dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({ applied: false, version: gw.gateway.get(PolicyStore).version });
    const lines = dry.json.lines as Array<{ line: number; status: string; ruleId?: string }>;
    expect(lines.map((l) => [l.line, l.status])).toEqual([
      [1, expect.stringMatching(/^(imported|differs)$/)],
      [2, 'skipped'],
    ]);
    const ruleId = lines[0]!.ruleId!;
    expect(await ids()).not.toContain(ruleId);

    const applied = await send('POST', '/v1/policies:import-casbin', { csv, mode: 'append' });
    expect(applied.json).toMatchObject({ applied: true });
    expect(await ids()).toEqual(['cfg-no-delete', 'default-own', 'default-federated', ruleId]);
    expect((await send('POST', '/v1/policies:explain', { spiffeId: 'spiffe://partner.test/w', method: STORE + 'PushReferrer' })).json).toMatchObject({ allowed: true, rule: ruleId });
    expect((await send('DELETE', `/v1/policies/${ruleId}`)).status).toBe(204);

    const bad = await send('POST', '/v1/policies:import-casbin', { csv: 42, mode: 'merge' });
    expect(bad.json.errors!.map((e) => e.field)).toEqual(['csv', 'mode']);
  });

  it('documents the routes in OpenAPI, custom methods with a literal colon', async () => {
    const doc = await send('GET', '/openapi.json');
    const paths = Object.keys(doc.json.paths as Record<string, unknown>).filter((p) => p.includes('/v1/policies'));
    expect(paths.sort()).toEqual(['/v1/policies', '/v1/policies/{id}', '/v1/policies:explain', '/v1/policies:import-casbin']);
  });

  it('refuses callers that are not admins (403)', async () => {
    const workload = await creds('spiffe://acme.test/ns/ml/sa/trainer');
    expect((await send('GET', '/v1/policies', undefined, workload)).status).toBe(403);
    expect((await send('POST', '/v1/policies:explain', { spiffeId: 'spiffe://acme.test/x', method: STORE + 'Pull' }, workload)).status).toBe(403);
    expect((await send('DELETE', '/v1/policies/default-own', undefined, workload)).status).toBe(403);
    expect(await ids()).toContain('default-own');
  });
});
