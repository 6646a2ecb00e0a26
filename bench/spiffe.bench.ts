/**
 * SPIFFE core benchmarks with an in-run baseline.
 *
 * - spiffe_id_parse: SpiffeId.parse of a typical ID.
 * - verify_x509_svid_p256_1int (warm): verifyX509Svid of [leaf, intermediate] (DER buffers,
 *   as a TLS peer chain arrives) against a one-root bundle, certificate info cached.
 *   baseline = bare_x509_verify_x2: the two node:crypto X509Certificate.verify calls the
 *   verification must make anyway (leaf by intermediate, intermediate by root);
 *   ratio = time per verification / time per baseline (1.0 = no overhead).
 * - verify_x509_svid_p256_1int_cold: the same with the certificate-info cache cleared before
 *   each call (a never-seen leaf and intermediate: OpenSSL parse + extension parse).
 *
 * Run on its own: compile with SWC and `node bench/spiffe.bench.js`, or call `run()`.
 */
import { X509Certificate } from 'node:crypto';
import { TestCa } from '../test/support/test-ca';
import { BundleSet, SpiffeId, TrustDomain, verifyX509Svid, X509Bundle } from '../src/spiffe';
import { clearCertInfoCache } from '../src/spiffe/x509-parse';
import { clearProvenLinks } from '../src/spiffe/verify';

import type { BenchResult } from './bench-result';
export type { BenchResult };

const WARMUP_MS = 300;
const RUN_MS = 2000;

/** Calls fn repeatedly for about `ms` milliseconds; returns operations per second. */
function measure(fn: () => void, ms = RUN_MS): number {
  const warmEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmEnd) fn();
  let ops = 0;
  let batch = 16;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    now = performance.now();
    if (now - start < ms / 20) batch *= 2;
  }
  return (ops * 1000) / (now - start);
}

export async function run(): Promise<BenchResult[]> {
  const now = new Date();
  const root = await TestCa.create({ trustDomain: 'bench.test', keyAlg: 'P-256', now });
  const intermediate = await root.intermediate({ keyAlg: 'P-256' });
  const svid = await intermediate.issueSvid({ id: 'spiffe://bench.test/ns/ml/sa/trainer', keyAlg: 'P-256' });
  const bundles = new BundleSet([X509Bundle.fromAuthorities(TrustDomain.parse('bench.test'), [root.certificate])]);
  const chain = svid.chain;
  const opts = { role: 'client' as const, now };

  // Sanity: the benchmark verifies what it claims to.
  if (verifyX509Svid(chain, bundles, opts).chain.length !== 3) throw new Error('bench: unexpected verification result');

  const idText = 'spiffe://acme.example/ns/ml/sa/trainer';
  let sink = 0;
  const parseOps = measure(() => {
    sink += SpiffeId.parse(idText).path.length;
  });

  const leaf = new X509Certificate(chain[0]);
  const inter = new X509Certificate(chain[1]);
  const interKey = inter.publicKey;
  const rootKey = root.certificate.publicKey;
  const baselineOps = measure(() => {
    if (!leaf.verify(interKey) || !inter.verify(rootKey)) throw new Error('bench: signature check failed');
  });

  const warmOps = measure(() => {
    sink += verifyX509Svid(chain, bundles, opts).chain.length;
  });

  const coldOps = measure(() => {
    clearCertInfoCache();
    clearProvenLinks();
    sink += verifyX509Svid(chain, bundles, opts).chain.length;
  }, RUN_MS / 2);

  if (sink === 0) throw new Error('bench: nothing measured');
  return [
    { name: 'spiffe_id_parse', value: Math.round(parseOps), unit: 'ops/s' },
    { name: 'bare_x509_verify_x2', value: Math.round(baselineOps), unit: 'ops/s' },
    {
      name: 'verify_x509_svid_p256_1int',
      value: Math.round(warmOps),
      unit: 'ops/s',
      baseline: 'bare_x509_verify_x2',
      ratio: round(baselineOps / warmOps),
    },
    {
      name: 'verify_x509_svid_p256_1int_cold',
      value: Math.round(coldOps),
      unit: 'ops/s',
      baseline: 'bare_x509_verify_x2',
      ratio: round(baselineOps / coldOps),
    },
  ];
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

if (require.main === module) {
  run().then(
    (results) => {
      for (const r of results) {
        const extra = r.baseline === undefined ? '' : `  (${r.ratio}x the time of ${r.baseline})`;
        console.log(`${r.name.padEnd(34)} ${String(r.value).padStart(10)} ${r.unit}${extra}`);
      }
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
