/**
 * `npm run demo:federation`: two gateways of two trust domains on this machine, federated
 * end to end, then the federation withdrawn.
 *
 *  1. acme.demo and partner.demo start (each with its embedded PostgreSQL and dev CA) and
 *     serve their own bundles on their bundle endpoints (https_spiffe).
 *  2. The operators exchange bundles once, out of band (`parley admin bundle export`), and
 *     each creates an https_spiffe relationship to the other with it as bootstrap bundle.
 *     Each poller fetches the partner's bundle over the real endpoint, verifying its SVID.
 *  3. A workload of acme.demo pushes a record to its gateway; a workload of partner.demo
 *     pulls it from acme.demo over mTLS (the default policy grants federated domains Pull).
 *  4. acme.demo deletes the relationship: the partner's bundle leaves its trust store, and
 *     the partner workload's next call is refused at the handshake.
 *
 * Everything listens on 127.0.0.1 with free ports and lives in a temporary directory that
 * is removed at the end. DEMO_LOG=info shows the gateways' logs.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import pino from 'pino';
import { loadConfig } from '../src/config/load';
import { startGateway, type Gateway } from '../src/gateway';
import { DevCa } from '../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain } from '../src/spiffe';
import { StoreClient, storeChannelOptions } from '../src/store';
import { spiffeChannelCredentials } from '../src/tls/client-credentials';
import { FederationService } from '../src/federation';
import { ReadinessRegistry } from '../src/ops';
import { TrustStore } from '../src/trust';

interface Side {
  name: string;
  gateway: Gateway;
  dataDir: string;
  ca: DevCa;
}

const t0 = performance.now();
const say = (text: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${text}\n`);

async function startSide(name: string, root: string): Promise<Side> {
  const dir = join(root, name);
  const { config } = loadConfig({
    cwd: root,
    env: {
      PARLEY_DATA_DIR: dir,
      PARLEY_IDENTITY_TRUST_DOMAIN: name,
      PARLEY_GRPC_HOST: '127.0.0.1',
      PARLEY_GRPC_PORT: '0',
      PARLEY_ADMIN_PORT: '0',
      PARLEY_OPS_PORT: '0',
      PARLEY_FEDERATION_BUNDLE_ENDPOINT_ENABLED: 'true',
      PARLEY_FEDERATION_BUNDLE_ENDPOINT_HOST: '127.0.0.1',
      PARLEY_FEDERATION_BUNDLE_ENDPOINT_PORT: '0',
    },
  });
  const logger = pino({ level: process.env.DEMO_LOG ?? 'silent' }).child({ gateway: name });
  const gateway = await startGateway(config, logger);
  const ca = await DevCa.open({
    dir: join(config.dataDir, 'dev-ca', name),
    trustDomain: requireTrustDomain(name),
    caTtlMs: config.identity.devCa.caTtl,
    svidTtlMs: 600_000,
    publishLeadMs: config.identity.devCa.caPublishLead,
  });
  say(`${name}: gRPC 127.0.0.1:${gateway.listeners.grpc?.port}, bundle endpoint https://127.0.0.1:${gateway.listeners.bundleEndpoint?.port}/`);
  return { name, gateway, dataDir: dir, ca };
}

/** `self` federates with `partner`, bootstrapped with the bundle the partner's operator handed over. */
async function federate(self: Side, partner: Side): Promise<void> {
  const bootstrap = partner.gateway.get(FederationService).ownBundleDocument();
  if (bootstrap === undefined) throw new Error(`${partner.name} publishes no bundle`);
  await self.gateway.get(FederationService).create({
    trustDomain: partner.name,
    profile: 'https_spiffe',
    endpointUrls: [`https://127.0.0.1:${partner.gateway.listeners.bundleEndpoint?.port}/`],
    endpointSpiffeId: `spiffe://${partner.name}/parley/gateway`,
    bootstrapBundle: bootstrap,
  });
  const status = await self.gateway.get(FederationService).refreshNow(partner.name);
  say(`${self.name} -> ${partner.name}: ${status.state}, sequence ${status.sequence ?? '-'}, ${status.authorities.length} authority(ies)${status.lastError ? ` (${status.lastError.reason}: ${status.lastError.detail})` : ''}`);
  if (status.state !== 'ready') throw new Error(`federation ${self.name} -> ${partner.name} is ${status.state}`);
}

async function workloadClient(of: Side, id: string, target: Side): Promise<StoreClient> {
  const svid = await of.ca.issue(requireSpiffeId(id));
  const credentials = spiffeChannelCredentials({
    svid: { certChainPem: svid.certPem, keyPem: svid.keyPem },
    trust: of.gateway.get(TrustStore),
    server: { id: requireSpiffeId(`spiffe://${target.name}/parley/gateway`) },
  });
  // Dialing an IP: send the trust domain as TLS server name (TLS forbids IP addresses there).
  return new StoreClient(`127.0.0.1:${target.gateway.listeners.grpc?.port}`, credentials, { ...storeChannelOptions(), 'grpc.ssl_target_name_override': target.name });
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'parley-demo-'));
  chmodSync(root, 0o755); // the embedded PostgreSQL runs as the postgres user when we are root
  const sides: Side[] = [];
  const clients: StoreClient[] = [];
  try {
    say('starting two gateways (embedded PostgreSQL each)…');
    const [acme, partner] = await Promise.all([startSide('acme.demo', root), startSide('partner.demo', root)]);
    sides.push(acme, partner);

    say('exchanging bundles and creating https_spiffe relationships…');
    await federate(acme, partner);
    await federate(partner, acme);
    const report = await acme.gateway.get(ReadinessRegistry).evaluate(2000);
    say(`acme.demo readiness, federation check: ${report.checks.find((c) => c.name === 'federation')?.reason ?? 'n/a'}`);

    const trainer = await workloadClient(acme, 'spiffe://acme.demo/ns/ml/sa/trainer', acme);
    const puller = await workloadClient(partner, 'spiffe://partner.demo/ns/ml/sa/puller', acme);
    clients.push(trainer, puller);
    const weights = Buffer.from('tiny model weights, version 1\n');
    const cid = await trainer.push({ namespace: 'ml/tiny', media_type: 'application/octet-stream', annotations: { model: 'tiny' } }, weights);
    say(`spiffe://acme.demo/ns/ml/sa/trainer pushed ${cid} to acme.demo`);
    const pulled = await puller.pullAll(cid);
    say(`spiffe://partner.demo/ns/ml/sa/puller pulled it from acme.demo: ${pulled.data.length} bytes, ${pulled.data.equals(weights) ? 'identical' : 'DIFFERENT'}`);

    say('acme.demo deletes its relationship with partner.demo…');
    await acme.gateway.get(FederationService).remove('partner.demo');
    say(`acme.demo trusts partner.demo: ${acme.gateway.get(TrustStore).get(requireTrustDomain('partner.demo')) === undefined ? 'no' : 'yes'}`);
    const late = await workloadClient(partner, 'spiffe://partner.demo/ns/ml/sa/puller', acme);
    clients.push(late);
    try {
      await late.pullAll(cid);
      say('UNEXPECTED: the pull still succeeded');
      process.exitCode = 1;
    } catch (err) {
      const e = err as { code?: number; details?: string; message: string };
      const code = e.code === undefined ? 'error' : (status[e.code] ?? String(e.code));
      say(`partner.demo's next pull is refused (${code}): the handshake fails, acme.demo no longer holds its bundle`);
    }
  } finally {
    for (const c of clients) c.close();
    await Promise.all(sides.map((s) => s.gateway.close()));
    rmSync(root, { recursive: true, force: true });
    say('stopped both gateways');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
