/**
 * The gateway's memory through large Pulls: a record of BENCH_LARGE_PULL_BYTES pushed through
 * the gateway, pulled once and then by four clients at once (each a StoreLoad worker of its
 * own, so four channels), VmRSS sampled every 100 ms and the GC share of the gateway's CPU
 * taken meanwhile. The record is deleted afterwards.
 */
import type { BenchResult } from './bench-result';
import { withGcShare } from './gateway-gc';
import type { GatewayProcess } from './gateway-process';
import { sampleRss } from './proc-stats';
import { StoreLoad, type StoreLoadCredentials } from './store-load';

const MiB = 1024 * 1024;
const CONCURRENT_PULLS = 4;

export async function largePullPart(load: StoreLoad, gateway: GatewayProcess, bytes: number, credentials: StoreLoadCredentials): Promise<BenchResult[]> {
  const target = `127.0.0.1:${gateway.grpcPort}`;
  const n = bytes % MiB === 0 ? `${bytes / MiB}mib` : `${bytes}b`;
  const { cid } = await load.push(target, 7_777, bytes);
  const clients = Array.from({ length: CONCURRENT_PULLS }, () => new StoreLoad(credentials));
  try {
    const pullAll = async (loads: StoreLoad[]) => {
      const results = await Promise.all(loads.map((l) => l.pull(target, cid)));
      for (const r of results) if (r.bytes !== bytes) throw new Error(`bench: pulled ${r.bytes} of ${bytes} bytes`);
      return results;
    };
    const measure = async (loads: StoreLoad[]) => {
      const rss = sampleRss(gateway.pid);
      const started = Date.now();
      let peak = 0;
      try {
        const { gcPercent } = await withGcShare(gateway, () => pullAll(loads));
        return { gcPercent, mibPerS: (loads.length * bytes) / MiB / ((Date.now() - started) / 1000), peak: (peak = rss.stop()) / MiB };
      } finally {
        if (peak === 0) rss.stop();
      }
    };
    const one = await measure([load]);
    const four = await measure(clients);
    return [
      { name: `store_gateway_rss_peak_pull_${n}_one_mib`, value: one.peak, unit: `MiB (VmRSS peak through one Pull; ${one.mibPerS.toFixed(0)} MiB/s; target < 180)` },
      { name: `store_gateway_gc_percent_pull_${n}_one`, value: one.gcPercent, unit: '% of the gateway CPU in GC pauses (target < 10)' },
      { name: `store_gateway_rss_peak_pull_${n}_four_mib`, value: four.peak, unit: `MiB (VmRSS peak through ${CONCURRENT_PULLS} Pulls at once; ${four.mibPerS.toFixed(0)} MiB/s in all; target < 180)` },
      { name: `store_gateway_gc_percent_pull_${n}_four`, value: four.gcPercent, unit: '% of the gateway CPU in GC pauses (target < 10)' },
    ];
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await load.delete(target, cid);
  }
}
