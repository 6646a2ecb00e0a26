import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/ports';
import { startGateway, type Gateway, type Svid } from './support/gateway';
import { DESCRIPTOR_SET, jsonLines, peer, run, startPeer, type RunningPeer } from './support/peers';

const GATEWAY_ID = 'spiffe://parley.local/parley/gateway';

/**
 * Federation with go-spiffe v2 both ways: federation.FetchBundle reads Parley's bundle
 * endpoint (https_spiffe), and Parley polls a go-spiffe federation.Handler serving a
 * partner's bundle. The partner's workload then calls Store under the default policy
 * (Lookup and Pull allowed, Push refused) and a partner CA rotation is picked up live.
 */
describe('federation with go-spiffe (federation.FetchBundle, federation.Handler)', () => {
  let dir: string;
  let partner: RunningPeer;
  let gw: Gateway;
  let own: Svid;
  let cid: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-interop-partner-'));
    partner = startPeer(peer('parley-interop'), ['serve-bundle', '--td', 'partner.test', '--out', dir, '--refresh-hint', '2s']);
    const listening = await partner.line((l) => typeof l.listening === 'string');
    gw = await startGateway({
      federation: {
        bundleEndpoint: { enabled: true, host: '127.0.0.1', profile: 'https_spiffe', refreshHint: '5s' },
        relationships: [
          {
            trustDomain: 'partner.test',
            profile: 'https_spiffe',
            endpointUrls: [`https://${listening.listening as string}`],
            endpointSpiffeId: listening.endpointId,
            bootstrapBundle: readFileSync(join(dir, 'bundle.pem'), 'utf8'),
          },
        ],
        poll: { minInterval: '1s' },
      },
    });
    own = await gw.issue('spiffe://parley.local/ns/interop/publisher');
    const pushed = jsonLines((await client(own.cert, own.key, 'push')).stdout);
    expect(pushed[0]).toMatchObject({ code: 'OK' });
    cid = pushed[0].cid as string;
  });
  afterAll(async () => {
    await gw?.stop();
    await partner?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (cert: string, key: string, steps: string, extra: string[] = []) =>
    run(peer('parley-interop'), ['client', '--addr', `127.0.0.1:${gw.grpcPort}`, '--gateway-id', GATEWAY_ID, '--cert', cert, '--key', key, '--bundle', own?.bundle ?? '', '--descriptors', DESCRIPTOR_SET, '--steps', steps, ...extra]);
  const codes = async (workload: string, steps: string) =>
    jsonLines((await client(`${workload}.pem`, `${workload}.key`, steps, ['--cid', cid])).stdout).map((l) => `${l.step as string}:${l.code as string}`);

  it('federation.FetchBundle reads our bundle endpoint over https_spiffe', async () => {
    const r = await run(peer('parley-interop'), ['fetch-bundle', '--url', `https://127.0.0.1:${gw.bundlePort}`, '--td', 'parley.local', '--endpoint-id', GATEWAY_ID, '--bundle', own.bundle]);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ trustDomain: 'parley.local', x509Authorities: expect.any(Number), refreshHintSeconds: 5 });
    expect(jsonLines(r.stdout)[0].x509Authorities).toBeGreaterThanOrEqual(1);
  });

  it('federation.FetchBundle refuses our endpoint when it expects another SPIFFE ID', async () => {
    const r = await run(peer('parley-interop'), ['fetch-bundle', '--url', `https://127.0.0.1:${gw.bundlePort}`, '--td', 'parley.local', '--endpoint-id', 'spiffe://parley.local/not/us', '--bundle', own.bundle]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('unexpected ID');
  });

  it('a partner workload (bundle polled from federation.Handler) may Lookup and Pull under the default policy, not Push', async () => {
    const workload = join(dir, 'workload-1');
    expect(await codes(workload, 'lookup,pull,push')).toEqual(['lookup:OK', 'pull:OK', 'push:PermissionDenied']);
  });

  it('picks up a partner CA rotation without a restart', async () => {
    partner.child.kill('SIGUSR1');
    await partner.line((l) => l.rotated === 2);
    const workload = join(dir, 'workload-2');
    await waitFor(async () => (await codes(workload, 'lookup')).join() === 'lookup:OK', 60_000, 1000);
    expect(await codes(workload, 'pull,push')).toEqual(['pull:OK', 'push:PermissionDenied']);
    expect(gw.proc.child.exitCode).toBeNull();
  });
});
