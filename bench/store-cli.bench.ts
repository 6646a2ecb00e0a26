/**
 * End-to-end store round trip through the real CLI and a real gateway process.
 *
 * A `parley serve` child (its own embedded PostgreSQL in a temp dir), a client identity
 * from `parley dev issue`, a random file (default 1 GiB, `BENCH_CLI_BYTES` to change it),
 * then `parley push` and `parley pull` as child processes:
 * - store_cli_push_<n>mib / store_cli_pull_<n>mib: MiB/s over the wall time of the CLI
 *   process (start-up and the mTLS handshake included). baseline node_stream_copy_<n>mib:
 *   the same file copied with node streams (createReadStream -> createWriteStream) on the
 *   same disk in the same run, so ratio = CLI / local copy.
 * - store_cli_gateway_rss_{idle,peak_push,peak_pull}_mib: VmRSS of the gateway process
 *   (from /proc/<pid>/status every 100 ms; the embedded PostgreSQL is not included).
 * - store_cli_roundtrip_digest_match: 1 when the pulled file's sha256 equals the source's
 *   and the CID printed by push is the one computed locally, else 0.
 *
 * Run on its own: `npx swc bench src migrations test/support -d dist --config-file .swcrc -q`
 * then `node -e "require('./dist/bench/store-cli.bench.js').run().then(r=>console.log(r))"`.
 * Needs dist/ built (bin/parley.js runs dist/src/cli/main.js).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFill } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { freePort } from '../src/common/net';
import { ContentId } from '../src/store/domain/content-id';
import type { BenchResult } from './bench-result';

export type { BenchResult };

const MiB = 1024 * 1024;
const DEFAULT_BYTES = 1024 * MiB;
const SAMPLE_MS = 100;
const READY_TIMEOUT_MS = 180_000;
const CLI_TIMEOUT_MS = 30 * 60_000;
const TRAINER = 'spiffe://parley.local/ns/bench/sa/cli';

function randomFillAsync(buf: Buffer, offset: number, size: number): Promise<void> {
  return new Promise((res, rej) => randomFill(buf, offset, size, (err) => (err ? rej(err) : res())));
}

/** The repository root (holds bin/parley.js), whether this runs from dist/bench or bench. */
function repoRoot(): string {
  for (const candidate of [resolve(__dirname, '../..'), resolve(__dirname, '..')]) {
    if (existsSync(join(candidate, 'bin/parley.js')) && existsSync(join(candidate, 'package.json'))) return candidate;
  }
  throw new Error(`store-cli bench: bin/parley.js not found above ${__dirname}`);
}

