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
    expect(explained.stderr).toBe('WARNING: this gateway holds no bundle of partner.test: its workloads cannot connect yet, whatever the policy says (federate it: parley admin federation add partner.test …)\n');
    expect((await policy('explain', '--spiffe-id', 'spiffe://acme.test/w', '--method', STORE + 'Lookup')).stderr).toBe('');

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
    // Each field error once: listed below the message, not also joined into it.
    expect(bad.stderr.split('methods[0]: unknown method (not served)')).toHaveLength(2);
    expect(bad.stderr.split('sourceCidrs[0]: bad CIDR')).toHaveLength(2);
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

    // A clean file: "0 errors"; imported again it would repeat the ids: the lines are named, and --replace.
    writeFileSync(join(cwd, 'clean.csv'), `# partner reads\np, partner.test, /agntcy.dir.store.v1.StoreService/Lookup\n`);
    const first = await policy('import-casbin', join(cwd, 'clean.csv'));
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/^1 rule \(0 imported, 1 differs, 1 skipped, 0 errors\); written, policy version \d+\n$/);
    const again = await policy('import-casbin', join(cwd, 'clean.csv'));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('rule ids already in use (nothing written)\n  csv:2: rule id casbin-L2 already in the policy (imported before?); --replace replaces every rule not declared in the config file');
    expect(again.stderr.split('casbin-L2 already')).toHaveLength(2);
    expect(again.stderr).not.toContain('rules[');
    expect((await policy('rm', 'casbin-L2')).code).toBe(0);
    expect(JSON.parse((await policy('list', '--json')).stdout).rules).toHaveLength(2);
  });

  it('updates a rule as a whole: shown and enforced at once; unknown ids and invalid rules change nothing', async () => {
    const worker = ['--spiffe-id', 'spiffe://partner.test/ns/ml/w', '--namespace', 'ml'];
    const explain = async (method: string) => (await policy('explain', ...worker, '--method', STORE + method)).stdout;
    const rule = async () => JSON.parse((await policy('show', 'ml-access', '--json')).stdout) as { position: number; rule: Record<string, unknown>; updatedAt: string };
    const subject = ['--spiffe-id-prefix', 'spiffe://partner.test/ns/ml'];
    expect((await policy('add', '--id', 'ml-access', '--effect', 'allow', ...subject, '--method', STORE + 'Push', '--namespace', 'ml', '--description', 'first version')).code).toBe(0);
    const added = await rule();
    expect(await explain('Push')).toMatch(/^ALLOWED: allowed by rule "ml-access"/);
    expect(await explain('Delete')).toMatch(/^DENIED: /);

    const updated = await policy('update', 'ml-access', '--effect', 'allow', ...subject, '--method', STORE + 'Delete', '--namespace', 'ml');
    expect(updated.stderr).toBe('');
    expect(updated.code).toBe(0);
    expect(updated.stdout).toBe(`rule updated: ${String(added.position).padStart(3)}  ALLOW  ml-access  (api)  spiffe://partner.test/ns/ml/… -> ${STORE}Delete  ns=ml\n`);
    const shown = await policy('show', 'ml-access');
    expect(shown.stdout).toContain(`methods:     ${STORE}Delete\n`);
    expect(shown.stdout).not.toContain('description:'); // not given, so cleared
    expect(await rule()).toMatchObject({ position: added.position, rule: { id: 'ml-access', effect: 'allow', methods: [STORE + 'Delete'], namespaces: ['ml'] } });
    expect(await explain('Delete')).toMatch(/^ALLOWED: allowed by rule "ml-access"/);
    expect(await explain('Push')).toMatch(/^DENIED: /);

    writeFileSync(join(cwd, 'update.json'), JSON.stringify({ effect: 'allow', subjects: [{ spiffeIdPrefix: 'spiffe://partner.test/ns/ml' }], methods: [STORE + 'Push', STORE + 'Delete'], description: 'from a file' }));
    const fromFile = await policy('update', 'ml-access', '--file', join(cwd, 'update.json'), '--json');
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ position: added.position, rule: { id: 'ml-access', methods: [STORE + 'Push', STORE + 'Delete'], description: 'from a file' } });
    expect((await rule()).rule).not.toHaveProperty('namespaces');
    expect(await explain('Push')).toMatch(/^ALLOWED: allowed by rule "ml-access"/);

    const unknown = await policy('update', 'no-such-rule', '--effect', 'allow', '--trust-domain', 'own', '--method', '*');
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('Not found: policy: no rule "no-such-rule"');

    const before = await rule();
    const bad = await policy('update', 'ml-access', '--effect', 'allow', ...subject, '--method', STORE + 'Steal');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('\n  methods[0]: unknown method (not served)');
    // Each field error once: listed below the message, not also joined into it.
    expect(bad.stderr.split('methods[0]: unknown method (not served)')).toHaveLength(2);
    const nothing = await policy('update', 'ml-access');
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('policy update: nothing to change');
    const both = await policy('update', 'ml-access', '--file', join(cwd, 'update.json'), '--effect', 'deny');
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('policy update: give either --file or the rule flags, not both');
    expect(await rule()).toEqual(before);
    expect(await explain('Push')).toMatch(/^ALLOWED: allowed by rule "ml-access"/);

    expect((await policy('rm', 'ml-access')).code).toBe(0);
  });

  it('switches a deny rule between dry run and enforced, keeping the rest of the rule', async () => {
    const lookup = async () => (await policy('explain', '--spiffe-id', 'spiffe://partner.test/ns/ml/w', '--method', STORE + 'Lookup', '--namespace', 'shared/models')).stdout;
    const added = await policy('add', '--id', 'no-ml-lookup', '--effect', 'deny', '--spiffe-id-prefix', 'spiffe://partner.test/ns/ml', '--method', STORE + 'Lookup', '--namespace', 'shared', '--description', 'try first', '--dry-run', '--position', '0');
    expect(added.code).toBe(0);
    expect(await lookup()).toMatch(/^ALLOWED: allowed by rule "default-federated" .*\ndry-run deny rules that matched: no-ml-lookup\n$/);
    const line = `  0  DENY   no-ml-lookup  (api)  spiffe://partner.test/ns/ml/… -> ${STORE}Lookup  ns=shared`;

    const enforced = await policy('update', 'no-ml-lookup', '--no-dry-run');
    expect(enforced.stderr).toBe('');
    expect(enforced.code).toBe(0);
    expect(enforced.stdout).toBe(`rule updated: ${line}\n`);
    expect(await lookup()).toMatch(/^DENIED: denied by rule "no-ml-lookup"/);
    const shown = (await policy('show', 'no-ml-lookup')).stdout;
    expect(shown).toContain('effect:      deny\n');
    expect(shown).toContain('namespaces:  shared\n');
    expect(shown).toContain('description: try first\n');

    const again = await policy('update', 'no-ml-lookup', '--no-dry-run');
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('rule no-ml-lookup: dry run is already off; nothing changed\n');
    expect(again.stdout).toBe(`rule unchanged: ${line}\n`);

    const dry = await policy('update', 'no-ml-lookup', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ position: 0, rule: { id: 'no-ml-lookup', effect: 'deny', namespaces: ['shared'], description: 'try first', dryRun: true } });
    expect(await lookup()).toMatch(/\ndry-run deny rules that matched: no-ml-lookup\n$/);

    const allow = await policy('update', 'default-own', '--dry-run');
    expect(allow.code).toBe(1);
    expect(allow.stderr).toContain('\n  dryRun: dry run is only supported on deny rules');
    expect(JSON.parse((await policy('show', 'default-own', '--json')).stdout).rule).not.toHaveProperty('dryRun');
    const unknown = await policy('update', 'no-such-rule', '--no-dry-run');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Not found: policy: no rule "no-such-rule"');

    expect((await policy('rm', 'no-ml-lookup')).code).toBe(0);
  });

  it('has help with examples', async () => {
    const help = await runCli(['admin', 'policy', 'add', '--help'], cwd);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--spiffe-id-prefix <id>');
    const update = await runCli(['admin', 'policy', 'update', '--help'], cwd);
    expect(update.stdout).toContain('Usage: parley admin policy update [options] <id>');
    expect(update.stdout).toContain('is cleared, not kept');
    expect(update.stdout).toContain('--no-dry-run');
    expect(update.stdout).toContain('Examples:\n  $ parley admin policy update ');
  });
});
