/**
 * The README's walkthrough, run as written: a gateway started as `npm start` starts it (no
 * configuration, in its own directory, on the default ports), then the shell blocks of
 * "Identity", "Storing and fetching parameters" and the authorization "Commands", in order, in
 * one bash session with `set -euo pipefail` — `npx parley` is the repository's built CLI and
 * `~` a fresh home directory. The only lines left out are those with placeholders a reader
 * fills in (listed below, so a new one is noticed). A README example that does not work as
 * written fails here.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runParley, stopAllParley, waitForReady } from '../../support/parley-process';

jest.setTimeout(240_000);

const ROOT = resolve(__dirname, '../../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced `sh` blocks of the section under `heading` (up to the next heading of its level or higher). */
export function shBlocks(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`README has no heading ${heading}`);
  const level = heading.indexOf(' ');
  const blocks: string[] = [];
  let inFence = false;
  let current: string[] | undefined;
  for (const line of lines.slice(start + 1)) {
    const fence = /^\s*```(\w*)\s*$/.exec(line);
    if (fence) {
      if (!inFence) current = fence[1] === 'sh' ? [] : undefined;
      else if (current) blocks.push(current.join('\n'));
      inFence = !inFence;
      continue;
    }
    if (!inFence && /^#+ /.test(line) && line.indexOf(' ') <= level) break;
    if (inFence && current) current.push(line.replace(/^ {0,3}/, ''));
  }
  return blocks;
}

const SECTIONS = ['## Identity', '## Storing and fetching parameters', '### Commands'];
/** Lines a reader completes (a fingerprint, a revocation's id): left out, and checked to be exactly these. */
const PLACEHOLDERS = [
  'npx parley admin revoke --fingerprint 5F:2B:…:2C --expires-at 2030-01-31T12:00:00Z $A',
  'npx parley admin revocations rm 42 $A',
];

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

describe('the README walkthrough, as written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-readme-'));
  chmodSync(dir, 0o755); // the embedded PostgreSQL runs as its own user when the tests run as root
  const home = join(dir, 'home');
  afterAll(async () => {
    await stopAllParley();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the blocks it runs, and only the known placeholder lines to leave out', () => {
    const lines = SECTIONS.flatMap((s) => shBlocks(README, s)).flatMap((b) => b.split('\n'));
    expect(lines.filter((l) => l.includes('npx parley')).length).toBeGreaterThan(20);
    expect(lines.filter((l) => l.includes('…') || / 42 /.test(l)).map((l) => l.trim())).toEqual(PLACEHOLDERS);
  });

  it('runs from `npm start` to policies, revocations, allowlists and audit', async () => {
    for (const port of [8443, 8444, 9464]) {
      if (!(await portFree(port))) throw new Error(`the README walkthrough runs on the default ports: 127.0.0.1:${port} is in use`);
    }
    mkdirSync(home);
    // What the examples take as given: a model file and its signature, a downloads directory, a rule and a Casbin policy file.
    writeFileSync(join(dir, 'model.bin'), Buffer.alloc(3 * 1024 * 1024 + 17, 7));
    mkdirSync(join(dir, 'downloads'));
    writeFileSync(join(dir, 'model.sig'), '{"signature":"MEUCIQ"}');
    writeFileSync(join(dir, 'rule.json'), JSON.stringify({ id: 'from-file', effect: 'deny', subjects: [{ trustDomain: 'other.example' }], methods: ['/parley.store.v1.StoreService/Pull'] }));
    writeFileSync(join(dir, 'policy.csv'), 'p, spiffe://partner.example/ns/ml/sa/puller, /parley.store.v1.StoreService/Pull, allow\n');

    // `npm start` = `node bin/parley.js serve` in the checkout; here in its own directory (so
    // ./.parley is the test's), bound to 127.0.0.1 as network tests are.
    const gateway = runParley(['serve'], { cwd: dir, env: { PARLEY_GRPC_PORT: '8443', PARLEY_ADMIN_PORT: '8444' } });
    await waitForReady('http://127.0.0.1:9464', 120_000, gateway);

    const blocks = SECTIONS.flatMap((s) => shBlocks(README, s).map((b, i) => ({ name: `${s} #${i + 1}`, text: b })));
    const script = [
      'set -euo pipefail',
      `npx() { if [ "$1" = parley ]; then shift; node ${JSON.stringify(join(ROOT, 'bin/parley.js'))} "$@"; else command npx "$@"; fi; }`,
      ...blocks.map((b) => [
        `echo "::: ${b.name}"`,
        // The placeholder lines are whole one-line commands, so dropping them leaves the others intact.
        b.text.split('\n').filter((l) => !PLACEHOLDERS.includes(l.trim())).join('\n'),
      ].join('\n')),
      'echo "::: done"',
    ].join('\n');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8' };
    const run = await bash(script, dir, env);
    const show = `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}\n--- gateway\n${gateway.output().slice(-4000)}`;
    if (run.code !== 0) throw new Error(`the walkthrough stopped (exit ${run.code}):\n${show}`);
    expect(run.stdout).toContain('::: done');

    // Identity: the admin's curl reached /v1/identity as the admin.
    expect(run.stdout).toContain('"caller":{"spiffeId":"spiffe://parley.local/parley/admin","roles":["admin"]');
    // Identities live under ~/.parley, not in the working directory.
    expect(readdirSync(join(home, '.parley')).sort()).toEqual(['admin', 'trainer']);
    expect(existsSync(join(home, '.parley/admin/svid.p12'))).toBe(true);
    // Storing and fetching: both pulls are the pushed bytes; list shows the record.
    const model = readFileSync(join(dir, 'model.bin'));
    expect(readFileSync(join(dir, 'model-copy.bin')).equals(model)).toBe(true);
    const downloaded = readdirSync(join(dir, 'downloads'));
    expect(downloaded).toHaveLength(1);
    expect(readFileSync(join(dir, 'downloads', downloaded[0]!)).equals(model)).toBe(true);
    expect(run.stdout).toContain(downloaded[0]!);
    // Referrers: the signature came back as pushed.
    expect(readFileSync(join(dir, 'model.sig.copy'), 'utf8')).toBe('{"signature":"MEUCIQ"}');
    // Commands: the audit export was written, with its header.
    expect(readFileSync(join(dir, 'audit.csv'), 'utf8')).toMatch(/^id,/);
  });
});
