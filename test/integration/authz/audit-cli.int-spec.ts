import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/cli-process';
import { adminCliFlags } from '../../support/admin-cli';
import { startTestGateway, type TestGateway } from '../../support/gateway';
import { AuditWriter } from '../../../src/authz';

jest.setTimeout(60_000);

describe('parley admin audit', () => {
  let gw: TestGateway;
  let cwd: string;
  let id: string[];
  const BASE = Date.parse('2025-05-01T08:00:00Z');

  beforeAll(async () => {
    // The fixture lies in the past: keep the retention sweep away from it.
    gw = await startTestGateway({ PARLEY_AUTHZ_AUDIT_RETENTION: '36500d' });
    cwd = mkdtempSync(join(tmpdir(), 'parley-audit-cli-'));
    id = await adminCliFlags(gw, join(cwd, 'admin'));
    const audit = gw.gateway.get(AuditWriter);
    for (let i = 0; i < 150; i++) {
      audit.record({
        at: new Date(BASE + i * 1000),
        spiffeId: `spiffe://partner.test/ns/ml/sa/w${i % 3}`,
        trustDomain: 'partner.test',
        sourceAddress: '192.0.2.9',
        method: '/parley.store.v1.StoreService/Pull',
        namespace: 'ml/tiny',
        decision: i % 10 === 0 ? 'deny' : 'allow',
        rule: i % 10 === 0 ? undefined : 'partners-pull',
        reason: i % 10 === 0 ? `no rule matched ${i}` : `rule partners-pull ${i}`,
        dryRunDenied: i === 149 ? ['try-block'] : undefined,
      });
    }
    await audit.flush();
  });
  afterAll(async () => {
    await gw?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('prints the newest 100 as a table by default and says that more match', async () => {
    const run = await runCli(['admin', 'audit', ...id], cwd);
    expect(run.stderr).toBe('(showing the newest 100; more match: use --limit N or --all)\n');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(101);
    expect(lines[0].split(/\s{2,}/)).toEqual(['TIME', 'DECISION', 'SPIFFE ID', 'SOURCE', 'METHOD', 'NAMESPACE', 'RULE', 'REASON']);
    expect(lines[1].split(/\s{2,}/)).toEqual([
      '2025-05-01T08:02:29.000000Z',
      'ALLOW',
      'spiffe://partner.test/ns/ml/sa/w2',
      '192.0.2.9',
      '/parley.store.v1.StoreService/Pull',
      'ml/tiny',
      'partners-pull',
      'rule partners-pull 149 (dry-run deny: try-block)',
    ]);
  });

  it('filters and limits, and follows pages with --all (JSON and CSV)', async () => {
    const denies = await runCli(['admin', 'audit', ...id, '--decision', 'deny', '--since', '2025-05-01T08:01:00Z', '--limit', '3'], cwd);
    expect(denies.code).toBe(0);
    expect(denies.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s{2,}/).at(-1))).toEqual(['no rule matched 140', 'no rule matched 130', 'no rule matched 120']);

    const all = await runCli(['admin', 'audit', ...id, '--all', '--json'], cwd);
    expect(all.code).toBe(0);
    const entries = JSON.parse(all.stdout) as Array<{ reason: string; decision: string }>;
    expect(entries).toHaveLength(150);
    expect(new Set(entries.map((e) => e.reason)).size).toBe(150);

    const csv = await runCli(['admin', 'audit', ...id, '--spiffe-id', 'spiffe://partner.test/ns/ml/sa/w0', '--csv'], cwd);
    expect(csv.code).toBe(0);
    const rows = csv.stdout.split('\r\n');
    expect(rows[0]).toBe('id,at,spiffe_id,trust_domain,source_address,method,namespace,decision,rule,reason,dry_run_denied');
    expect(rows.slice(1, -1)).toHaveLength(50);
    expect(rows.at(-1)).toBe('');
    const capped = await runCli(['admin', 'audit', ...id, '--limit', '7', '--csv'], cwd);
    expect(capped.code).toBe(0);
    expect(capped.stdout.split('\r\n').slice(1, -1)).toHaveLength(7);
  });

  it('reports a bad filter with the parameter named, exit code 1', async () => {
    const run = await runCli(['admin', 'audit', ...id, '--since', 'yesterday'], cwd);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('since: must be an RFC 3339 date-time');
    expect(run.stdout).toBe('');
  });

  it('documents itself with examples', async () => {
    const run = await runCli(['admin', 'audit', '--help'], cwd);
    expect(run.code).toBe(0);
    for (const flag of ['--spiffe-id', '--trust-domain', '--method', '--decision', '--namespace', '--since', '--until', '--limit', '--all', '--json', '--csv', 'Examples:']) {
      expect(run.stdout).toContain(flag);
    }
  });
});
