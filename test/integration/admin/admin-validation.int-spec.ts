/**
 * Request bodies and query strings are validated by one ValidationPipe from the DTO classes
 * whose declarations also write the OpenAPI document: unknown fields are refused with their
 * path, wrong elements of nested arrays are named by index, and what the document says is
 * what is enforced.
 */
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';

jest.setTimeout(60_000);

const PULL = '/parley.store.v1.StoreService/Pull';
const RULE = { id: 'dto-rule', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [PULL] };

interface Answer {
  status: number;
  json: { code?: string; detail?: string; errors?: Array<{ field: string; message: string }> } & Record<string, unknown>;
}
type Schema = { type?: string; minimum?: number; minItems?: number; maxItems?: number; maxLength?: number; items?: Schema; enum?: unknown[]; properties?: Record<string, Schema>; required?: string[]; $ref?: string };

describe('admin API: validation by the DTO declarations', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, 'spiffe://acme.test/parley/admin');
  });
  afterAll(() => gw?.stop());

  async function send(method: string, path: string, json?: unknown): Promise<Answer> {
    const res = await adminRequest(gw, ca, admin, method, path, json === undefined ? {} : { raw: JSON.stringify(json), headers: { 'content-type': 'application/json' } });
    return { status: res.status, json: res.body === '' ? {} : JSON.parse(res.body) };
  }
  const policies = async () => (await send('GET', '/v1/policies')).json;

  it('names an unknown field inside a nested array element by its path, and changes nothing', async () => {
    const before = await policies();
    const res = await send('POST', '/v1/policies', { ...RULE, subjects: [{ trustDomain: 'partner.test' }, { trustDomain: 'partner.test', colour: 'red' }] });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'invalid_argument', detail: 'policy: invalid rule: subjects[1].colour: unknown field' });
    expect(res.json.errors).toEqual([{ field: 'subjects[1].colour', message: 'unknown field' }]);
    expect(await policies()).toEqual(before);
  });

  it('reports a wrong type in an element of a nested array at its index', async () => {
    const res = await send('POST', '/v1/policies', { ...RULE, methods: [PULL, 42], sourceCidrs: ['10.0.0.0/8', false] });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([
      { field: 'methods[1]', message: 'must be a string' },
      { field: 'sourceCidrs[1]', message: 'must be a string' },
    ]);
    const federation = await send('POST', '/v1/federations', { trustDomain: 'partner.test', profile: 'https_web', endpointUrls: ['https://bundle.partner.test/', 8] });
    expect(federation.json.errors).toEqual([{ field: 'endpointUrls[1]', message: 'must be an https URL' }]);
  });

  it('refuses unknown fields named like Object members (which class-transformer would drop), nested too', async () => {
    const revoke = await send('POST', '/v1/revocations', { spiffeId: 'spiffe://acme.test/ns/x', toString: 'x' });
    expect([revoke.status, revoke.json.errors]).toEqual([400, [{ field: 'toString', message: 'unknown field' }]]);
    expect(((await send('GET', '/v1/revocations')).json.revocations as unknown[]).length).toBe(0);
    const rule = await send('POST', '/v1/policies', { ...RULE, subjects: [{ trustDomain: 'partner.test', constructor: 1 }] });
    expect(rule.json.errors).toEqual([{ field: 'subjects[0].constructor', message: 'unknown field' }]);
  });

  it('refuses a body that is not a JSON object on the whole body, the same on every JSON route', async () => {
    const routes: Array<[string, string]> = [
      ['POST', '/v1/policies'],
      ['PUT', '/v1/policies/dto-rule'],
      ['POST', '/v1/policies:explain'],
      ['POST', '/v1/policies:import-casbin'],
      ['POST', '/v1/revocations'],
      ['PUT', '/v1/allowlists/partner.test'],
      ['POST', '/v1/federations'],
      ['PUT', '/v1/federations/partner.test'],
    ];
    for (const [method, path] of routes) {
      const res = await send(method, path, []);
      expect([method, path, res.status, res.json.errors]).toEqual([method, path, 400, [{ field: '', message: 'body must be a JSON object' }]]);
    }
  });

  it('validates and converts query parameters with the pipe, as the OpenAPI document describes them', async () => {
    const bad = await send('GET', '/v1/records?namespce=ml&recursive=yes&pageSize=ten&namespace=ml&namespace=ml/a');
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual(
      expect.arrayContaining([
        { field: 'namespce', message: 'unknown query parameter' },
        { field: 'namespace', message: 'must be given at most once' },
        { field: 'recursive', message: 'must be true or false' },
        { field: 'pageSize', message: 'must be a non-negative integer' },
      ]),
    );
    expect(bad.json.errors).toHaveLength(4);
    expect((await send('GET', '/v1/records?namespace=ml&recursive=false&pageSize=1&annotation=k=v')).status).toBe(200);
    const audit = await send('GET', '/v1/audit?decision=maybe&format=xml&pageSize=1&pageSize=2');
    expect(audit.json.errors?.map((e) => e.field).sort()).toEqual(['decision', 'format', 'pageSize']);

    const doc = (await send('GET', '/openapi.json')).json as { paths: Record<string, Record<string, { parameters: Array<{ name: string; schema: Schema }> }>> };
    const params = Object.fromEntries(doc.paths['/v1/records']!.get!.parameters.map((p) => [p.name, p.schema]));
    expect(params.recursive).toMatchObject({ type: 'boolean' });
    expect(params.pageSize).toMatchObject({ type: 'integer', minimum: 0 });
    expect(params.annotation).toMatchObject({ type: 'array', items: { type: 'string' } });
    const auditParams = Object.fromEntries(doc.paths['/v1/audit']!.get!.parameters.map((p) => [p.name, p.schema]));
    expect(auditParams.decision).toMatchObject({ enum: ['allow', 'deny'] });
  });

  it('documents the body constraints it enforces, from the same declarations', async () => {
    const doc = (await send('GET', '/openapi.json')).json as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>>;
      components: { schemas: Record<string, Schema> };
    };
    const schemas = doc.components.schemas;
    expect(schemas.CreateRuleDto!.properties!.subjects).toMatchObject({ type: 'array', minItems: 1 });
    expect(schemas.CreateRuleDto!.properties!.position).toMatchObject({ type: 'integer', minimum: 0 });
    expect(schemas.SetAllowlistDto!.properties!.cidrs).toMatchObject({ type: 'array', maxItems: 1000 });
    expect(schemas.RelationshipDto!.properties!.endpointUrls).toMatchObject({ type: 'array', maxItems: 8 });
    const replace = doc.paths['/v1/policies/{id}']!.put!.requestBody!.content['application/json']!.schema.$ref!;
    expect(replace).toBe('#/components/schemas/ReplaceRuleDto');
    expect(schemas.ReplaceRuleDto!.required).not.toContain('id');
    expect(schemas.ReplaceRuleDto!.required).toEqual(expect.arrayContaining(['effect', 'subjects', 'methods']));

    const tooMany = await send('PUT', '/v1/allowlists/partner.test', { cidrs: Array.from({ length: 1001 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) });
    expect(tooMany.json.errors).toEqual([{ field: 'cidrs', message: 'at most 1000 blocks' }]);
    expect((await send('POST', '/v1/policies', { ...RULE, subjects: [] })).json.errors).toEqual([{ field: 'subjects', message: 'must not be empty' }]);
  });
});
