/** The exports admin API and `parley admin export` over real mTLS against an in-process gateway. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExportDto } from '../../../src/admin';
import type { DevCa } from '../../../src/identity/dev-ca/dev-ca';
import { requireSpiffeId } from '../../../src/spiffe';
import { ExportStore } from '../../../src/sync';
import { adminRequest, issueCreds, type Creds } from '../../support/admin-api';
import { adminCliFlags, cliInProcess as cli } from '../../support/admin-cli';
import { devCaOf, startTestGateway, type TestGateway } from '../../support/gateway';

jest.setTimeout(60_000);

const ADMIN_ID = 'spiffe://acme.test/parley/admin';
const PARTNER_GATEWAY = requireSpiffeId('spiffe://partner.test/parley/gateway');

describe('admin API and CLI: exports', () => {
  let gw: TestGateway;
  let ca: DevCa;
  let admin: Creds;
  let dir: string;
  let cliFlags: string[];
  const api = (method: string, path: string, body?: unknown, who: Creds = admin) => adminRequest(gw, ca, who, method, path, { json: body });

  beforeAll(async () => {
    gw = await startTestGateway();
    ca = await devCaOf(gw);
    admin = await issueCreds(ca, ADMIN_ID);
    dir = mkdtempSync(join(tmpdir(), 'parley-exports-'));
    cliFlags = await adminCliFlags(gw, join(dir, 'admin'), admin);
  });
  afterAll(async () => {
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads, replaces and removes an export; grants follow each state', async () => {
    const exports = gw.gateway.get(ExportStore);
    expect(exports.scopeFor(PARTNER_GATEWAY)).toEqual([]);
    const body = { partner: { trustDomain: 'partner.test' }, namespaces: ['ml/shared'], actions: ['list', 'pull'] };
    const created = await api('PUT', '/v1/exports/ml-shared', body);
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body)).toMatchObject({ id: 'ml-shared', partner: { trustDomain: 'partner.test' }, namespaces: ['ml/shared'], actions: ['list', 'pull'], createdBy: ADMIN_ID });
    expect(exports.scopeFor(PARTNER_GATEWAY)).toEqual([{ exportId: 'ml-shared', namespaces: ['ml/shared'], actions: ['list', 'pull'] }]);

    const replaced = await api('PUT', '/v1/exports/ml-shared', { ...body, namespaces: ['ml/shared', 'eval'] });
    expect(replaced.status).toBe(200);
    expect(JSON.parse((await api('GET', '/v1/exports/ml-shared')).body) as ExportDto).toMatchObject({ namespaces: ['ml/shared', 'eval'] });
    expect((JSON.parse((await api('GET', '/v1/exports')).body) as { exports: ExportDto[] }).exports.map((e) => e.id)).toEqual(['ml-shared']);

    expect((await api('DELETE', '/v1/exports/ml-shared')).status).toBe(204);
    expect(exports.scopeFor(PARTNER_GATEWAY)).toEqual([]);
    expect((await api('GET', '/v1/exports/ml-shared')).status).toBe(404);
    expect((await api('DELETE', '/v1/exports/ml-shared')).status).toBe(404);
  });

  it('refuses an invalid export naming each field, and stores nothing', async () => {
    const bad = await api('PUT', '/v1/exports/bad', { partner: { trustDomain: 'acme.test' }, namespaces: ['../etc'], actions: ['push'] });
    expect(bad.status).toBe(400);
    const fields = (JSON.parse(bad.body) as { errors: Array<{ field: string }> }).errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['partner.trustDomain', 'namespaces[0]', 'actions[0]']));
    const shape = await api('PUT', '/v1/exports/bad', { partner: 'partner.test', namespaces: ['ml'], actions: ['pull'], colour: 'red' });
    expect(shape.status).toBe(400);
    expect((JSON.parse(shape.body) as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toEqual(expect.arrayContaining(['partner', 'colour']));
    const otherId = await api('PUT', '/v1/exports/bad', { id: 'other', partner: { trustDomain: 'partner.test' }, namespaces: ['ml'], actions: ['pull'] });
    expect(otherId.status).toBe(400);
    expect((await api('GET', '/v1/exports/bad')).status).toBe(404);
  });

  it('only admins may read or write exports', async () => {
    const workload = await issueCreds(ca, 'spiffe://acme.test/ns/ml/sa/trainer');
    expect((await api('GET', '/v1/exports', undefined, workload)).status).toBe(403);
    expect((await api('PUT', '/v1/exports/x', { partner: { trustDomain: 'partner.test' }, namespaces: ['ml'], actions: ['pull'] }, workload)).status).toBe(403);
  });

  it('parley admin export add / list / show / rm', async () => {
    const add = await cli(['admin', 'export', 'add', 'eval', '--spiffe-id', PARTNER_GATEWAY.toString(), '--namespace', 'eval', '--annotation', 'stage=released', '--action', 'pull', ...cliFlags]);
    expect(add).toMatchObject({ code: 0, stderr: '' });
    expect(add.stdout).toMatch(/^export created: eval +spiffe:\/\/partner\.test\/parley\/gateway +pull +eval {2}where stage=released\n$/);
    const listed = await cli(['admin', 'export', 'list', '--json', ...cliFlags]);
    expect((JSON.parse(listed.stdout) as ExportDto[]).map((e) => [e.id, e.annotations])).toEqual([['eval', { stage: 'released' }]]);
    expect((await cli(['admin', 'export', 'show', 'eval', ...cliFlags])).stdout).toContain(`created by ${ADMIN_ID}`);
    const bad = await cli(['admin', 'export', 'add', 'x', '--trust-domain', 'partner.test', '--namespace', 'UPPER', ...cliFlags]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/namespaces\[0\]/);
    expect(await cli(['admin', 'export', 'rm', 'eval', ...cliFlags])).toEqual({ code: 0, stdout: '', stderr: 'export eval removed\n' });
    expect((await cli(['admin', 'export', 'rm', 'eval', ...cliFlags])).code).toBe(1);
  });
});
