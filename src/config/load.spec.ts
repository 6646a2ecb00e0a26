import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './load';
import { redactConfig } from './redact';

function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('config_invalid');
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads admin.roles and names every unknown role, malformed ID and empty binding by key', () => {
    const ok = tempDir({ 'parley.yaml': 'admin:\n  roles:\n    - role: operator\n      spiffeIdPrefixes: [spiffe://acme.test/ops]\n' });
    expect(loadConfig({ cwd: ok, env: {} }).config.admin.roles).toEqual([{ role: 'operator', spiffeIds: [], spiffeIdPrefixes: ['spiffe://acme.test/ops'] }]);
    const bad = tempDir({
      'parley.yaml': 'admin:\n  roles:\n    - role: root\n      spiffeIds: [spiffe://acme.test/a]\n    - role: viewer\n      spiffeIds: [not-an-id]\n      spiffeIdPrefixes: [spiffe://acme.test/x/]\n    - role: security\n    - role: viewer\n      spiffeId: spiffe://acme.test/typo\n',
    });
    expect(problemsOf(() => loadConfig({ cwd: bad, env: {} }))).toEqual([
      'admin.roles.0.role: must be one of viewer, operator, security, admin',
      'admin.roles.1.spiffeIds.0: must be a SPIFFE ID with a path, e.g. spiffe://example.org/ns/ops/admin',
      'admin.roles.1.spiffeIdPrefixes.0: must be a SPIFFE ID used as a path prefix, e.g. spiffe://example.org/ns/ops (no trailing slash)',
      'admin.roles.2: must name at least one of spiffeIds, spiffeIdPrefixes',
      'admin.roles.3.spiffeId: unknown key',
      'admin.roles.3: must name at least one of spiffeIds, spiffeIdPrefixes',
    ]);
    const fromEnv = problemsOf(() => loadConfig({ cwd: tempDir(), env: { PARLEY_ADMIN_ROLES: '[{role: owner, spiffeIds: [spiffe://acme.test/a]}]' } }));
    expect(fromEnv).toEqual(['admin.roles.0.role: must be one of viewer, operator, security, admin']);
  });

  it("reports the problems of extra checks (e.g. the policy rules) with the schema's, all at once", () => {
    const cwd = tempDir({ 'parley.yaml': 'ops:\n  prot: 1\nauthz:\n  policy:\n    rules:\n      - id: x\n' });
    const seen: unknown[] = [];
    const problems = problemsOf(() => loadConfig({ cwd, env: {}, checks: [(raw) => (seen.push(raw), ['authz.policy.rules[0].effect: must be "allow" or "deny"'])] }));
    expect(problems).toEqual(expect.arrayContaining(['authz.policy.rules[0].effect: must be "allow" or "deny"', expect.stringContaining('ops.prot: unknown key')]));
    expect(seen).toEqual([expect.objectContaining({ authz: { policy: { rules: [{ id: 'x' }] } } })]);
    expect(loadConfig({ cwd: tempDir(), env: {}, checks: [() => []] }).config).toBeDefined();
  });

  it('names the environment as the source of an unknown PARLEY_* variable, though it set nothing', () => {
    try {
      loadConfig({ cwd: tempDir(), env: { PARLEY_OPS_PROT: '1' } });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as Error).message).toMatch(/^invalid configuration \(environment\):/);
    }
  });

  it('gives typed defaults with no file and no environment', () => {
    const cwd = tempDir();
    const { config, file } = loadConfig({ cwd, env: {} });
    expect(file).toBeUndefined();
    expect(config.ops).toEqual({ enabled: true, host: '127.0.0.1', port: 9464, readinessTimeoutMs: 2000 });
    expect(config.database.url).toBeUndefined();
    expect(config.database.embedded.port).toBe(0);
    expect(config.dataDir).toBe(join(cwd, '.parley'));
  });

  it('reads ./parley.yaml when present and lets PARLEY_* variables override it', () => {
    const cwd = tempDir({ 'parley.yaml': 'ops:\n  port: 9500\nlog:\n  level: debug\n' });
    const { config, fromEnv } = loadConfig({ cwd, env: { PARLEY_OPS_PORT: '9600', PARLEY_DATABASE_MIGRATIONS_RUN: 'false' } });
    expect(config.ops.port).toBe(9600);
    expect(config.log.level).toBe('debug');
    expect(config.database.migrationsRun).toBe(false);
    expect(fromEnv.get('ops.port')).toBe('PARLEY_OPS_PORT');
  });

  it("leaves the CLI's own variables alone (PARLEY_DEBUG, PARLEY_IDENTITY, PARLEY_P12_PASSWORD): not unknown configuration", () => {
    expect(() => loadConfig({ cwd: tempDir(), env: { PARLEY_DEBUG: '1', PARLEY_IDENTITY: '/tmp/id', PARLEY_P12_PASSWORD: 'x' } })).not.toThrow();
  });

  it('takes DATABASE_URL as database.url', () => {
    const { config } = loadConfig({ cwd: tempDir(), env: { DATABASE_URL: 'postgres://u:p@db.example:5432/parley' } });
    expect(config.database.url).toBe('postgres://u:p@db.example:5432/parley');
  });

  it('lists every bad key at once: unknown keys, wrong types, bad enums, unknown variables', () => {
    const cwd = tempDir({ 'parley.yaml': 'ops:\n  port: "ninety"\n  colour: blue\nlog:\n  level: loud\nbogus: 1\n' });
    const problems = problemsOf(() => loadConfig({ cwd, env: { PARLEY_OPS_HOSTNAME: 'x' } }));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ops\.port: .*number/),
        'ops.colour: unknown key',
        expect.stringMatching(/^log\.level: /),
        'bogus: unknown key',
        expect.stringMatching(/^PARLEY_OPS_HOSTNAME: unknown environment variable/),
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it('suggests the closest key or variable for a typo, and nothing when none is close', () => {
    const cwd = tempDir({ 'parley.yaml': 'identty:\n  trustDomain: acme.test\nops:\n  prot: 9500\n  frobnicate: 1\n' });
    const problems = problemsOf(() => loadConfig({ cwd, env: { PARLEY_GRPC_PROT: '1', PARLEY_NOTHING_LIKE_IT: '1' } }));
    expect(problems).toEqual(
      expect.arrayContaining([
        'identty: unknown key (did you mean "identity"?)',
        'ops.prot: unknown key (did you mean "port"?)',
        'ops.frobnicate: unknown key',
        'PARLEY_GRPC_PROT: unknown environment variable (no such configuration key) (did you mean "PARLEY_GRPC_PORT"?)',
        'PARLEY_NOTHING_LIKE_IT: unknown environment variable (no such configuration key)',
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it('a bad duration names the accepted forms', () => {
    const cwd = tempDir({ 'parley.yaml': 'identity:\n  devCa:\n    svidTtl: 1 hour\n    caTtl: -5\n' });
    const forms = 'must be milliseconds (a whole number) or a number with a unit ms, s, m, h or d, such as 500ms, 90s, 30m, 1h, 7d';
    expect(problemsOf(() => loadConfig({ cwd, env: {} }))).toEqual([`identity.devCa.svidTtl: ${forms}`, `identity.devCa.caTtl: ${forms}`]);
    const ok = loadConfig({ cwd: tempDir({ 'parley.yaml': 'identity:\n  devCa:\n    svidTtl: 90m\n    caTtl: 5000\n' }), env: {} }).config.identity.devCa;
    expect([ok.svidTtl, ok.caTtl]).toEqual([90 * 60_000, 5000]);
  });

  it('reports a YAML syntax error once, with line and column, in words rather than the parser codes', () => {
    const cwd = tempDir({ 'parley.yaml': 'grpc:\n  port: [1\n admin: x\n' });
    const problems = problemsOf(() => loadConfig({ cwd, env: {} }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/: invalid YAML at line 3, column 2: [a-z]/);
    expect(problems[0]).not.toMatch(/[A-Z]{3,}_[A-Z]+/);
  });

  it('names the variable a bad value came from', () => {
    const problems = problemsOf(() => loadConfig({ cwd: tempDir(), env: { PARLEY_OPS_PORT: '70000' } }));
    expect(problems).toEqual([expect.stringMatching(/^ops\.port \(from PARLEY_OPS_PORT\): /)]);
  });

  it('never echoes secret values in errors, also not from invalid YAML', () => {
    const secret = 'hunter2-very-secret';
    const cwd = tempDir({ 'parley.yaml': `database:\n  url: "postgres://u:${secret}@h/db\n  : [\n` });
    const yamlProblems = problemsOf(() => loadConfig({ cwd, env: {} }));
    expect(yamlProblems.join('\n')).not.toContain(secret);
    expect(yamlProblems[0]).toMatch(/invalid YAML at line \d+, column \d+/);

    const badUrl = problemsOf(() => loadConfig({ cwd: tempDir(), env: { DATABASE_URL: `mysql://u:${secret}@h/db` } }));
    expect(badUrl).toEqual([expect.stringMatching(/^database\.url \(from DATABASE_URL\): must be a postgres/)]);
    expect(badUrl.join('\n')).not.toContain(secret);
  });

  it('fails clearly on a missing explicit config file and on a non-mapping document', () => {
    expect(problemsOf(() => loadConfig({ cwd: tempDir(), env: {}, file: 'nope.yaml' }))[0]).toMatch(/nope\.yaml: not found/);
    const cwd = tempDir({ 'list.yaml': '- a\n- b\n' });
    expect(problemsOf(() => loadConfig({ cwd, env: {}, file: 'list.yaml' }))[0]).toMatch(/top level must be a mapping/);
  });

  it('rejects duplicate keys instead of silently taking the last', () => {
    const cwd = tempDir({ 'parley.yaml': 'ops:\n  port: 1\n  port: 2\n' });
    expect(problemsOf(() => loadConfig({ cwd, env: {} }))[0]).toMatch(/invalid YAML at line 3, column 3: a key given twice in the same mapping$/);
  });
});

describe('store.s3', () => {
  const s3Yaml = (extra: string) => `store:\n  payloads: s3\n${extra}  s3:\n    bucket: parley-test\n`;

  it('sends 3 parts of an upload at once by default (store.s3.partsInFlight, 1 to 16)', () => {
    expect(loadConfig({ cwd: tempDir({ 'parley.yaml': s3Yaml('') }), env: {} }).config.store.s3).toMatchObject({ partBytes: 8 * 1024 * 1024, partsInFlight: 3 });
    const env = { PARLEY_STORE_S3_PARTS_IN_FLIGHT: '6' };
    expect(loadConfig({ cwd: tempDir({ 'parley.yaml': s3Yaml('') }), env }).config.store.s3?.partsInFlight).toBe(6);
    expect(problemsOf(() => loadConfig({ cwd: tempDir({ 'parley.yaml': s3Yaml('') }), env: { PARLEY_STORE_S3_PARTS_IN_FLIGHT: '0' } }))).toEqual([
      expect.stringMatching(/^store\.s3\.partsInFlight \(from PARLEY_STORE_S3_PARTS_IN_FLIGHT\): /),
    ]);
  });

  it('wants the upload buffer to hold one push into the object store: 2 messages and (partsInFlight + 1) parts', () => {
    // 2 x 8 MiB messages + 4 x 8 MiB parts = 48 MiB
    expect(loadConfig({ cwd: tempDir({ 'parley.yaml': s3Yaml('  uploadBufferBytes: 50331648\n') }), env: {} }).config.store.uploadBufferBytes).toBe(48 * 1024 * 1024);
    expect(problemsOf(() => loadConfig({ cwd: tempDir({ 'parley.yaml': s3Yaml('  uploadBufferBytes: 50331647\n') }), env: {} }))).toEqual([
      expect.stringMatching(/^store\.uploadBufferBytes: must hold one push into the object store: 2 x grpc\.maxMessageBytes \+ \(store\.s3\.partsInFlight \+ 1\) x store\.s3\.partBytes/),
    ]);
  });
});

describe('redactConfig', () => {
  it('masks the database password but keeps host and user', () => {
    const { config } = loadConfig({ cwd: tempDir(), env: { DATABASE_URL: 'postgres://parley:s3cr3t@db:5432/parley?sslpassword=x' } });
    const printed = JSON.stringify(redactConfig(config));
    expect(printed).not.toContain('s3cr3t');
    expect(printed).toContain('postgres://parley:REDACTED@db:5432/parley');
    expect(config.database.url).toContain('s3cr3t'); // the original is untouched
  });
});

describe('parley.example.yaml', () => {
  it('bounds the grant lifetime to 60 s … 15 min (sync.grantTtl, default 5 min)', () => {
    expect(loadConfig({ cwd: tempDir(), env: {} }).config.sync).toMatchObject({ grantTtl: 300_000, maxConcurrent: 2, recordsInFlight: 2, perPartner: 2 });
    expect(loadConfig({ cwd: tempDir(), env: { PARLEY_SYNC_GRANT_TTL: '10m' } }).config.sync.grantTtl).toBe(600_000);
    expect(problemsOf(() => loadConfig({ cwd: tempDir(), env: { PARLEY_SYNC_GRANT_TTL: '30s' } }))).toEqual([expect.stringMatching(/^sync\.grantTtl \(from PARLEY_SYNC_GRANT_TTL\): must be at least 60s/)]);
    expect(problemsOf(() => loadConfig({ cwd: tempDir(), env: { PARLEY_SYNC_GRANT_TTL: '1h' } }))).toEqual([expect.stringMatching(/^sync\.grantTtl \(from PARLEY_SYNC_GRANT_TTL\): must be at most 15m/)]);
  });

  it('keeps the registry face off until configured (registry.*, port 8445)', () => {
    expect(loadConfig({ cwd: tempDir(), env: {} }).config.registry).toEqual({ enabled: false, host: '0.0.0.0', port: 8445, maxManifestBytes: 4 * 1024 * 1024, maxTags: 10_000, maxManifests: 10_000 });
    expect(problemsOf(() => loadConfig({ cwd: tempDir(), env: { PARLEY_REGISTRY_REALM: 'not a url' } }))).toEqual([expect.stringMatching(/^registry\.realm \(from PARLEY_REGISTRY_REALM\): /)]);
  });

  it('is a valid configuration that states every default', () => {
    const example = join(__dirname, '../../parley.example.yaml');
    const { config } = loadConfig({ cwd: tempDir(), env: {}, file: example });
    const defaults = loadConfig({ cwd: tempDir(), env: {} }).config;
    expect({ ...config, dataDir: '' }).toEqual({ ...defaults, dataDir: '' });
  });
});
