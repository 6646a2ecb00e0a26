/**
 * Two real gateways federated through the CLI: acme.test serves its bundle on its bundle
 * endpoint; partner.test's operator exports it, adds an https_spiffe relationship with it as
 * the bootstrap bundle, and the poller fetches acme.test's bundle over the real endpoint
 * (SVID verified, no host name check). Then deny, static upload, list/show and removal.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BundleRow } from '../../../src/cli/commands/admin/bundle';
import { requireTrustDomain, SpiffeBundle } from '../../../src/spiffe';
import { adminCliFlags } from '../../support/admin-cli';
import { startTestGateway, type TestGateway } from '../../support/gateway';
import { TestCa } from '../../support/test-ca';
import { runCli } from '../cli/cli-process';
import { TrustStore } from '../../../src/trust';
import { AuditWriter } from '../../../src/authz';

jest.setTimeout(90_000);

const ACME = requireTrustDomain('acme.test');
const PARTNER = requireTrustDomain('partner.test');
const LAB = requireTrustDomain('lab.test');

describe('parley admin federation / bundle (two gateways)', () => {
  let acme: TestGateway;
  let partner: TestGateway;
  let cwd: string;
  let onAcme: string[];
  let onPartner: string[];

  beforeAll(async () => {
    [acme, partner] = await Promise.all([
      startTestGateway({ PARLEY_FEDERATION_BUNDLE_ENDPOINT_ENABLED: 'true', PARLEY_FEDERATION_BUNDLE_ENDPOINT_HOST: '127.0.0.1', PARLEY_FEDERATION_BUNDLE_ENDPOINT_PORT: '0' }),
      startTestGateway({ PARLEY_IDENTITY_TRUST_DOMAIN: 'partner.test', PARLEY_FEDERATION_POLL_TIMEOUT: '3s' }),
    ]);
    cwd = mkdtempSync(join(tmpdir(), 'parley-fed-cli-'));
    onAcme = await adminCliFlags(acme, join(cwd, 'acme'));
    onPartner = await adminCliFlags(partner, join(cwd, 'partner'));
  });
  afterAll(async () => {
    await acme?.stop();
    await partner?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('exports our own bundle as SPIFFE JSON (with sequence and refresh hint) or PEM', async () => {
    const json = await runCli(['admin', 'bundle', 'export', '-o', join(cwd, 'acme-bundle.json'), ...onAcme], cwd);
    expect(json.stderr).toContain('bundle of acme.test written to');
    expect(json.code).toBe(0);
    const bundle = SpiffeBundle.parse(readFileSync(join(cwd, 'acme-bundle.json')), ACME);
    expect(bundle.sequence).toBe(1n);
    expect(bundle.refreshHint).toBe(300);
    expect(bundle.x509Authorities.map((c) => c.fingerprint256)).toEqual(acme.gateway.get(TrustStore).getX509Authorities(ACME)!.map((c) => c.fingerprint256));
    const pem = await runCli(['admin', 'bundle', 'export', 'acme.test', '--pem', ...onAcme], cwd);
    expect(pem.code).toBe(0);
    expect(pem.stdout).toContain('-----BEGIN CERTIFICATE-----');
  });

  it('federates partner.test with acme.test over https_spiffe using the exported bundle as bootstrap', async () => {
    const add = await runCli(
      [
        'admin', 'federation', 'add', 'acme.test', '--profile', 'https_spiffe',
        '--url', `https://127.0.0.1:${acme.gateway.listeners.bundleEndpoint!.port}/`,
        '--endpoint-id', 'spiffe://acme.test/parley/gateway',
        '--bootstrap-bundle', join(cwd, 'acme-bundle.json'),
        '--json',
        ...onPartner,
      ],
      cwd,
    );
    expect(add.stderr).toBe('federation with acme.test created\n');
    expect(add.code).toBe(0);
    // The status after the first fetch, not the pending one before it.
    expect(JSON.parse(add.stdout)).toMatchObject({ trustDomain: 'acme.test', state: 'ready', polls: 1, sequence: '1' });
    const refresh = await runCli(['admin', 'federation', 'refresh', 'acme.test', '--json', ...onPartner], cwd);
    expect(refresh.code).toBe(0);
    expect(JSON.parse(refresh.stdout)).toMatchObject({ trustDomain: 'acme.test', profile: 'https_spiffe', state: 'ready', sequence: '1', refreshHint: 300 });
    expect(partner.gateway.get(TrustStore).getX509Authorities(ACME)?.map((c) => c.fingerprint256)).toEqual(acme.gateway.get(TrustStore).getX509Authorities(ACME)!.map((c) => c.fingerprint256));
    // The CLI calls the documented route (audited as sent).
    await partner.gateway.get(AuditWriter).flush();
    const audited = await runCli(['admin', 'audit', '--method', 'POST /v1/federations/acme.test/refresh', '--json', ...onPartner], cwd);
    expect(audited.code).toBe(0);
    expect(JSON.parse(audited.stdout)).toEqual([expect.objectContaining({ method: 'POST /v1/federations/acme.test/refresh', decision: 'allow' })]);

    const list = await runCli(['admin', 'federation', 'list', ...onPartner], cwd);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^acme\.test\s+https_spiffe\s+ready\s+seq 1\s+1 CA/);
    const show = await runCli(['admin', 'federation', 'show', 'acme.test', ...onPartner], cwd);
    expect(show.stdout).toContain('state:           ready');
    expect(show.stdout).toContain('endpoint id:     spiffe://acme.test/parley/gateway');
  });

  it('denies an authority, then removes the relationship', async () => {
    const fingerprint = acme.gateway.get(TrustStore).getX509Authorities(ACME)![0].fingerprint256;
    const deny = await runCli(['admin', 'federation', 'deny', 'acme.test', fingerprint, '--json', ...onPartner], cwd);
    expect(deny.code).toBe(0);
    expect(JSON.parse(deny.stdout)).toMatchObject({ authorities: [], deniedInBundle: [fingerprint.split(':').join('').toLowerCase()] });
    expect(partner.gateway.get(TrustStore).getX509Authorities(ACME)).toEqual([]);
    const rm = await runCli(['admin', 'federation', 'rm', 'acme.test', ...onPartner], cwd);
    expect(rm.code).toBe(0);
    expect(partner.gateway.get(TrustStore).get(ACME)).toBeUndefined();
    const again = await runCli(['admin', 'federation', 'rm', 'acme.test', ...onPartner], cwd);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no relationship');
  });

  it('add waits for the first fetch: an endpoint that never answers is shown failing, not pending', async () => {
    // Accepts connections and never says a word: the fetch ends at federation.poll.timeout (3s here).
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const started = Date.now();
      const add = await runCli(['admin', 'federation', 'add', 'silent.test', '--profile', 'https_web', '--url', `https://127.0.0.1:${port}/`, '--json', ...onPartner], cwd);
      expect(add.code).toBe(0);
      expect(Date.now() - started).toBeGreaterThan(2500);
      const status = JSON.parse(add.stdout) as { state: string; polls: number; lastError?: { reason: string } };
      expect(status).toMatchObject({ trustDomain: 'silent.test', polls: 1, lastError: { reason: expect.any(String) } });
      expect(status.state).not.toBe('pending');
      expect((await runCli(['admin', 'federation', 'rm', 'silent.test', ...onPartner], cwd)).code).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('adds a static relationship with its bundle file, and explains itself in --help', async () => {
    const lab = await TestCa.create({ trustDomain: 'lab.test' });
    writeFileSync(join(cwd, 'lab.pem'), lab.certPem);
    const add = await runCli(['admin', 'federation', 'add', 'lab.test', '--profile', 'static', '--partner-bundle', join(cwd, 'lab.pem'), '--json', ...onPartner], cwd);
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ trustDomain: 'lab.test', state: 'ready', authorities: [{ fingerprint: lab.certificate.fingerprint256.split(':').join('').toLowerCase() }] });
    const bad = await runCli(['admin', 'federation', 'add', 'bad.test', '--profile', 'https_web', '--url', 'http://bad.test/', ...onPartner], cwd);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('endpointUrls[0]: must use https');
    const help = await runCli(['admin', 'federation', 'add', '--help'], cwd);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--partner-bundle');
  });

  it('lists the held bundles (own and a partner) with sequence, refresh hint and first expiry', async () => {
    const firstExpiry = (td: typeof ACME) => new Date(Math.min(...partner.gateway.get(TrustStore).getX509Authorities(td)!.map((c) => new Date(c.validTo).getTime()))).toISOString();
    const list = await runCli(['admin', 'bundle', 'list', ...onPartner], cwd);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const lines = list.stdout.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^lab\\.test +federation +1 CA  seq \\d+ +hint \\d+s +until ${firstExpiry(LAB)}$`));
    expect(lines[1]).toMatch(new RegExp(`^partner\\.test +own +${partner.gateway.get(TrustStore).getX509Authorities(PARTNER)!.length} CA  seq 1 +hint 300s +until ${firstExpiry(PARTNER)}$`));
    expect(lines[2]).toBe('');

    const json = await runCli(['admin', 'bundle', 'list', '--json', ...onPartner], cwd);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout) as BundleRow[]).toEqual([
      { trustDomain: 'lab.test', own: false, relationship: true, authorities: 1, sequence: expect.stringMatching(/^\d+$/), refreshHint: expect.any(Number), earliestNotAfter: firstExpiry(LAB) },
      { trustDomain: 'partner.test', own: true, relationship: false, authorities: partner.gateway.get(TrustStore).getX509Authorities(PARTNER)!.length, sequence: '1', refreshHint: 300, earliestNotAfter: firstExpiry(PARTNER) },
    ]);
    const help = await runCli(['admin', 'bundle', 'list', '--help'], cwd);
    expect(help.stdout).toContain('Examples:\n  $ parley admin bundle list');
  });
});
