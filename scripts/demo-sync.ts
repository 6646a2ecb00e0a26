/**
 * `npm run demo:sync`: acme.demo shares ml/shared with partner.demo, and partner.demo's
 * gateway syncs it, on this machine.
 *
 *  1. acme.demo and partner.demo start (each with its embedded PostgreSQL and dev CA) and
 *     federate both ways through their bundle endpoints.
 *  2. acme.demo's operator exports ml/shared to partner.demo; a trainer pushes records there
 *     (one signed: a signature referrer) and one to ml/private.
 *  3. partner.demo's operator creates a one-shot sync; the sync worker asks acme.demo for a
 *     grant with its own SVID and copies. Progress is printed as it runs.
 *  4. Every record arrives under partners/acme.demo with its referrers and provenance,
 *     byte-identical; ml/private does not.
 *  5. A partner workload tries to read outside the export (List without a grant; List and Pull
 *     of ml/private with a grant for ml/shared): refused.
 *
 * Everything listens on 127.0.0.1 with free ports and lives in a temporary directory that
 * is removed at the end. DEMO_LOG=info shows the gateways' logs.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { syncToText } from '../src/cli/commands/sync';
import { loadConfig } from '../src/config/load';
import { FederationService } from '../src/federation';
import { startGateway, type Gateway } from '../src/gateway';
import { DevCa } from '../src/identity/dev-ca/dev-ca';
import { requireSpiffeId, requireTrustDomain } from '../src/spiffe';
import { StoreClient, storeChannelOptions } from '../src/store';
import { ExportStore, SyncClient, type WireSync } from '../src/sync';
import { spiffeChannelCredentials } from '../src/tls/client-credentials';
import { TrustStore } from '../src/trust';

interface Side {
  name: string;
  gateway: Gateway;
  ca: DevCa;
}

export type Say = (text: string) => void;

const TERMINAL = new Set(['SYNC_STATUS_COMPLETED', 'SYNC_STATUS_FAILED', 'SYNC_STATUS_DELETED']);

async function startSide(name: string, root: string, say: Say): Promise<Side> {
  const { config } = loadConfig({
    cwd: root,
    env: {
      PARLEY_DATA_DIR: join(root, name),
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
  const gateway = await startGateway(config, pino({ level: process.env.DEMO_LOG ?? 'silent' }).child({ gateway: name }));
  const ca = await DevCa.open({
    dir: join(config.dataDir, 'dev-ca', name),
    trustDomain: requireTrustDomain(name),
    caTtlMs: config.identity.devCa.caTtl,
    svidTtlMs: 600_000,
    publishLeadMs: config.identity.devCa.caPublishLead,
  });
  say(`${name}: gRPC 127.0.0.1:${gateway.listeners.grpc?.port}, bundle endpoint https://127.0.0.1:${gateway.listeners.bundleEndpoint?.port}/`);
  return { name, gateway, ca };
}

async function federate(self: Side, partner: Side, say: Say): Promise<void> {
  const bootstrap = partner.gateway.get(FederationService).ownBundleDocument();
  if (bootstrap === undefined) throw new Error(`${partner.name} publishes no bundle`);
  const federations = self.gateway.get(FederationService);
  await federations.create({
    trustDomain: partner.name,
    profile: 'https_spiffe',
    endpointUrls: [`https://127.0.0.1:${partner.gateway.listeners.bundleEndpoint?.port}/`],
    endpointSpiffeId: `spiffe://${partner.name}/parley/gateway`,
    bootstrapBundle: bootstrap,
  });
  const status = await federations.refreshNow(partner.name);
  if (status.state !== 'ready') throw new Error(`federation ${self.name} -> ${partner.name} is ${status.state}`);
  say(`${self.name} federates with ${partner.name}: ${status.state}`);
}

/** Credentials of a workload of `of` calling `target`'s gateway; `grant`: sent as `authorization: Bearer`. */
async function credentialsOf(of: Side, id: string, target: Side, grant?: string): Promise<{ address: string; credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions }> {
  const svid = await of.ca.issue(requireSpiffeId(id));
  let credentials = spiffeChannelCredentials({
    svid: { certChainPem: svid.certPem, keyPem: svid.keyPem },
    trust: of.gateway.get(TrustStore),
    server: { id: requireSpiffeId(`spiffe://${target.name}/parley/gateway`) },
  });
  if (grant !== undefined) {
    const bearer = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${grant}`);
      callback(null, md);
    });
    credentials = grpc.credentials.combineChannelCredentials(credentials, bearer);
  }
  // Dialing an IP: the trust domain goes as TLS server name (TLS forbids IP addresses there).
  return { address: `127.0.0.1:${target.gateway.listeners.grpc?.port}`, credentials, options: { ...storeChannelOptions(), 'grpc.ssl_target_name_override': target.name } };
}

async function storeClient(of: Side, id: string, target: Side, grant?: string): Promise<StoreClient> {
  const c = await credentialsOf(of, id, target, grant);
  return new StoreClient(c.address, c.credentials, c.options);
}

async function syncClient(of: Side, id: string, target: Side): Promise<SyncClient> {
  const c = await credentialsOf(of, id, target);
  return new SyncClient(c.address, c.credentials, c.options);
}

/** acme.demo's records: three in ml/shared (the first signed), one in ml/private. */
async function pushRecords(acme: Side, say: Say): Promise<{ shared: Map<string, Buffer>; privateCid: string }> {
  const trainer = await storeClient(acme, 'spiffe://acme.demo/ns/ml/sa/trainer', acme);
  try {
    const shared = new Map<string, Buffer>();
    for (const [ns, size, model] of [['ml/shared', 3_000_000, 'tiny'], ['ml/shared/eval', 40_000, 'tiny-eval'], ['ml/shared', 512, 'config']] as const) {
      const bytes = randomBytes(size);
      const cid = await trainer.push({ namespace: ns, media_type: 'application/octet-stream', annotations: { model } }, bytes);
      shared.set(cid, bytes);
      say(`  trainer pushed ${cid.slice(0, 16)}… to ${ns} (${size} bytes, model=${model})`);
    }
    const first = [...shared.keys()][0];
    await trainer.pushReferrer(first, { type: 'signature', media_type: 'application/json', data: Buffer.from('{"alg":"ES256","sig":"demo"}'), annotations: { signer: 'ci' } });
    say(`  signer attached a signature to ${first.slice(0, 16)}…`);
    const privateCid = await trainer.push({ namespace: 'ml/private', media_type: 'application/octet-stream', annotations: { model: 'secret' } }, randomBytes(1000));
    say(`  trainer pushed ${privateCid.slice(0, 16)}… to ml/private (not exported)`);
    return { shared, privateCid };
  } finally {
    trainer.close();
  }
}

function progressLine(s: WireSync): string {
  const c = s.counters;
  const reason = s.failure_reason === 'FAILURE_REASON_UNSPECIFIED' ? '' : ` ${s.failure_reason.replace('FAILURE_REASON_', '')}`;
  return `  ${s.status.replace('SYNC_STATUS_', '')}${reason}: ${c.transferred} copied, ${c.skipped} held, ${c.failed} failed of ${c.discovered} found, ${c.bytes} bytes${s.message ? ` (${s.message})` : ''}`;
}

/** partner.demo's operator creates the sync and follows it until it ends (at most 40 s). */
async function runSync(partner: Side, acme: Side, say: Say): Promise<WireSync> {
  const ops = await syncClient(partner, 'spiffe://partner.demo/ns/ops/sa/operator', partner);
  try {
    let sync = await ops.createSync({ remote_address: `127.0.0.1:${acme.gateway.listeners.grpc?.port}`, remote_trust_domain: acme.name, selection: { namespaces: ['ml/shared'] } });
    say(`partner.demo's operator created sync ${sync.sync_id}: ${sync.remote_spiffe_id} -> ${sync.target_namespace}`);
    let last = '';
    const deadline = Date.now() + 40_000;
    while (!TERMINAL.has(sync.status) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      sync = await ops.getSync(sync.sync_id);
      const line = progressLine(sync);
      if (line !== last) say((last = line));
    }
    return sync;
  } finally {
    ops.close();
  }
}

