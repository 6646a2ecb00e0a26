/** `parley admin policy …` as a child process against a real gateway. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/cli-process';
import { adminCliFlags } from '../../support/admin-cli';
import { startTestGateway, type TestGateway } from '../../support/gateway';

// Each CLI run starts a Node process (seconds on a busy machine).
jest.setTimeout(120_000);

const STORE = '/parley.store.v1.StoreService/';

describe('parley admin policy', () => {
  let gw: TestGateway;
  let cwd: string;
  let id: string[];
  const policy = (...args: string[]) => runCli(['admin', 'policy', ...args, ...id], cwd);

  beforeAll(async () => {
    gw = await startTestGateway();
    cwd = mkdtempSync(join(tmpdir(), 'parley-policy-cli-'));
    id = await adminCliFlags(gw, join(cwd, 'admin'));
  });
  afterAll(async () => {
    await gw?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('lists, adds from flags and from a file, shows, explains and removes', async () => {
    const list = await policy('list');
    expect(list.code).toBe(0);
    expect(list.stderr).toBe('policy version 1, 2 rules\n');
    expect(list.stdout).toBe(
      [
        '  0  ALLOW  default-own  (seed)  td:own -> *',
        `  1  ALLOW  default-federated  (seed)  td:federated -> ${STORE}Pull ${STORE}Lookup ${STORE}PullReferrer /parley.sync.v1.SyncService/RequestRegistryCredentials`,
        '',
      ].join('\n'),
    );

    const added = await policy('add', '--id', 'no-partner-lookup', '--effect', 'deny', '--trust-domain', 'partner.test', '--spiffe-id', 'spiffe://other.test/x', '--method', STORE + 'Lookup', '--dry-run', '--position', '0');
    expect(added.stderr).toBe('');
    expect(added.stdout).toBe(`rule added:   0  DENY   no-partner-lookup  (api)  td:partner.test spiffe://other.test/x -> ${STORE}Lookup  DRY-RUN\n`);
    writeFileSync(join(cwd, 'rule.json'), JSON.stringify({ id: 'ml-push', effect: 'allow', subjects: [{ spiffeIdPrefix: 'spiffe://partner.test/ns/ml' }], methods: [STORE + 'Push'], expiresAt: '2099-01-01T00:00:00Z' }));
    expect((await policy('add', '--file', join(cwd, 'rule.json'))).code).toBe(0);

    const shown = await policy('show', 'ml-push');
    expect(shown.stdout).toContain('subjects:    spiffe://partner.test/ns/ml/…\n');
    expect(shown.stdout).toContain('expires at:  2099-01-01T00:00:00.000Z\n');
    expect(shown.stdout).toContain('created by:  spiffe://acme.test/parley/admin at ');

    const explained = await policy('explain', '--spiffe-id', 'spiffe://partner.test/ns/ml/w', '--method', STORE + 'Lookup');
    expect(explained.stdout).toBe(`ALLOWED: allowed by rule "default-federated" (policy version 3)\ndry-run deny rules that matched: no-partner-lookup\n`);

    expect((await policy('rm', 'no-partner-lookup')).stderr).toBe('rule no-partner-lookup removed\n');
    expect((await policy('rm', 'ml-push')).code).toBe(0);
    const missing = await policy('show', 'ml-push');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Not found');
  });

  it('reports invalid rules with the field, and nothing is added', async () => {
    const bad = await policy('add', '--id', 'x', '--effect', 'allow', '--trust-domain', 'partner.test', '--method', STORE + 'Steal', '--source-cidr', '10.0.0.1/8');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('\n  sourceCidrs[0]: bad CIDR');
    expect(bad.stderr).toContain('\n  methods[0]: unknown method (not served)');
    expect(JSON.parse((await policy('list', '--json')).stdout).rules).toHaveLength(2);
  });

  it('imports a casbin file, printing the lines whose meaning differs', async () => {
    writeFileSync(join(cwd, 'policy.csv'), `p, partner.test, ${STORE}PushReferrer\np, partner.test, .*Delete.*\n`);
    const dry = await policy('import-casbin', join(cwd, 'policy.csv'), '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/nothing written \(dry run\)\n$/);
    expect(dry.stdout).toContain('line 2 ');
    expect(dry.stdout).toContain('line 1 DIFFERS: p, partner.test, ');
    expect(dry.stdout).toContain('line 2 ERROR: p, partner.test, .*Delete.*\n  ');
    expect(dry.stderr).toBe('1 rule (0 imported, 1 differs, 0 skipped, 1 error); nothing written (dry run)\n');
    const refused = await policy('import-casbin', join(cwd, 'policy.csv'), '--replace');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('\n  csv:2: ');
    expect(JSON.parse((await policy('list', '--json')).stdout).rules).toHaveLength(2);
  });

  it('has help with examples', async () => {
    const help = await runCli(['admin', 'policy', 'add', '--help'], cwd);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--spiffe-id-prefix <id>');
  });
});
