/**
 * How much of the gateway's CPU goes to V8's garbage collector while it does some work:
 * the GC pause time it reports (prom-client's default `parley_nodejs_gc_duration_seconds`,
 * every kind, from its ops /metrics) over the CPU time the process used (/proc, all
 * threads), both taken before and after.
 */
import { cpuMs } from './proc-stats';

/** Seconds of GC pauses the gateway reported so far. */
export async function gcSeconds(opsPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
  if (res.status !== 200) throw new Error(`bench: GET /metrics answered ${res.status}`);
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('parley_nodejs_gc_duration_seconds_sum')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Runs `work`; returns its result and the gateway's GC share of its CPU meanwhile (percent). */
export async function withGcShare<T>(gateway: { pid: number; opsPort: number }, work: () => Promise<T>): Promise<{ result: T; gcPercent: number }> {
  const gcBefore = await gcSeconds(gateway.opsPort);
  const cpuBefore = cpuMs(gateway.pid);
  const result = await work();
  const cpu = cpuMs(gateway.pid) - cpuBefore;
  const gc = (await gcSeconds(gateway.opsPort)) - gcBefore;
  return { result, gcPercent: cpu > 0 ? (100 * gc * 1000) / cpu : 0 };
}
