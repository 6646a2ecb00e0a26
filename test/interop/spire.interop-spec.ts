import { mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from '../support/ports';
import { startGateway, type Gateway } from './support/gateway';
import { DESCRIPTOR_SET, jsonLines, peer, python, run } from './support/peers';
import { SPIRE_TD, startSpire, type Spire } from './support/spire';

const AGENT = `spiffe://${SPIRE_TD}/agent`;
const SPIRE_GATEWAY = `spiffe://${SPIRE_TD}/parley/gateway`;
const PARLEY_GATEWAY = 'spiffe://parley.local/parley/gateway';
const WORKLOAD = `spiffe://${SPIRE_TD}/ns/interop/workload`;

/**
 * Real SPIRE v1.13.3 (join-token node attestation, unix workload attestation):
 * - Parley in SPIRE's trust domain takes its SVID (with the entry's DNS name) from the agent;
 *   its SVID rotates every ~10 s under call load with zero failed calls;
 * - a second Parley (own trust domain, dev CA) federates with SPIRE both ways: it polls
 *   SPIRE's bundle endpoint (https_spiffe) and SPIRE polls Parley's; SPIRE's workload calls
 *   Store under the default policy (Lookup, Pull; no Push); a SPIRE CA rotation is picked up.
 */
describe('SPIRE v1.13.3 server and agent', () => {
  let spire: Spire;
  let own: Gateway;
  let federated: Gateway;
  const harness = () => peer('parley-interop');
  const client = (gw: Gateway, gatewayId: string, steps: string, extra: string[] = []) =>
    run(harness(), ['client', '--addr', `127.0.0.1:${gw.grpcPort}`, '--gateway-id', gatewayId, '--workload-api', `unix://${spire.agentSocket}`, '--descriptors', DESCRIPTOR_SET, '--steps', steps, ...extra], { timeoutMs: 180_000 });
  const entry = (spiffeId: string, selector: string, ...extra: string[]) =>
    spire.server('entry', 'create', '-parentID', AGENT, '-spiffeID', spiffeId, '-selector', selector, '-x509SVIDTTL', '20', ...extra);

  beforeAll(async () => {
    const parleyBundlePort = await freePort();
    spire = await startSpire({ trustDomain: 'parley.local', url: `https://127.0.0.1:${parleyBundlePort}`, endpointId: PARLEY_GATEWAY });
    await entry(SPIRE_GATEWAY, `unix:path:${realpathSync(process.execPath)}`, '-dns', 'localhost');
    await entry(`spiffe://${SPIRE_TD}/ns/interop/cli`, `unix:path:${peer('spire-agent')}`);
    own = await startGateway(
      { identity: { trustDomain: SPIRE_TD, source: 'workload-api', spiffeId: SPIRE_GATEWAY, workloadApi: { address: `unix://${spire.agentSocket}`, startTimeout: '90s' } }, tls: { maxConnectionAge: '4s', maxConnectionAgeGrace: '10s' } },
    );
    const spireBundle = await spire.server('bundle', 'show', '-format', 'pem');
    federated = await startGateway(
      {
        federation: {
          bundleEndpoint: { enabled: true, host: '127.0.0.1', profile: 'https_spiffe', refreshHint: '5s' },
          relationships: [{ trustDomain: SPIRE_TD, profile: 'https_spiffe', endpointUrls: [`https://127.0.0.1:${spire.bundlePort}`], endpointSpiffeId: `spiffe://${SPIRE_TD}/spire/server`, bootstrapBundle: spireBundle }],
          poll: { minInterval: '1s' },
        },
      },
      {},
      parleyBundlePort,
    );
    const publisher = await federated.issue('spiffe://parley.local/ns/interop/publisher');
    await spire.server('bundle', 'set', '-id', 'spiffe://parley.local', '-path', publisher.bundle);
    await entry(WORKLOAD, `unix:path:${harness()}`, '-federatesWith', 'spiffe://parley.local');
  });
  afterAll(async () => {
    await own?.stop();
    await federated?.stop();
    await spire?.stop();
  });

  it('Parley (identity.source workload-api) serves a go-spiffe workload of its trust domain: Health, Push, Lookup, Pull', async () => {
    const steps = await waitFor(async () => {
      const out = jsonLines((await client(own, SPIRE_GATEWAY, 'health,push,lookup,pull')).stdout);
      return out.length === 4 && out.every((l) => l.code === 'OK') ? out : undefined;
    }, 60_000, 2000);
    expect(steps[3]).toMatchObject({ same: true });
  });

  it('grpcio verifies the SPIRE-issued gateway SVID by its DNS name (the entry\'s -dns)', async () => {
    const out = join(spire.dir, 'cli-svid');
    mkdirSync(out, { recursive: true });
    await waitFor(async () => (await run(peer('spire-agent'), ['api', 'fetch', 'x509', '-socketPath', spire.agentSocket, '-write', out])).code === 0, 60_000, 2000);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['svid.0.pem', 'svid.0.key', 'bundle.0.pem']));
    const r = await python('client.py', ['--addr', `localhost:${own.grpcPort}`, '--root', join(out, 'bundle.0.pem'), '--cert', join(out, 'svid.0.pem'), '--key', join(out, 'svid.0.key'), '--steps', 'health']);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ service: '', code: 'OK', status: 'SERVING' });
  });

  it('rotates the gateway SVID (20 s TTL) under call load with zero failed calls', async () => {
    const serial = async () => /serial=([0-9A-F]+)/i.exec((await run('bash', ['-c', `openssl s_client -connect 127.0.0.1:${own.grpcPort} </dev/null 2>/dev/null | openssl x509 -noout -serial`])).stdout)?.[1];
    const before = await serial();
    const r = await client(own, SPIRE_GATEWAY, 'health,push,lookup,pull', ['--duration', '45s']);
    const after = await serial();
    const steps = jsonLines(r.stdout);
    expect(steps.length).toBeGreaterThan(40);
    expect(steps.filter((s) => s.code !== 'OK')).toEqual([]);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  describe('federated with a Parley of another trust domain', () => {
    let cid: string;
    beforeAll(async () => {
      const publisher = await federated.issue('spiffe://parley.local/ns/interop/publisher');
      const pushed = jsonLines(
        (await run(harness(), ['client', '--addr', `127.0.0.1:${federated.grpcPort}`, '--gateway-id', PARLEY_GATEWAY, '--cert', publisher.cert, '--key', publisher.key, '--bundle', publisher.bundle, '--descriptors', DESCRIPTOR_SET, '--steps', 'push'])).stdout,
      );
      cid = pushed[0].cid as string;
    });

    it('SPIRE polls Parley\'s bundle endpoint (https_spiffe, endpoint ID of the gateway)', async () => {
      await waitFor(() => /Bundle refreshed.*parley\.local|trust_domain=parley\.local.*[Rr]efreshed/.test(spireOutput()), 60_000, 1000);
    });

    it('a SPIRE workload (SVID and Parley\'s bundle from its agent) may Lookup and Pull under the default policy, not Push', async () => {
      const codes = await waitFor(async () => {
        const out = jsonLines((await client(federated, PARLEY_GATEWAY, 'lookup,pull,push', ['--cid', cid])).stdout).map((l) => `${l.step as string}:${l.code as string}`);
        return out[0] === 'lookup:OK' ? out : undefined;
      }, 60_000, 2000);
      expect(codes).toEqual(['lookup:OK', 'pull:OK', 'push:PermissionDenied']);
    });

    it('picks up a SPIRE CA rotation (localauthority x509 prepare, activate) without a restart', async () => {
      const prepared = /Authority ID: (\S+)/.exec(await spire.server('localauthority', 'x509', 'prepare'))?.[1];
      expect(prepared).toBeDefined();
      await new Promise((r) => setTimeout(r, 8_000)); // Parley polls SPIRE's bundle (refresh hint 5 s)
      await spire.server('localauthority', 'x509', 'activate', '-authorityID', prepared as string);
      await new Promise((r) => setTimeout(r, 25_000)); // the workloads' 20 s SVIDs are renewed by the new CA
      // An SVID the agent hands out now is signed by the new authority (its ID is the CA's key ID).
      const out = join(spire.dir, 'after-rotation');
      mkdirSync(out, { recursive: true });
      await run(peer('spire-agent'), ['api', 'fetch', 'x509', '-socketPath', spire.agentSocket, '-write', out]);
      const aki = (await run('openssl', ['x509', '-in', join(out, 'svid.0.pem'), '-noout', '-ext', 'authorityKeyIdentifier'])).stdout;
      expect(aki.replace(/keyid:|[\s:]|X509v3 Authority Key Identifier/g, '').toLowerCase()).toBe(prepared);
      const r = await client(federated, PARLEY_GATEWAY, 'lookup,pull', ['--cid', cid, '--duration', '10s']);
      const steps = jsonLines(r.stdout);
      expect(steps.length).toBeGreaterThan(2);
      expect(steps.filter((s) => s.code !== 'OK')).toEqual([]);
      expect(federated.proc.child.exitCode).toBeNull();
    });
  });

  const spireOutput = () => spire.output();
});
