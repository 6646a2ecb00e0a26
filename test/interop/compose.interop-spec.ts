import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { peer, REPO, run } from './support/peers';

const FILE = resolve(REPO, 'docker-compose.yml');

/**
 * `docker compose config` on these machines: there is no compose plugin (and no engine), so
 * the file is loaded by compose-go v2.16.2 (the Compose Specification schema, merge keys,
 * normalization), the loader Docker Compose uses, through test/interop/deploy/compose.
 */
describe('docker-compose.yml loads as a Compose project (compose-go v2.16.2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-compose-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = (file: string) => run(peer('compose-config'), ['-f', file, '-C', REPO]);

  it('is a valid project, with both organizations and their shared networks', async () => {
    const r = await config(FILE);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const project = YAML.parse(r.stdout) as { services: Record<string, { read_only?: boolean; networks: Record<string, unknown>; user?: string }> };
    for (const org of ['acme', 'partner']) {
      const gw = project.services[`parley-${org}`];
      expect({ read_only: gw.read_only, user: gw.user, networks: Object.keys(gw.networks).sort() }).toEqual({ read_only: true, user: '10001:10001', networks: [org, 'federation'].sort() });
      for (const name of [`postgres-${org}`, `spire-server-${org}`, `spire-register-${org}`, `spire-agent-${org}`]) expect(Object.keys(project.services)).toContain(name);
    }
    expect(Object.keys(project.services)).toEqual(expect.arrayContaining(['client-acme', 'client']));
  });

  it('the loader rejects a misspelt key and a wrong dependency condition', async () => {
    const text = readFileSync(FILE, 'utf8');
    const badKey = join(dir, 'bad-key.yml');
    writeFileSync(badKey, text.replace('  read_only: true', '  read_olny: true'));
    const r1 = await config(badKey);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('read_olny');
    const badCondition = join(dir, 'bad-condition.yml');
    writeFileSync(badCondition, text.replace('condition: service_completed_successfully', 'condition: service_done'));
    const r2 = await config(badCondition);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('condition');
  });
});
