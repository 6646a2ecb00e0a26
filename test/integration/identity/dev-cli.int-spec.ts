import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkloadApiSource } from '../../../src/identity/workload-api/workload-api-client';
import { BundleSet, parseX509Svid, requireTrustDomain, verifyX509Svid, X509Bundle } from '../../../src/spiffe';
import { waitFor } from '../../support/ports';
import { runParley, runParleyToEnd, stopAllParley } from '../../support/parley-process';

jest.setTimeout(60_000);

describe('parley dev commands', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'parley-dev-'));
  chmodSync(cwd, 0o755);
  afterEach(() => stopAllParley());
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('`dev issue` writes an SVID, a 0600 key and the bundle that verifies it', async () => {
    const out = join(cwd, 'trainer');
    const run = await runParleyToEnd(['dev', 'issue', '--id', 'spiffe://parley.local/ns/ml/sa/trainer', '--out', out, '--ttl', '30m'], { cwd });
    expect(run.code).toBe(0);
    expect(run.output).toContain('issued spiffe://parley.local/ns/ml/sa/trainer valid until');
    const svid = parseX509Svid(readFileSync(join(out, 'svid.pem')), readFileSync(join(out, 'svid.key')));
    expect(statSync(join(out, 'svid.key')).mode & 0o777).toBe(0o600);
    const lifetime = svid.notAfter.getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(25 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(30 * 60_000);
    const bundle = X509Bundle.parse(requireTrustDomain('parley.local'), readFileSync(join(out, 'bundle.pem')));
    expect(verifyX509Svid(svid.certChainDer(), new BundleSet([bundle]), { role: 'client' }).id.toString()).toBe('spiffe://parley.local/ns/ml/sa/trainer');
  });

  it('`dev issue` refuses bad input with a clear message', async () => {
    const other = await runParleyToEnd(['dev', 'issue', '--id', 'spiffe://elsewhere.test/x', '--out', join(cwd, 'x')], { cwd });
    expect(other.code).not.toBe(0);
    expect(other.output).toContain("not in the dev CA's trust domain parley.local");
    const bad = await runParleyToEnd(['dev', 'issue', '--id', 'spiffe://parley.local/a/../b', '--out', join(cwd, 'x')], { cwd });
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/--id: .*(dot|path)/i);
    const ttl = await runParleyToEnd(['dev', 'issue', '--id', 'spiffe://parley.local/x', '--out', join(cwd, 'x'), '--ttl', 'soon'], { cwd });
    expect(ttl.code).not.toBe(0);
    expect(ttl.output).toContain('--ttl: must be a duration');
  });

  it('`dev workload-api` serves the Workload API that the identity source consumes', async () => {
    const socket = join(cwd, 'agent.sock');
    const server = runParley(['dev', 'workload-api', '--socket', socket, '--id', 'spiffe://parley.local/ns/ml/sa/trainer'], { cwd });
    await waitFor(() => {
      try {
        return statSync(socket).isSocket();
      } catch {
        return false;
      }
    }, 20_000);
    const source = new WorkloadApiSource({ address: `unix://${socket}`, startTimeoutMs: 10_000 });
    try {
      const snapshot = await source.start();
      expect(snapshot.svid.id.toString()).toBe('spiffe://parley.local/ns/ml/sa/trainer');
      expect(snapshot.bundles.getX509Authorities(requireTrustDomain('parley.local'))).toHaveLength(1);
    } finally {
      await source.stop();
    }
    expect((await server.stop('SIGINT')).code).toBe(0);
    expect(() => statSync(socket)).toThrow();
  });
});
