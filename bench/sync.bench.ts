/**
 * Sync throughput and memory: 1 GiB in 64 records (BENCH_SYNC_RECORDS, BENCH_SYNC_RECORD_MIB)
 * on gateway A (acme.bench), synced to gateway B (partner.bench), against pulling the same
 * records from A with `parley pull`'s own code, in the same run.
 *
 * Two real `parley serve` processes (each its own embedded PostgreSQL), federated through
 * static bundles exchanged with `parley admin bundle export` / `admin federation add`; A
 * exports bench/sync to partner.bench (`parley admin export add`). Then BENCH_SYNC_ROUNDS
 * rounds (default 3), alternating which side goes first:
 * - sync: a workload of B creates a one-shot sync (SyncService over mTLS) and polls GetSync
 *   every 50 ms until COMPLETED; MiB/s over create -> COMPLETED. B's worker asks A for a
 *   grant, lists, pulls, verifies every digest and stores into its PostgreSQL. The copies
 *   are then deleted on B, so the next round copies everything again.
 * - baseline: a workload of partner.bench pulls the same records from A over one mTLS
 *   connection with pullToFile (what `parley pull` runs: to <file>.partial, sha256 checked,
 *   renamed), one after the other, into files that are removed afterwards. In-process, so no
 *   CLI start-up per record counts against the baseline.
 * Results: sync_<n>mib_<k>_records MiB/s with ratio to the pull (goal >= 0.8); the peak VmRSS
 * of B (the syncing gateway, /proc every 100 ms, its PostgreSQL not included) over the sync
 * rounds (goal < 250 MiB); and 1/0 for "every round copied every record".
 */
import { randomFill } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pullToFile } from '../src/cli/commands/store/pull';
import { openClientIdentity, type ClientConnection } from '../src/cli/client-identity';
import { StoreClient, storeChannelOptions } from '../src/store';
import { SyncClient } from '../src/sync';
import { comparedResult, envInt, roundsResult, type BenchResult } from './bench-result';
import { startGatewayProcess, type GatewayProcess } from './gateway-process';
import { cpuMs, rssBytes, sampleRss } from './proc-stats';

export type { BenchResult };

const MiB = 1024 * 1024;
const A_TD = 'acme.bench';
const B_TD = 'partner.bench';
const NAMESPACE = 'bench/sync';
const POLL_MS = 50;
const SYNC_TIMEOUT_MS = 15 * 60_000;

interface Side {
  name: string;
  gw: GatewayProcess;
  adminFlags: string[];
}

async function issue(side: Side, id: string, out: string): Promise<{ svid: string; key: string; bundle: string }> {
  await side.gw.cli(['dev', 'issue', '--id', id, '--out', out]);
  return { svid: join(out, 'svid.pem'), key: join(out, 'svid.key'), bundle: join(out, 'bundle.pem') };
}

async function startSide(name: string): Promise<Side> {
  const gw = await startGatewayProcess(`parley-bench-sync-${name.split('.')[0]}`, { PARLEY_IDENTITY_TRUST_DOMAIN: name });
  const side: Side = { name, gw, adminFlags: [] };
  const admin = await issue(side, `spiffe://${name}/parley/admin`, join(gw.dir, 'admin'));
  side.adminFlags = ['--server', `127.0.0.1:${gw.adminPort}`, '--svid', admin.svid, '--key', admin.key, '--bundle', admin.bundle];
  return side;
}

/** Each side adds the other as a static federation with the bundle its operator exported. */
async function federate(a: Side, b: Side): Promise<{ aBundlePem: string }> {
  const files = { a: join(a.gw.dir, 'own-bundle.json'), b: join(b.gw.dir, 'own-bundle.json'), aPem: join(a.gw.dir, 'own-bundle.pem') };
  await a.gw.cli(['admin', 'bundle', 'export', '-o', files.a, ...a.adminFlags]);
  await a.gw.cli(['admin', 'bundle', 'export', '--pem', '-o', files.aPem, ...a.adminFlags]);
  await b.gw.cli(['admin', 'bundle', 'export', '-o', files.b, ...b.adminFlags]);
  await a.gw.cli(['admin', 'federation', 'add', b.name, '--profile', 'static', '--partner-bundle', files.b, ...a.adminFlags]);
  await b.gw.cli(['admin', 'federation', 'add', a.name, '--profile', 'static', '--partner-bundle', files.a, ...b.adminFlags]);
  return { aBundlePem: files.aPem };
}

function randomFillAsync(buf: Buffer): Promise<Buffer> {
  return new Promise((res, rej) => randomFill(buf, (err, b) => (err ? rej(err) : res(b))));
}