/** What arrived at partner.demo, as a partner workload reads it, checked against acme.demo's bytes. */
async function showArrivals(partner: Side, shared: Map<string, Buffer>, say: Say): Promise<boolean> {
  const reader = await storeClient(partner, 'spiffe://partner.demo/ns/ml/sa/reader', partner);
  let ok = true;
  try {
    const page = await reader.list({ namespace: `partners/${'acme.demo'}`, include_sub_namespaces: true, page_size: 100 });
    say(`partner.demo now holds ${page.records.length} record(s) under partners/acme.demo:`);
    for (const r of page.records) {
      const pulled = await reader.pullAll(r.cid);
      const same = shared.get(r.cid)?.equals(pulled.data) === true;
      ok &&= same;
      const referrers = await reader.pullReferrers(r.cid);
      say(`  ${r.cid.slice(0, 16)}…  ${r.namespace}  ${pulled.data.length} bytes  ${same ? 'byte-identical' : 'DIFFERENT'}  from ${r.annotations['parley.sync.source-gateway']}`);
      for (const ref of referrers) say(`      + referrer ${ref.type} (${ref.media_type}, ${Buffer.from(ref.data ?? []).length} bytes)`);
    }
    ok &&= page.records.length === shared.size;
  } finally {
    reader.close();
  }
  return ok;
}

