/**
 * The registry face's pull throughput and memory: oras pulling a 1 GiB record
 * (BENCH_REGISTRY_MIB) from Parley's OCI registry face, against `parley pull` of the same
 * record from the same gateway, in the same run.
 *
 * One `parley serve` process (its own embedded PostgreSQL) with the registry face on
 * (registry.port 0) and its dev CA naming `localhost`, so oras verifies the gateway by host
 * name as any registry client does. A workload identity from `parley dev issue` pushes a
 * random file with `parley push`; then BENCH_REGISTRY_ROUNDS rounds (default 3), the order of
 * the two tools turning every round so neither always finds the caches warm:
 * - baseline: `parley pull <cid> -o <file>` (a child process: start-up, mTLS, Lookup, Pull,
 *   its own sha256 check, rename);
 * - oras: `oras pull localhost:<port>/<namespace>:<cid> -o <dir>` with the same client
 *   certificate (--ca-file/--cert-file/--key-file; the record's layer is titled by its CID,
 *   so oras writes <dir>/<cid>).
 * MiB/s over each child's wall time. After each pull (outside the timing) the file's sha256
 * is compared with the pushed file's, and the file removed; a mismatch fails the module.
 * Results: registry_pull_oras_<n>mib with ratio oras / parley pull (target >= 0.8: the
 * registry path at least 0.8 of the native pull), and the gateway's peak VmRSS while oras
 * pulled (/proc every 100 ms, its PostgreSQL not included; target < 250 MiB); and the
 * gateway's CPU seconds per GiB served to each tool.
 *
 * oras is built by `bash test/interop/setup.sh` into test/interop/.cache/bin/oras
 * (BENCH_ORAS names another binary); without it the module fails and says so.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { comparedResult, envInt, type BenchResult } from './bench-result';
import { repoRoot, startGatewayProcess, type GatewayProcess } from './gateway-process';
import { cpuMs, rssBytes, sampleRss } from './proc-stats';
import { sha256File, writeRandomFile } from '../test/support/random-file';

export type { BenchResult };

const MiB = 1024 * 1024;
const WORKLOAD = 'spiffe://parley.local/ns/bench/sa/registry';
const NAMESPACE = 'bench/registry';
const ORAS_TIMEOUT_MS = 30 * 60_000;

/** The oras binary: BENCH_ORAS, else the one test/interop/setup.sh builds. @throws when it is absent, saying how to build it */
function orasBinary(): string {
  const path = process.env.BENCH_ORAS || join(repoRoot(), 'test/interop/.cache/bin/oras');
  if (!existsSync(path)) throw new Error(`registry bench: oras is not at ${path}: run \`bash test/interop/setup.sh\` (it builds test/interop/.cache/bin/oras) or set BENCH_ORAS`);
  return path;
}

