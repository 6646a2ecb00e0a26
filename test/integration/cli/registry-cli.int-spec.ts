/**
 * `parley registry login-config` (built CLI) against a real gateway's registry face: writes
 * the cert dir skopeo and oras take, prints their flags, and asks the token endpoint for a
 * grant with the client SVID.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExportStore } from '../../../src/sync';
import { issueSvid, PARTNER, startFederatedPair } from '../../support/federation';
import type { TestGateway } from '../../support/gateway';
import { REGISTRY_ENV, registryRequest } from '../registry/registry-harness';
import { runCli } from './cli-process';

jest.setTimeout(180_000);

describe('parley registry login-config', () => {
  let acme: TestGateway;
  let partner: TestGateway;

  beforeAll(async () => {
    ({ acme, partner } = await startFederatedPair({ acme: { ...REGISTRY_ENV, PARLEY_IDENTITY_DEV_CA_DNS_NAMES: '[localhost]' } }));
  });
  afterAll(async () => {
    await Promise.all([acme?.stop(), partner?.stop()]);
  });

  async function svidFiles(gw: TestGateway, path: string, dir: string): Promise<string[]> {
    const svid = await issueSvid(gw, path);
    const bundle = (await import('../registry/registry-harness')).authoritiesPem(gw, acme.config.identity.trustDomain);
    writeFileSync(join(dir, 'svid.pem'), svid.certChainPem);
    writeFileSync(join(dir, 'svid.key'), svid.keyPem);
    writeFileSync(join(dir, 'bundle.pem'), bundle);
    return ['--svid', join(dir, 'svid.pem'), '--key', join(dir, 'svid.key'), '--bundle', join(dir, 'bundle.pem'), '--server-trust-domain', acme.config.identity.trustDomain];
  }

  it('writes the cert dir (key 0600) and prints skopeo and oras flags', async () => {
    const identity = await svidFiles(acme, '/ml/app', acme.dir);
    const out = join(acme.dir, 'oci-certs');
    const run = await runCli(['registry', 'login-config', '--out', out, '--server', `localhost:${acme.gateway.listeners.registry!.port}`, ...identity], acme.dir);
    expect(run).toMatchObject({ code: 0 });
    expect(run.stdout).toContain(`--src-cert-dir ${out}`);
    expect(run.stdout).toContain(`--ca-file ${join(out, 'ca.crt')} --cert-file ${join(out, 'client.cert')} --key-file ${join(out, 'client.key')}`);
    expect(statSync(join(out, 'client.key')).mode & 0o777).toBe(0o600);
    // The files are a working identity for the registry.
    const svid = { certChainPem: readFileSync(join(out, 'client.cert'), 'utf8'), keyPem: readFileSync(join(out, 'client.key'), 'utf8') };
    expect((await registryRequest(acme, svid, 'GET', '/v2/')).status).toBe(200);
  });

  it('with --token asks the token endpoint with the SVID: a grant for a partner, a clear refusal when nothing is exported', async () => {
    const identity = await svidFiles(partner, '/parley/gateway', partner.dir);
    const args = ['registry', 'login-config', '--out', join(partner.dir, 'certs'), '--server', `localhost:${acme.gateway.listeners.registry!.port}`, '--token', '--json', ...identity];
    const refused = await runCli(args, partner.dir);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('/token answered 403');
    await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: PARTNER }, namespaces: ['ml/shared'], actions: ['list'] }, 'test');
    const granted = await runCli(args, partner.dir);
    expect(granted).toMatchObject({ code: 0 });
    const printed = JSON.parse(granted.stdout) as { token: string; flags: { oras: string } };
    expect(printed.token.split('.')).toHaveLength(3);
    expect(printed.flags.oras).toContain('--registry-token "$PARLEY_REGISTRY_TOKEN"');
  });
});