async function connect(side: Side, id: string, out: string, target: { server: string; trustDomain: string; bundle?: string }): Promise<ClientConnection> {
  const files = await issue(side, id, out);
  return openClientIdentity({ svid: files.svid, key: files.key, bundle: target.bundle ?? files.bundle, server: target.server, serverTrustDomain: target.trustDomain });
}

const storeOf = (c: ClientConnection) => new StoreClient(c.address, c.credentials, { ...storeChannelOptions(), ...c.channelOptions });

/** `count` records of `size` random bytes into A's bench/sync; their CIDs. */
async function seed(a: Side, count: number, size: number): Promise<string[]> {
  const conn = await connect(a, `spiffe://${A_TD}/ns/bench/sa/trainer`, join(a.gw.dir, 'trainer'), { server: `127.0.0.1:${a.gw.grpcPort}`, trustDomain: A_TD });
  const client = storeOf(conn);
  const buf = Buffer.alloc(size);
  const cids: string[] = [];
  try {
    for (let i = 0; i < count; i++) cids.push(await client.push({ namespace: NAMESPACE, media_type: 'application/octet-stream', annotations: { part: String(i) } }, await randomFillAsync(buf)));
  } finally {
    client.close();
    await conn.close();
  }
  return cids;
}

interface Clients {
  syncs: SyncClient;
  bStore: StoreClient;
  puller: StoreClient;
  close(): Promise<void>;
}

async function openClients(a: Side, b: Side, aBundlePem: string): Promise<Clients> {
  const bOps = await connect(b, `spiffe://${B_TD}/ns/ops/sa/sync`, join(b.gw.dir, 'ops'), { server: `127.0.0.1:${b.gw.grpcPort}`, trustDomain: B_TD });
  const pullConn = await connect(b, `spiffe://${B_TD}/ns/bench/sa/puller`, join(b.gw.dir, 'puller'), { server: `127.0.0.1:${a.gw.grpcPort}`, trustDomain: A_TD, bundle: aBundlePem });
  const syncs = new SyncClient(bOps.address, bOps.credentials, bOps.channelOptions);
  const bStore = storeOf(bOps);
  const puller = storeOf(pullConn);
  return {
    syncs,
    bStore,
    puller,
    close: async () => {
      for (const c of [syncs, bStore, puller]) c.close();
      await Promise.all([bOps.close(), pullConn.close()]);
    },
  };
}