/** Runs `cmd` to the end; its wall time in ms. @throws with its stderr on a non-zero exit */
function timedRun(cmd: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8192)));
    const timer = setTimeout(() => child.kill('SIGKILL'), ORAS_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args[0] ?? ''} failed (${code ?? signal}): ${stderr.trim()}`));
    });
  });
}

interface Setup {
  gw: GatewayProcess;
  /** The parley CLI's identity flags against the gRPC listener. */
  identity: string[];
  /** oras's TLS flags (same certificate). */
  orasTls: string[];
  ref: string;
  cid: string;
  digest: string;
}

async function setUp(gw: GatewayProcess, bytes: number): Promise<Setup> {
  const client = join(gw.dir, 'client');
  await gw.cli(['dev', 'issue', '--id', WORKLOAD, '--out', client]);
  const [svid, key, bundle] = ['svid.pem', 'svid.key', 'bundle.pem'].map((f) => join(client, f)) as [string, string, string];
  const identity = ['--server', `127.0.0.1:${gw.grpcPort}`, '--svid', svid, '--key', key, '--bundle', bundle];
  const source = join(gw.dir, 'source.bin');
  const digest = await writeRandomFile(source, bytes);
  const cid = (await gw.cli(['push', source, '-n', NAMESPACE, '-q', ...identity])).stdout.trim();
  rmSync(source, { force: true });
  const orasTls = ['--plain-http=false', '--ca-file', bundle, '--cert-file', svid, '--key-file', key];
  return { gw, identity, orasTls, ref: `localhost:${gw.registryPort}/${NAMESPACE}:${cid}`, cid, digest };
}

/** Throws unless `path` holds the pushed bytes; removes it either way. */
async function checkAndRemove(path: string, s: Setup, tool: string): Promise<void> {
  try {
    const got = await sha256File(path);
    if (got !== s.digest) throw new Error(`registry bench: ${tool} wrote sha256 ${got}, the record is ${s.digest}`);
  } finally {
    rmSync(path, { force: true });
  }
}

async function parleyPull(s: Setup, work: string): Promise<number> {
  const file = join(work, 'parley-pull.bin');
  const { ms } = await s.gw.cli(['pull', s.cid, '-o', file, '-q', ...s.identity]);
  await checkAndRemove(file, s, 'parley pull');
  return ms;
}

async function orasPull(oras: string, s: Setup, work: string): Promise<number> {
  const out = join(work, 'oras');
  // A HOME of its own: no credentials or config of the user's reach oras.
  const home = join(work, 'home');
  mkdirSync(home, { recursive: true });
  try {
    const ms = await timedRun(oras, ['pull', '-o', out, s.ref, ...s.orasTls], { cwd: work, env: { ...process.env, HOME: home } });
    await checkAndRemove(join(out, s.cid), s, 'oras pull');
    return ms;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const oras = orasBinary();
  const mib = envInt('BENCH_REGISTRY_MIB', 1024, 1);
  const rounds = envInt('BENCH_REGISTRY_ROUNDS', 3, 1);
  const label = `${mib}mib`;
  const perGib = (cpu: number) => cpu / 1000 / (mib / 1024);
  const gw = await startGatewayProcess('parley-bench-registry', {}, {
    config: { identity: { devCa: { dnsNames: ['localhost'] } }, registry: { enabled: true, host: '127.0.0.1', port: 0 } },
  });
  const work = mkdtempSync(join(tmpdir(), 'parley-bench-registry-pulls-'));
  try {
    if (gw.registryPort === undefined) throw new Error('registry bench: the gateway logged no registry listener');
    const s = await setUp(gw, mib * MiB);
    const idleRss = rssBytes(gw.pid) ?? 0;
    const orasRates: number[] = [];
    const pullRates: number[] = [];
    const orasCpu: number[] = [];
    const pullCpu: number[] = [];
    let orasPeak = 0;
    let pullPeak = 0;
    for (let i = 0; i < rounds; i++) {
      const doOras = async () => {
        const rss = sampleRss(gw.pid);
        const cpu = cpuMs(gw.pid);
        try {
          const ms = await orasPull(oras, s, work);
          orasCpu.push(cpuMs(gw.pid) - cpu);
          orasRates.push(mib / (ms / 1000));
        } finally {
          orasPeak = Math.max(orasPeak, rss.stop());
        }
      };
      const doPull = async () => {
        const rss = sampleRss(gw.pid);
        const cpu = cpuMs(gw.pid);
        try {
          const ms = await parleyPull(s, work);
          pullCpu.push(cpuMs(gw.pid) - cpu);
          pullRates.push(mib / (ms / 1000));
        } finally {
          pullPeak = Math.max(pullPeak, rss.stop());
        }
      };
      for (const step of i % 2 === 0 ? [doPull, doOras] : [doOras, doPull]) await step();
      process.stderr.write(`  registry round ${i + 1}/${rounds}: oras ${orasRates[i]!.toFixed(1)} MiB/s, parley pull ${pullRates[i]!.toFixed(1)} MiB/s, gateway peak RSS so far ${(orasPeak / MiB).toFixed(0)} MiB (oras), ${(pullPeak / MiB).toFixed(0)} MiB (parley pull)\n`);
    }
    return [
      comparedResult(`registry_pull_oras_${label}`, 'MiB/s', orasRates, `parley pull of the same record`, pullRates, { note: 'oras child wall time, sha256 checked after', target: '>= 0.8' }),
      // The gateway's CPU per GiB served (sampled around each pull, so the digest check after it counts only on an idle gateway): higher is worse.
      comparedResult('registry_gateway_cpu_s_per_gib_oras', 's/GiB', orasCpu.map(perGib), 'the same for parley pull', pullCpu.map(perGib), { note: 'gateway process, user + system' }),
      { name: 'registry_gateway_rss_idle_mib', value: idleRss / MiB, unit: 'MiB' },
      { name: 'registry_gateway_rss_peak_mib', value: orasPeak / MiB, unit: 'MiB (gateway, over the oras pulls)', target: '< 250 MiB' },
      { name: 'registry_gateway_rss_peak_parley_pull_mib', value: pullPeak / MiB, unit: 'MiB (gateway, over the parley pulls)' },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
    await gw.stop();
  }
}

if (require.main === module) {
  run().then(
    (results) => {
      for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`registry bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