async function refused(what: string, call: Promise<unknown>, say: Say): Promise<boolean> {
  try {
    await call;
    say(`  UNEXPECTED: ${what} succeeded`);
    return false;
  } catch (err) {
    const code = (err as grpc.ServiceError).code;
    say(`  ${what}: refused, ${grpc.status[code] ?? String(code)}`);
    return code === grpc.status.PERMISSION_DENIED || code === grpc.status.UNAUTHENTICATED;
  }
}

/** A partner workload outside the export: List without a grant, then with a grant on ml/private. */
async function tryOutside(partner: Side, acme: Side, privateCid: string, say: Say): Promise<boolean> {
  const id = 'spiffe://partner.demo/ns/ml/sa/curious';
  say(`${id} reads acme.demo outside the export:`);
  const plain = await storeClient(partner, id, acme);
  const sync = await syncClient(partner, id, acme);
  let granted: StoreClient | undefined;
  try {
    let ok = await refused('List of ml/shared without a grant', plain.list({ namespace: 'ml/shared', page_size: 10 }), say);
    const grant = await sync.requestRegistryCredentials();
    say(`  it asks for a grant: scope ${grant.scope.map((s) => `${s.namespaces.join(',')} [${s.actions.join(',')}]`).join('; ')}, expires ${new Date(Number(grant.expires_at?.seconds) * 1000).toISOString()}`);
    granted = await storeClient(partner, id, acme, grant.token);
    ok = (await refused('List of ml/private with that grant', granted.list({ namespace: 'ml/private', page_size: 10 }), say)) && ok;
    ok = (await refused(`Pull of ${privateCid.slice(0, 16)}… (ml/private) with that grant`, granted.pullAll(privateCid), say)) && ok;
    return ok;
  } finally {
    for (const c of [plain, sync, granted]) c?.close();
  }
}

/** The whole story; true when every step came out as it should. */
export async function runSyncDemo(say: Say): Promise<boolean> {
  const root = mkdtempSync(join(tmpdir(), 'parley-demo-sync-'));
  chmodSync(root, 0o755); // the embedded PostgreSQL runs as the postgres user when we are root
  const sides: Side[] = [];
  try {
    say('starting two gateways (embedded PostgreSQL each)…');
    const [acme, partner] = await Promise.all([startSide('acme.demo', root, say), startSide('partner.demo', root, say)]);
    sides.push(acme, partner);
    await federate(acme, partner, say);
    await federate(partner, acme, say);

    await acme.gateway.get(ExportStore).put({ id: 'ml-shared', partner: { trustDomain: partner.name }, namespaces: ['ml/shared'], actions: ['list', 'lookup', 'pull', 'pull_referrer'] }, 'demo');
    say('acme.demo exports ml/shared to partner.demo (list, lookup, pull, pull_referrer); nothing else is exported');
    const { shared, privateCid } = await pushRecords(acme, say);

    const sync = await runSync(partner, acme, say);
    const arrived = await showArrivals(partner, shared, say);
    const outside = await tryOutside(partner, acme, privateCid, say);
    say('final status of the sync:');
    for (const line of syncToText(sync).split('\n')) say(`  ${line}`);
    return sync.status === 'SYNC_STATUS_COMPLETED' && arrived && outside;
  } finally {
    await Promise.all(sides.map((s) => s.gateway.close()));
    rmSync(root, { recursive: true, force: true });
    say('stopped both gateways');
  }
}

if (require.main === module) {
  const t0 = performance.now();
  const say: Say = (text) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${text}\n`);
  runSyncDemo(say).then(
    (ok) => {
      if (!ok) say('the demo did not come out as it should (see above)');
      process.exitCode = ok ? 0 : 1;
    },
    (err: unknown) => {
      process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