function benchBytes(): number {
  const raw = process.env.BENCH_CLI_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_BYTES;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`BENCH_CLI_BYTES must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Environment for a child `parley`: everything but PARLEY_* and DATABASE_URL from ours (the
 * config loader rejects unknown PARLEY_ variables, and the embedded database must be used).
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PARLEY_') && k !== 'DATABASE_URL' && k !== 'SPIFFE_ENDPOINT_SOCKET') env[k] = v;
  }
  return { ...env, ...extra };
}

/** Keeps the last `max` characters of a stream (for error messages). */
function tail(stream: NodeJS.ReadableStream | null, max = 8192): () => string {
  let text = '';
  stream?.on('data', (c: Buffer) => {
    text += c.toString();
    if (text.length > 2 * max) text = text.slice(-max);
  });
  return () => text.slice(-max);
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

/** Runs `parley <args>` to the end; throws with its stderr on a non-zero exit. */
async function cli(root: string, cwd: string, args: string[]): Promise<{ stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin/parley.js'), ...args], { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  const stderr = tail(child.stderr);
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
  const closed = new Promise<Exit>((res) => child.once('close', (code, signal) => res({ code, signal })));
  const exit = await closed;
  clearTimeout(timer);
  const ms = performance.now() - started;
  if (exit.code !== 0) throw new Error(`parley ${args[0]} ${args[1] ?? ''} failed (${exit.code ?? exit.signal}): ${stderr().trim()}`);
  return { stdout, stderr: stderr(), ms };
}

/** VmRSS of `pid` in bytes, or undefined when the process is gone. */
function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the RSS of `pid` every SAMPLE_MS until stopped; returns the peak (bytes). */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssBytes(pid) ?? 0;
  const timer = setInterval(() => {
    const v = rssBytes(pid);
    if (v !== undefined && v > peak) peak = v;
  }, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const v = rssBytes(pid);
      if (v !== undefined && v > peak) peak = v;
      return peak;
    },
  };
}

/** Writes `size` random bytes to `path` without holding them in memory; returns the sha256 (hex). */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const piece = Buffer.alloc(4 * MiB);
  try {
    for (let left = size; left > 0; ) {
      const n = Math.min(left, piece.length);
      await randomFillAsync(piece, 0, n);
      const view = piece.subarray(0, n);
      hash.update(view);
      // A copy per write: `piece` is refilled before the stream may have flushed it.
      if (!out.write(Buffer.from(view))) await once(out, 'drain');
      left -= n;
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return hash.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: 4 * MiB }) as AsyncIterable<Buffer>) hash.update(piece);
  return hash.digest('hex');
}

async function waitForReady(opsUrl: string, gateway: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gateway.exitCode !== null || gateway.signalCode !== null) {
      throw new Error(`parley serve exited (${gateway.exitCode ?? gateway.signalCode}) before it was ready:\n${output()}`);
    }
    try {
      const res = await fetch(`${opsUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`parley serve not ready within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

/** SIGINT (the gateway stops its embedded PostgreSQL), SIGKILL if it has not exited after 60 s. */
async function stopGateway(gateway: ChildProcess): Promise<void> {
  if (gateway.exitCode !== null || gateway.signalCode !== null) return;
  const exited = exitOf(gateway);
  gateway.kill('SIGINT');
  const timer = setTimeout(() => gateway.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}

export async function run(): Promise<BenchResult[]> {
  const bytes = benchBytes();
  const mib = bytes / MiB;
  const label = Number.isInteger(mib) ? `${mib}mib` : `${bytes}b`;
  const root = repoRoot();
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('store-cli bench: dist/ is not built (npm run build)');

  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-cli-'));
  // The embedded PostgreSQL runs as the postgres user when we are root: keep the path traversable.
  chmodSync(dir, 0o755);
  let gateway: ChildProcess | undefined;
  try {
    const [grpcPort, opsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    gateway = spawn(process.execPath, [join(root, 'bin/parley.js'), 'serve'], {
      cwd: dir,
      env: childEnv({
        PARLEY_LOG_FORMAT: 'json',
        PARLEY_GRPC_HOST: '127.0.0.1',
        PARLEY_GRPC_PORT: String(grpcPort),
        PARLEY_OPS_PORT: String(opsPort),
        PARLEY_ADMIN_PORT: String(adminPort),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const outTail = tail(gateway.stdout);
    const errTail = tail(gateway.stderr);
    const gatewayOutput = () => `${outTail()}\n${errTail()}`;
    await waitForReady(`http://127.0.0.1:${opsPort}`, gateway, gatewayOutput);
    const pid = gateway.pid;
    if (pid === undefined) throw new Error('parley serve has no pid');

    await cli(root, dir, ['dev', 'issue', '--id', TRAINER, '--out', join(dir, 'client')]);
    const identity = ['--server', `127.0.0.1:${grpcPort}`, '--svid', join(dir, 'client/svid.pem'), '--key', join(dir, 'client/svid.key'), '--bundle', join(dir, 'client/bundle.pem')];

    const source = join(dir, 'source.bin');
    const digest = await writeRandomFile(source, bytes);
    const expectedCid = ContentId.parseDigest(`sha256:${digest}`).toString();

    // Baseline: a plain local copy of the same file with node streams.
    const copy = join(dir, 'copy.bin');
    const copyStart = performance.now();
    await pipeline(createReadStream(source, { highWaterMark: MiB }), createWriteStream(copy));
    const copyMs = performance.now() - copyStart;
    rmSync(copy, { force: true });
    const copyRate = mib / (copyMs / 1000);

    const idleRss = rssBytes(pid) ?? 0;

    const pushRss = sampleRss(pid);
    let pushPeak = 0;
    let push: Awaited<ReturnType<typeof cli>>;
    try {
      push = await cli(root, dir, ['push', source, '-n', 'bench/cli', '-q', ...identity]);
    } finally {
      pushPeak = pushRss.stop();
    }
    const cid = push.stdout.trim();

    const pulled = join(dir, 'pulled.bin');
    const pullRss = sampleRss(pid);
    let pullPeak = 0;
    let pull: Awaited<ReturnType<typeof cli>>;
    try {
      pull = await cli(root, dir, ['pull', cid, '-o', pulled, '-q', ...identity]);
    } finally {
      pullPeak = pullRss.stop();
    }
    const match = cid === expectedCid && (await sha256File(pulled)) === digest;

    const pushRate = mib / (push.ms / 1000);
    const pullRate = mib / (pull.ms / 1000);
    const baseline = `node_stream_copy_${label} (${copyRate.toFixed(0)} MiB/s)`;
    return [
      { name: `store_cli_push_${label}`, value: pushRate, unit: 'MiB/s', baseline, ratio: pushRate / copyRate },
      { name: `store_cli_pull_${label}`, value: pullRate, unit: 'MiB/s', baseline, ratio: pullRate / copyRate },
      { name: `node_stream_copy_${label}`, value: copyRate, unit: 'MiB/s' },
      { name: 'store_cli_gateway_rss_idle_mib', value: idleRss / MiB, unit: 'MiB' },
      { name: 'store_cli_gateway_rss_peak_push_mib', value: pushPeak / MiB, unit: 'MiB' },
      { name: 'store_cli_gateway_rss_peak_pull_mib', value: pullPeak / MiB, unit: 'MiB' },
      { name: 'store_cli_roundtrip_digest_match', value: match ? 1 : 0, unit: '1/0' },
    ];
  } finally {
    if (gateway) await stopGateway(gateway);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().then(
    (results) => {
      for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`store-cli bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
