import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/ports';
import { runParleyToEnd } from '../../support/parley-process';
import { testDatabaseUrl } from '../../support/pg';

jest.setTimeout(60_000);

describe('bad configuration stops the gateway with a clear message', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-badcfg-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('names unknown keys and wrong types (exit 78), from the file and the environment', async () => {
    writeFileSync(join(cwd, 'parley.yaml'), 'ops:\n  port: many\n  prot: 1\n');
    const run = await runParleyToEnd(['serve'], { cwd, env: { PARLEY_LOG_LEVEL: 'chatty' } });
    rmSync(join(cwd, 'parley.yaml'));
    expect(run.code).toBe(78);
    expect(run.output).toContain('invalid configuration');
    expect(run.output).toMatch(/ops\.port: .*expected number/);
    expect(run.output).toContain('ops.prot: unknown key');
    expect(run.output).toMatch(/log\.level \(from PARLEY_LOG_LEVEL\): /);
    expect(run.output).not.toContain('at '); // no stack trace for a person's mistake
  });

  it('judges authz.policy.rules with the rest of the file, every problem at once, before the database starts', async () => {
    const rules = [
      '      - id: a',
      '        effect: perhaps',
      '        subjects: [{ trustDomain: partner.test }]',
      '        methods: [Pull]',
      '        expiresAt: tomorrow',
    ].join('\n');
    writeFileSync(join(cwd, 'parley.yaml'), `ops:\n  prot: 1\nauthz:\n  policy:\n    rules:\n${rules}\n`);
    const port = await freePort(); // nothing listens: reaching the database would fail otherwise
    const run = await runParleyToEnd(['serve'], { cwd, env: { DATABASE_URL: `postgres://parley:pw@127.0.0.1:${port}/parley` } });
    rmSync(join(cwd, 'parley.yaml'));
    expect(run.code).toBe(78);
    expect(run.output).toContain('ops.prot: unknown key');
    expect(run.output).toContain('authz.policy.rules[0].effect: must be "allow" or "deny"');
    expect(run.output).toContain('authz.policy.rules[0].methods[0]: must be "/pkg.Service/Method"');
    expect(run.output).toContain('authz.policy.rules[0].expiresAt: must be an RFC 3339 date-time');
    expect(run.output).not.toContain('cannot connect');
  });

  it('names the unreachable database by host and port, never by password', async () => {
    const port = await freePort();
    const run = await runParleyToEnd(['serve'], { cwd, env: { DATABASE_URL: `postgres://parley:TopSecretPw@127.0.0.1:${port}/parley`, PARLEY_DATABASE_CONNECT_TIMEOUT_MS: '1000' } });
    expect(run.code).not.toBe(0);
    expect(run.output).toContain(`database: cannot connect to 127.0.0.1:${port}/parley`);
    expect(run.output).toMatch(/ECONNREFUSED/);
    expect(run.output).not.toContain('TopSecretPw');
  });

  it('names the ops port that is already in use', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const run = await runParleyToEnd(['serve'], { cwd, env: { DATABASE_URL: testDatabaseUrl(), PARLEY_OPS_PORT: String(port) } });
      expect(run.code).toBe(78);
      expect(run.output).toContain(`ops.port: 127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('prints the effective configuration with secrets redacted', async () => {
    const run = await runParleyToEnd(['config', 'print'], { cwd, env: { DATABASE_URL: 'postgres://parley:TopSecretPw@db.internal:5432/parley', PARLEY_OPS_PORT: '9999' } });
    expect(run.code).toBe(0);
    expect(run.output).toContain('url: postgres://parley:REDACTED@db.internal:5432/parley');
    expect(run.output).toContain('port: 9999');
    expect(run.output).toContain('PARLEY_OPS_PORT');
    expect(run.output).not.toContain('TopSecretPw');
  });
});
