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
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ContentId } from '../src/store/domain/content-id';
import type { BenchResult } from './bench-result';
import { startGatewayProcess } from './gateway-process';
import { sha256File, writeRandomFile } from '../test/support/random-file';
import { rssBytes, sampleRss } from './proc-stats';

export type { BenchResult };

const MiB = 1024 * 1024;
const DEFAULT_BYTES = 1024 * MiB;
const TRAINER = 'spiffe://parley.local/ns/bench/sa/cli';

function benchBytes(): number {
  const raw = process.env.BENCH_CLI_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_BYTES;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`BENCH_CLI_BYTES must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export async function run(): Promise<BenchResult[]> {
  const bytes = benchBytes();
  const mib = bytes / MiB;
  const label = Number.isInteger(mib) ? `${mib}mib` : `${bytes}b`;
  const gateway = await startGatewayProcess('parley-bench-cli');
  try {
    const { dir, pid, cli } = gateway;
    await cli(['dev', 'issue', '--id', TRAINER, '--out', join(dir, 'client')]);
    const identity = ['--server', `127.0.0.1:${gateway.grpcPort}`, '--svid', join(dir, 'client/svid.pem'), '--key', join(dir, 'client/svid.key'), '--bundle', join(dir, 'client/bundle.pem')];

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
      push = await cli(['push', source, '-n', 'bench/cli', '-q', ...identity]);
    } finally {
      pushPeak = pushRss.stop();
    }
    const cid = push.stdout.trim();

    const pulled = join(dir, 'pulled.bin');
    const pullRss = sampleRss(pid);
    let pullPeak = 0;
    let pull: Awaited<ReturnType<typeof cli>>;
    try {
      pull = await cli(['pull', cid, '-o', pulled, '-q', ...identity]);
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
    await gateway.stop();
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