/** One sync round: ms from CreateSync to COMPLETED and whether every record was copied; the copies are deleted after. */
async function syncRound(a: Side, clients: Clients, cids: string[], round: number): Promise<{ ms: number; complete: boolean }> {
  const started = performance.now();
  let sync = await clients.syncs.createSync({ remote_address: `127.0.0.1:${a.gw.grpcPort}`, remote_trust_domain: A_TD, selection: { namespaces: [NAMESPACE] }, target_namespace: `bench/round-${round}` });
  const deadline = Date.now() + SYNC_TIMEOUT_MS;
  while (!['SYNC_STATUS_COMPLETED', 'SYNC_STATUS_FAILED', 'SYNC_STATUS_DELETED'].includes(sync.status)) {
    if (Date.now() > deadline) throw new Error(`sync bench: sync ${sync.sync_id} not done within ${SYNC_TIMEOUT_MS} ms (${sync.status}: ${sync.message})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
    sync = await clients.syncs.getSync(sync.sync_id);
  }
  const ms = performance.now() - started;
  if (sync.status !== 'SYNC_STATUS_COMPLETED') throw new Error(`sync bench: sync ended ${sync.status} ${sync.failure_reason}: ${sync.message}`);
  const complete = Number(sync.counters.transferred) === cids.length;
  for (const cid of cids) await clients.bStore.delete(cid);
  return { ms, complete };
}

/** One baseline round: the records pulled from A one after the other into files (removed after). */
async function pullRound(dir: string, clients: Clients, cids: string[]): Promise<number> {
  const started = performance.now();
  for (const cid of cids) await pullToFile(clients.puller, cid, join(dir, `${cid}.bin`), true, () => undefined);
  const ms = performance.now() - started;
  for (const cid of cids) rmSync(join(dir, `${cid}.bin`), { force: true });
  return ms;
}

/** CPU ms per MiB moved, per round, of gateway A (exporting), gateway B (syncing) and the bench process (the pulling client). */
interface CpuRounds {
  a: number[];
  b: number[];
  bench: number[];
}

/** Starts counting the CPU time of both gateways and of this process; `add` records it per MiB. */
function cpuOf(a: Side, b: Side): { add(into: CpuRounds, mib: number): void } {
  const a0 = cpuMs(a.gw.pid);
  const b0 = cpuMs(b.gw.pid);
  const self0 = process.cpuUsage();
  return {
    add(into, mib) {
      const self = process.cpuUsage(self0);
      into.a.push((cpuMs(a.gw.pid) - a0) / mib);
      into.b.push((cpuMs(b.gw.pid) - b0) / mib);
      into.bench.push((self.user + self.system) / 1000 / mib);
    },
  };
}

/**
 * Where the CPU goes (PostgreSQL's own processes not counted): on 2 cores a sync runs two
 * gateways and two databases against a pull's one gateway, one database and a client.
 */
function cpuResults(side: 'sync' | 'pull', r: CpuRounds): BenchResult[] {
  const unit = 'CPU ms per MiB';
  return [
    roundsResult(`${side}_cpu_ms_per_mib_exporting_gateway`, unit, r.a),
    roundsResult(`${side}_cpu_ms_per_mib_syncing_gateway`, unit, r.b, side === 'pull' ? 'idle during the pull' : undefined),
    roundsResult(`${side}_cpu_ms_per_mib_bench_process`, unit, r.bench, side === 'pull' ? 'the pulling client' : 'its status polls'),
  ];
}

export async function run(): Promise<BenchResult[]> {
  const records = envInt('BENCH_SYNC_RECORDS', 64, 1);
  const recordBytes = envInt('BENCH_SYNC_RECORD_MIB', 16, 1) * MiB;
  const rounds = envInt('BENCH_SYNC_ROUNDS', 3, 1);
  const totalMib = (records * recordBytes) / MiB;
  const sides: Side[] = [];
  try {
    const [a, b] = await Promise.all([startSide(A_TD), startSide(B_TD)]);
    sides.push(a, b);
    const { aBundlePem } = await federate(a, b);
    await a.gw.cli(['admin', 'export', 'add', 'bench', '--trust-domain', B_TD, '--namespace', NAMESPACE, '--action', 'list', '--action', 'lookup', '--action', 'pull', '--action', 'pull_referrer', ...a.adminFlags]);
    const cids = await seed(a, records, recordBytes);
    const clients = await openClients(a, b, aBundlePem);
    const idleRss = rssBytes(b.gw.pid) ?? 0;
    const syncRates: number[] = [];
    const pullRates: number[] = [];
    const syncCpu: CpuRounds = { a: [], b: [], bench: [] };
    const pullCpu: CpuRounds = { a: [], b: [], bench: [] };
    let peak = 0;
    let complete = true;
    try {
      for (let i = 0; i < rounds; i++) {
        const syncFirst = i % 2 === 0;
        const doSync = async () => {
          const rss = sampleRss(b.gw.pid);
          const cpu = cpuOf(a, b);
          try {
            const r = await syncRound(a, clients, cids, i);
            syncRates.push(totalMib / (r.ms / 1000));
            complete &&= r.complete;
            cpu.add(syncCpu, totalMib);
          } finally {
            peak = Math.max(peak, rss.stop());
          }
        };
        const doPull = async () => {
          const cpu = cpuOf(a, b);
          pullRates.push(totalMib / ((await pullRound(b.gw.dir, clients, cids)) / 1000));
          cpu.add(pullCpu, totalMib);
        };
        for (const step of syncFirst ? [doSync, doPull] : [doPull, doSync]) await step();
        process.stderr.write(`  sync round ${i + 1}/${rounds}: sync ${syncRates[i]!.toFixed(1)} MiB/s, pull ${pullRates[i]!.toFixed(1)} MiB/s, peak RSS of B so far ${(peak / MiB).toFixed(0)} MiB\n`);
      }
    } finally {
      await clients.close();
    }
    const label = `${Math.round(totalMib)}mib_${records}_records`;
    return [
      comparedResult(`sync_${label}`, 'MiB/s', syncRates, `parley pull of the same records from A`, pullRates, { note: 'create -> COMPLETED', target: '>= 0.8' }),
      { name: 'sync_gateway_rss_idle_mib', value: idleRss / MiB, unit: 'MiB' },
      { name: 'sync_gateway_rss_peak_mib', value: peak / MiB, unit: 'MiB (syncing gateway, over the sync rounds)', target: '< 250' },
      { name: 'sync_every_record_copied', value: complete ? 1 : 0, unit: '1/0' },
      ...cpuResults('sync', syncCpu),
      ...cpuResults('pull', pullCpu),
    ];
  } finally {
    await Promise.all(sides.map((s) => s.gw.stop()));
  }
}

if (require.main === module) {
  run().then(
    (results) => {
      for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`sync bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
